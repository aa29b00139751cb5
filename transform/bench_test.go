package transform

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sys/unix"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/wordpiece"
)

// benchDocs is Moby-Dick and the State of the Union speeches as documents
// with roughly one sentence per line. A regexp cut after . ! ? stands in
// for ingest's Punkt splitter, which is too slow to run here on 12 MB; the
// benchmark measures throughput, and typical sentence lengths are what
// matter for it.
var sentenceEnd = regexp.MustCompile(`([.!?]["')\]]?)\s+`)

// benchReps is how many times the 12 MB corpus (2.4M tokens) goes through
// both benchmarks. Once is ~0.25 s of CPU end to end: start-up and where
// the one or two GC cycles fall swung the figure by 40%. Each repetition
// has its own document ids and its own copy of the text, so the stage
// sees distinct documents and the tokenizer-alone run reads as much
// distinct memory as the stage does.
const benchReps = 4

// benchDocs loads the corpus afresh: a copy cached in the process would
// stay on the heap while BenchmarkEndToEnd runs the stage, and a stage
// process holds no corpus.
func benchDocs(b testing.TB) []schemas.Document {
	var once []schemas.Document
	for _, dir := range []string{"moby-dick", "sotu"} {
		files, _ := filepath.Glob(filepath.Join("..", ".cache", "corpora", dir, "*.txt"))
		for _, f := range files {
			t, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			text := sentenceEnd.ReplaceAllString(string(t), "$1\n")
			once = append(once, schemas.Document{ID: dir + "/" + filepath.Base(f), Source: "books", Text: text})
		}
	}
	if len(once) < 300 {
		b.Fatalf("found %d corpus files (run scripts/setup.sh)", len(once))
	}
	var docs []schemas.Document
	for r := range benchReps {
		for _, d := range once {
			d.ID = fmt.Sprintf("%s#%d", d.ID, r)
			d.Text = strings.Clone(d.Text)
			docs = append(docs, d)
		}
	}
	return docs
}

// timedProfile writes a CPU profile of the timed part of
// BenchmarkEndToEnd only; go test's -cpuprofile would be dominated by
// setting up the corpus and the topic.
var timedProfile = flag.String("transform.timedprofile", "", "write CPU profiles of BenchmarkEndToEnd's timed parts (the stage runs) to this file, the second run's to FILE.2 and so on")

// timedMemProfile: heap profiles from just before and just after the
// timed run, to read its allocations alone with
// go tool pprof -sample_index=alloc_space -base FILE.before FILE.
// timedTrace: an execution trace of the timed run, to see when the stage
// waits and for what (go tool trace).
var timedTrace = flag.String("transform.timedtrace", "", "write an execution trace of BenchmarkEndToEnd's timed run to this file")

var timedMemProfile = flag.String("transform.timedmemprofile", "", "write heap profiles from before (FILE.before) and after (FILE) BenchmarkEndToEnd's timed run")

// timedWindows marks the timed runs for a sampling profiler outside the
// process (scripts/stageprofile.sh): perf's samples of the stage alone,
// kernel work included, where a profile of the whole benchmark is mostly
// setting up the corpus and the tokenizer-alone runs.
var timedWindows = flag.Bool("transform.timedwindows", false, "print the CLOCK_MONOTONIC bounds of BenchmarkEndToEnd's timed runs to stderr, as WINDOW start|end SECONDS lines (for perf record -k CLOCK_MONOTONIC)")

// window prints a WINDOW line (timedWindows).
func window(edge string) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		fmt.Fprintf(os.Stderr, "WINDOW %s %d.%09d\n", edge, ts.Sec, ts.Nsec)
	}
}

func writeHeapProfile(b *testing.B, name string) {
	runtime.GC() // the profile is as of the last collection
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

// procIO reads the process's I/O counters (Linux's /proc/self/io; nil
// elsewhere): syscr and syscw count its read and write system calls, each
// of which costs a microsecond or more on a virtual machine.
func procIO() map[string]int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return nil
	}
	m := make(map[string]int64)
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			m[k] = n
		}
	}
	return m
}

// profiledRuns counts the timed runs profiled so far, to name their files.
var profiledRuns int

func cpuTime() time.Duration {
	ru := rusage()
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tokenizeAlone runs WordPiece over docs' sentences on one goroutine and
// returns the tokens and the CPU time it took.
func tokenizeAlone(tok *wordpiece.Tokenizer, docs []schemas.Document) (int64, time.Duration) {
	var dst []int32
	var tokens int64
	cpu0 := cpuTime()
	for _, d := range docs {
		for line := range d.Sentences() {
			dst = tok.Encode(dst[:0], line)
			tokens += int64(len(dst))
		}
	}
	return tokens, cpuTime() - cpu0
}

// BenchmarkTokenizerAlone: WordPiece on the benchmark text, one goroutine.
// Reports tokens per CPU-second.
func BenchmarkTokenizerAlone(b *testing.B) {
	tok := loadTok(b)
	docs := benchDocs(b)
	b.ResetTimer()
	for range b.N {
		tokens, cpu := tokenizeAlone(tok, docs)
		b.ReportMetric(float64(tokens)/cpu.Seconds(), "tokens/cpu-s")
		b.ReportMetric(float64(tokens), "tokens")
	}
}

// quiet keeps log lines out of the benchmark output that scripts parse.
var quiet = slog.New(slog.DiscardHandler)

const brokerHelperEnv = "ELECTRA_BENCH_BROKER"

// TestHelperBroker is not a test: BenchmarkEndToEnd runs the test binary
// with it selected to host the embedded broker in its own process, as a
// Kafka cluster would be, so the stage's CPU time is measured alone. It
// also loads the corpus into the documents topic named by the environment
// variable, so that the benchmark process holds no corpus: a worker's heap
// is its stage alone, and a 48 MB corpus kept alive would space out the
// garbage collections the stage pays for.
func TestHelperBroker(t *testing.T) {
	topic := os.Getenv(brokerHelperEnv)
	if topic == "" {
		t.Skip("helper process for BenchmarkEndToEnd")
	}
	ctx := context.Background()
	e, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	bc := broker.Config{Brokers: e.Addrs()}
	docs := benchDocs(t)
	// The warm-up topic gets two repetitions under ids of their own.
	warm := slices.Clone(docs[:2*len(docs)/benchReps])
	for i := range warm {
		warm[i].ID += "-warm-up"
	}
	for _, tc := range []struct {
		topic string
		docs  []schemas.Document
	}{{topic + warmUpSuffix, warm}, {topic, docs}} {
		if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: tc.topic, Partitions: 2}}); err != nil {
			t.Fatal(err)
		}
		tr, _ := bc.Transport()
		w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: tc.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchBytes: broker.MaxMessageBytes, BatchTimeout: time.Millisecond, Transport: tr}
		var msgs []kafka.Message
		for _, d := range tc.docs {
			v, _ := json.Marshal(d)
			msgs = append(msgs, kafka.Message{Key: []byte(d.ID), Value: v})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	fmt.Println("ADDR", strings.Join(e.Addrs(), ","), len(warm), len(docs))
	select {}
}

const warmUpSuffix = ".warm-up"

// startBrokerProcess starts the broker helper with topic and its warm-up
// topic filled and returns its address and the number of documents in
// each.
func startBrokerProcess(b *testing.B, topic string) (broker.Config, int, int, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBroker$")
	cmd.Env = append(os.Environ(), brokerHelperEnv+"="+topic)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			var addr string
			var warm, n int
			if _, err := fmt.Sscan(rest, &addr, &warm, &n); err != nil {
				break
			}
			go io.Copy(io.Discard, stdout)
			return broker.Config{Brokers: strings.Split(addr, ",")}, warm, n, func() { cmd.Process.Kill(); cmd.Wait() }
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	b.Fatal("broker helper did not report its address")
	return broker.Config{}, 0, 0, nil
}

// BenchmarkEndToEnd: documents already in a topic of the embedded broker
// (in its own process) -> consumer group member -> tokenize, pack,
// shuffle, Arrow+LZ4 -> examples produced (acks=all) and offsets
// committed. It runs on one core (GOMAXPROCS 1, one tokenizer goroutine)
// and reports tokens per CPU-second of this process and per wall-clock
// second, beside the tokenizer alone on the same text just before.
//
// It measures a worker in its steady state: a first run over two
// repetitions of the corpus (on a topic of its own) grows the heap and
// the stage's free lists to their working size, then the same Stage and
// output, as a new group member, run over the whole corpus under the
// clock. Without the warm-up a quarter of the stage's CPU time was the
// kernel faulting in the heap's first pages, which a worker pays once;
// page-faults and sys-ms say how much of that is left. The clock starts
// before the member joins the group: joining and the first fetches are
// part of what a worker spends.
func BenchmarkEndToEnd(b *testing.B) {
	tok := loadTok(b)
	for i := range b.N {
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			topic := fmt.Sprint("bench.docs.", i)
			bc, nwarm, ndocs, stopBroker := startBrokerProcess(b, topic)
			defer stopBroker()

			// One core, like the tokenizer-alone figure: per-core
			// throughput without two threads competing for one core's
			// caches and hyperthread.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

			// The tokenizer alone on the same text, just before and just
			// after: on a shared machine the load changes from one second
			// to the next, and a ratio of figures taken moments apart is
			// steadier than one of figures from separate benchmarks. How
			// far the two disagree says how much the machine's speed moved
			// during the run (alone-drift). The corpus is dropped before
			// the stage runs.
			alone := func() (int64, float64) {
				docs := benchDocs(b)
				runtime.GC()
				tokens, cpu := tokenizeAlone(tok, docs)
				return tokens, float64(tokens) / cpu.Seconds()
			}
			aloneTokens, before := alone()
			// The corpus is garbage now: hand its memory back to the
			// kernel at once rather than have the runtime's scavenger do
			// it bit by bit, its CPU and page faults counted as the
			// stage's, during the runs below. A worker holds no corpus.
			debug.FreeOSMemory()

			// One Stage for both runs, as one worker process has: its
			// free lists of token and example buffers are warm too.
			st, err := New(Config{MaxSeqLength: 128, Workers: 1, FlushIdle: 200 * time.Millisecond, Logger: quiet}, tok)
			if err != nil {
				b.Fatal(err)
			}
			// And one output: a worker produces through the same writers
			// for as long as it runs.
			out, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: topic + ".examples", DLQTopic: topic + ".dlq", Partitions: 2, Meta: st.Meta()})
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			runStage(ctx, b, bc, st, out, topic+warmUpSuffix, nwarm, false)
			b.ResetTimer()
			tot, cpu, wall := runStage(ctx, b, bc, st, out, topic, ndocs, true)
			b.StopTimer()
			_, after := alone()
			if tot.Pack.TokensIn != aloneTokens {
				b.Fatalf("the stage tokenized %d tokens, the tokenizer alone %d", tot.Pack.TokensIn, aloneTokens)
			}
			mean := (before + after) / 2
			e2e := float64(tot.Pack.TokensIn) / cpu.Seconds()
			b.ReportMetric(e2e, "tokens/cpu-s")
			b.ReportMetric(mean, "alone-tokens/cpu-s")
			b.ReportMetric(math.Abs(before-after)/mean, "alone-drift")
			b.ReportMetric(e2e/mean, "ratio")
			b.ReportMetric(float64(tot.Pack.TokensIn)/wall.Seconds(), "tokens/s")
			b.ReportMetric(float64(tot.Pack.TokensIn), "tokens")
			b.ReportMetric(float64(tot.Batches), "batches")
			b.Logf("%d documents, %d examples in %d batches, %d tokens in, %d truncated by the packing rules", tot.Records, tot.Pack.Examples, tot.Batches, tot.Pack.TokensIn, tot.Pack.TokensTruncate)
		}()
	}
}

// recordClock notes the process's CPU time when the stage takes its first
// record and its last (the last-th). The embedded input keeps its other
// methods (Active, RecordCut, Recycle), which the stage looks for.
type recordClock struct {
	*KafkaInput
	last, n       int
	first, atLast time.Duration
}

func (f *recordClock) Next(ctx context.Context) (Record, error) {
	r, err := f.KafkaInput.Next(ctx)
	if f.n++; f.n == 1 {
		f.first = cpuTime()
	}
	if f.n == f.last {
		f.atLast = cpuTime()
	}
	return r, err
}

// runStage runs st into out as a member of its own group over topic
// until all ndocs documents are acknowledged, and returns the totals of
// this run and the CPU and wall-clock time from joining the group to the
// last acknowledgement. The timed run is the one -transform.timedprofile
// profiles.
func runStage(ctx context.Context, b *testing.B, bc broker.Config, st *Stage, out *KafkaOutput, topic string, ndocs int, timed bool) (Totals, time.Duration, time.Duration) {
	before := st.Totals()
	if timed && *timedProfile != "" {
		name := *timedProfile
		if profiledRuns++; profiledRuns > 1 {
			name += fmt.Sprint(".", profiledRuns)
		}
		f, err := os.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if timed && *timedTrace != "" {
		f, err := os.Create(*timedTrace)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			b.Fatal(err)
		}
		defer trace.Stop()
	}
	if timed && *timedMemProfile != "" {
		writeHeapProfile(b, *timedMemProfile+".before")
		defer writeHeapProfile(b, *timedMemProfile)
	}
	if timed && *timedWindows {
		window("start")
		defer window("end")
	}
	wall0, cpu0 := time.Now(), cpuTime()
	ru0, io0 := rusage(), procIO()
	kin, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: "bench-" + topic, SessionTimeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer kin.Close()
	in := &recordClock{KafkaInput: kin, last: ndocs}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	waitCtx, early := context.WithCancel(ctx)
	go func() {
		err := st.Run(runCtx, in, out)
		early()
		done <- err
	}()
	// Woken per acknowledged chunk: polling on a timer cost this process
	// tens of microseconds of CPU per wake-up, counted as the stage's.
	if _, err := st.WaitTotals(waitCtx, func(t Totals) bool { return t.Records-before.Records >= int64(ndocs) }); err != nil {
		stop()
		b.Fatalf("stage ended early: %v", <-done)
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	early()
	if timed {
		ru := rusage()
		b.ReportMetric(float64(ru.Stime.Nano()-ru0.Stime.Nano())/1e6, "sys-ms")
		b.ReportMetric(float64(ru.Minflt-ru0.Minflt), "page-faults")
		b.ReportMetric(float64(ru.Nvcsw-ru0.Nvcsw), "vol-switches")
		b.ReportMetric(float64(ru.Nivcsw-ru0.Nivcsw), "invol-switches")
		// CPU spent before the first record came: joining the group, its
		// connections, the first fetch's round trip. Once per worker in
		// production, it is counted in the timed run all the same.
		b.ReportMetric(float64((in.first-cpu0).Microseconds())/1000, "join-cpu-ms")
		// CPU after the stage took the last record: the queued records,
		// then the sink's backlog (up to five chunks to encode and
		// produce: one being written, two queued, the two partitions'
		// open ones, sealed on idle). Not idle time: a FlushIdle of 20 ms
		// instead of 200 left it unchanged.
		b.ReportMetric(float64((cpu0+cpu-in.atLast).Microseconds())/1000, "tail-cpu-ms")
		if io := procIO(); io != nil && io0 != nil {
			b.ReportMetric(float64(io["syscr"]-io0["syscr"]), "read-calls")
			b.ReportMetric(float64(io["syscw"]-io0["syscw"]), "write-calls")
		}
	}
	stop()
	<-done
	tot := st.Totals()
	tot.Records -= before.Records
	tot.Dead -= before.Dead
	tot.Batches -= before.Batches
	tot.Commits -= before.Commits
	tot.Pack.Sub(before.Pack)
	return tot, cpu, wall
}

// BenchmarkKafkaInputAlone: what BenchmarkEndToEnd's input costs by
// itself. A KafkaInput joins the group and reads the same topic of
// documents (after a warm-up over its warm-up topic), recycling each
// record at once: CPU per input token, comparable with the stage's and
// WordPiece's, and per byte of document values, comparable with a bare
// socket read.
func BenchmarkKafkaInputAlone(b *testing.B) {
	tok := loadTok(b)
	docs := benchDocs(b)
	var tokens int64
	for _, d := range docs {
		for line := range d.Sentences() {
			tokens += int64(len(tok.Encode(nil, line)))
		}
	}
	docs = nil
	for i := range b.N {
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			topic := fmt.Sprint("bench.input.", i)
			bc, nwarm, ndocs, stopBroker := startBrokerProcess(b, topic)
			defer stopBroker()
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			read := func(topic string, n int) (time.Duration, int64) {
				cpu0 := cpuTime()
				in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: "bench-" + topic, SessionTimeout: 2 * time.Second, Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				defer in.Close()
				var bytes int64
				for range n {
					r, err := in.Next(ctx)
					if err != nil {
						b.Fatal(err)
					}
					bytes += int64(len(r.Value))
					in.Recycle(r)
				}
				return cpuTime() - cpu0, bytes
			}
			read(topic+warmUpSuffix, nwarm)
			b.ResetTimer()
			cpu, bytes := read(topic, ndocs)
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(tokens), "ns/token")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(bytes), "ns/byte")
		}()
	}
}
