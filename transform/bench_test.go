package transform

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// benchDocs is Moby-Dick and the State of the Union speeches as documents
// with roughly one sentence per line. A regexp cut after . ! ? stands in
// for ingest's Punkt splitter, which is too slow to run here on 12 MB; the
// benchmark measures throughput, and typical sentence lengths are what
// matter for it.
var sentenceEnd = regexp.MustCompile(`([.!?]["')\]]?)\s+`)

func benchDocs(b *testing.B) ([]schemas.Document, int64) {
	var docs []schemas.Document
	var bytes int64
	for _, dir := range []string{"moby-dick", "sotu"} {
		files, _ := filepath.Glob(filepath.Join("..", ".cache", "corpora", dir, "*.txt"))
		for _, f := range files {
			t, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(t))
			text := sentenceEnd.ReplaceAllString(string(t), "$1\n")
			docs = append(docs, schemas.Document{ID: dir + "/" + filepath.Base(f), Source: "books", Text: text})
		}
	}
	if len(docs) < 300 {
		b.Fatalf("found %d corpus files (run scripts/setup.sh)", len(docs))
	}
	return docs, bytes
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTokenizerAlone: WordPiece on the benchmark text, one goroutine.
// Reports tokens per CPU-second.
func BenchmarkTokenizerAlone(b *testing.B) {
	tok := loadTok(b)
	docs, _ := benchDocs(b)
	var dst []int32
	b.ResetTimer()
	for range b.N {
		var tokens int64
		cpu0 := cpuTime()
		for _, d := range docs {
			for line := range d.Sentences() {
				dst = tok.Encode(dst[:0], line)
				tokens += int64(len(dst))
			}
		}
		cpu := cpuTime() - cpu0
		b.ReportMetric(float64(tokens)/cpu.Seconds(), "tokens/cpu-s")
		b.ReportMetric(float64(tokens), "tokens")
	}
}

// quiet keeps log lines out of the benchmark output that scripts parse.
var quiet = slog.New(slog.DiscardHandler)

const brokerHelperEnv = "ELECTRA_BENCH_BROKER"

// TestHelperBroker is not a test: BenchmarkEndToEnd runs the test binary
// with it selected to host the embedded broker in its own process, as a
// Kafka cluster would be, so the stage's CPU time is measured alone.
func TestHelperBroker(t *testing.T) {
	if os.Getenv(brokerHelperEnv) == "" {
		t.Skip("helper process for BenchmarkEndToEnd")
	}
	e, err := broker.StartEmbedded(context.Background(), broker.EmbeddedConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ADDR", strings.Join(e.Addrs(), ","))
	select {}
}

func startBrokerProcess(b *testing.B) (broker.Config, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBroker$")
	cmd.Env = append(os.Environ(), brokerHelperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			go io.Copy(io.Discard, stdout)
			return broker.Config{Brokers: strings.Split(addr, ",")}, func() { cmd.Process.Kill(); cmd.Wait() }
		}
	}
	cmd.Process.Kill()
	b.Fatal("broker helper did not report its address")
	return broker.Config{}, nil
}

// BenchmarkEndToEnd: documents already in a topic of the embedded broker
// (in its own process) -> consumer group member -> tokenize, pack,
// shuffle, Arrow+LZ4 -> examples produced (acks=all) and offsets
// committed. It runs on one core (GOMAXPROCS 1, one tokenizer goroutine)
// and reports tokens per CPU-second of this process and per wall-clock
// second.
func BenchmarkEndToEnd(b *testing.B) {
	tok := loadTok(b)
	docs, _ := benchDocs(b)
	for i := range b.N {
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			bc, stopBroker := startBrokerProcess(b)
			defer stopBroker()
			topic := fmt.Sprint("bench.docs.", i)
			if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: topic, Partitions: 2}}); err != nil {
				b.Fatal(err)
			}
			tr, _ := bc.Transport()
			w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchBytes: broker.MaxMessageBytes, BatchTimeout: time.Millisecond, Transport: tr}
			var msgs []kafka.Message
			for _, d := range docs {
				v, _ := json.Marshal(d)
				msgs = append(msgs, kafka.Message{Key: []byte(d.ID), Value: v})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			w.Close()

			// One core, like the tokenizer-alone figure: per-core
			// throughput without two threads competing for one core's
			// caches and hyperthread.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			st, err := New(Config{MaxSeqLength: 128, Workers: 1, FlushIdle: 200 * time.Millisecond, Logger: quiet}, tok)
			if err != nil {
				b.Fatal(err)
			}
			in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: "bench", SessionTimeout: 2 * time.Second, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			out, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: topic + ".examples", DLQTopic: topic + ".dlq", Partitions: 2, Meta: st.Meta()})
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			b.ResetTimer()
			wall0, cpu0 := time.Now(), cpuTime()
			go func() { done <- st.Run(runCtx, in, out) }()
			for st.Totals().Records < int64(len(docs)) {
				select {
				case err := <-done:
					b.Fatalf("stage ended early: %v", err)
				case <-time.After(5 * time.Millisecond):
				}
			}
			cpu, wall := cpuTime()-cpu0, time.Since(wall0)
			b.StopTimer()
			stop()
			<-done
			tot := st.Totals()
			b.ReportMetric(float64(tot.Pack.TokensIn)/cpu.Seconds(), "tokens/cpu-s")
			b.ReportMetric(float64(tot.Pack.TokensIn)/wall.Seconds(), "tokens/s")
			b.ReportMetric(float64(tot.Pack.TokensIn), "tokens")
			b.ReportMetric(float64(tot.Batches), "batches")
			b.Logf("%d documents, %d examples in %d batches, %d tokens in, %d truncated by the packing rules", tot.Records, tot.Pack.Examples, tot.Batches, tot.Pack.TokensIn, tot.Pack.TokensTruncate)
		}()
	}
}
