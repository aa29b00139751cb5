package stream

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/torch"
)

// Feed benchmarks: how fast the examples topic can feed a trainer that
// does nothing (the stream's ceiling, to set against a real step time),
// beside a bare kafka-go read of the same messages without decoding (the
// reference: what Kafka alone delivers on this machine).

var quiet = slog.New(slog.DiscardHandler)

const (
	benchRows   = 1024
	benchSeqLen = 128
	benchMsgs   = 48
	benchParts  = 2
)

// benchTopic fills a topic with realistic batches: Zipf-distributed ids
// (word frequencies are Zipfian, which matters for LZ4), lengths mostly
// full as the packer makes them.
func benchTopic(b *testing.B) (broker.Config, string, int64) {
	return benchTopicOf(b, benchMsgs, benchSeqLen)
}

func benchTopicOf(b *testing.B, msgs, seqLen int) (broker.Config, string, int64) {
	b.Helper()
	ctx := context.Background()
	topic := "bench-examples"
	cfg := embeddedTopic(b, ctx, topic, benchParts)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 2, 30000)
	tr, err := cfg.Transport()
	if err != nil {
		b.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: topic, Transport: tr, RequiredAcks: kafka.RequireAll, BatchBytes: broker.MaxMessageBytes, BatchTimeout: time.Millisecond, Balancer: &kafka.RoundRobin{}}
	defer w.Close()
	var tokens int64
	for m := range msgs {
		ex := make([]schemas.Example, benchRows)
		for i := range ex {
			n := seqLen
			if rng.IntN(20) == 0 {
				n = 5 + rng.IntN(seqLen-5)
			}
			ids := make([]int32, n)
			for j := range ids {
				ids[j] = int32(zipf.Uint64()) + 500
			}
			ex[i] = schemas.Example{InputIDs: ids, SegmentIDs: make([]int8, n), DocID: fmt.Sprint(i), Source: "bench"}
			tokens += int64(n)
		}
		v, err := schemas.EncodeExamplesMessage(schemas.ExamplesMeta{MaxSeqLength: seqLen, Tokenizer: "bench"}, ex)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.WriteMessages(ctx, kafka.Message{Value: v, Headers: []kafka.Header{{Key: schemas.ExamplesHeaderBatchID, Value: fmt.Appendf(nil, "b%d", m)}}}); err != nil {
			b.Fatal(err)
		}
	}
	return cfg, topic, tokens
}

// BenchmarkFeedNoopTrainer: our Source (fetch, background Arrow decode,
// dedup, re-batching into 32-example training batches), drained by a
// trainer that does nothing.
func BenchmarkFeedNoopTrainer(b *testing.B) {
	cfg, topic, tokens := benchTopic(b)
	ctx := context.Background()
	const bs = 32
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		s, err := Open(ctx, Config{Broker: cfg, Topic: topic, Group: fmt.Sprintf("bench-%d", i), BatchSize: bs, PartitionWait: -1, Logger: quiet}, "")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var got int64
		for range benchMsgs * benchRows / bs {
			bt, _, err := s.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			got += int64(bt.Tokens())
		}
		elapsed += time.Since(start)
		s.Close()
		if got != tokens {
			b.Fatalf("fed %d tokens, want %d", got, tokens)
		}
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(float64(benchMsgs*benchRows)*float64(b.N)/elapsed.Seconds(), "examples/s")
}

// BenchmarkFeedKafkaOnly is the reference: kafka-go partition readers
// fetching the same messages, no decoding.
func BenchmarkFeedKafkaOnly(b *testing.B) {
	cfg, topic, tokens := benchTopic(b)
	ctx := context.Background()
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		done := make(chan int, benchParts)
		for p := range benchParts {
			go func() {
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: broker.MaxMessageBytes, MaxWait: 250 * time.Millisecond})
				defer r.Close()
				n := 0
				for n < benchMsgs/benchParts {
					if _, err := r.FetchMessage(ctx); err != nil {
						b.Error(err)
						break
					}
					n++
				}
				done <- n
			}()
		}
		n := 0
		for range benchParts {
			n += <-done
		}
		elapsed += time.Since(start)
		if n != benchMsgs {
			b.Fatalf("read %d messages, want %d", n, benchMsgs)
		}
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(float64(benchMsgs*benchRows)*float64(b.N)/elapsed.Seconds(), "examples/s")
}

// BenchmarkTrainTinyFromStream: the whole consuming side at steady state,
// the tiny model (the demo's) trained on CPU from the examples topic, with
// all cores for libtorch. Reports examples/s after a warm-up of 10 steps
// and the fraction of the trainer's time spent waiting for data (goal ~0:
// the model, not the feed, is the bottleneck).
func BenchmarkTrainTinyFromStream(b *testing.B) {
	defer torch.LockThread()()
	torch.SetThreads(runtime.GOMAXPROCS(0))
	tiny, err := trainer.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	cfg, topic, _ := benchTopicOf(b, 4, tiny.SeqLen)
	const steps, warm = 70, 10
	b.ResetTimer()
	var rate, starved float64
	for i := 0; i < b.N; i++ {
		var t0, t1 time.Time
		res, err := Train(context.Background(), TrainConfig{
			Stream: Config{Broker: cfg, Topic: topic, Group: fmt.Sprintf("bench-train-%d", i), BatchSize: tiny.BatchSize, PartitionWait: -1, Logger: quiet},
			Run: trainer.RunOptions{Config: tiny, Adam: trainer.DefaultAdam(), Device: gotch.CPU, Seed: 1, Steps: steps, Warmup: 5,
				OutDir: b.TempDir(), CheckpointEvery: 1000, LogEvery: 1, Logger: quiet,
				Progress: func(m trainer.Metrics) {
					switch m.Step {
					case warm:
						t0 = time.Now()
					case steps:
						t1 = time.Now()
					}
				}},
		})
		if err != nil {
			b.Fatal(err)
		}
		rate += float64((steps-warm)*tiny.BatchSize) / t1.Sub(t0).Seconds()
		starved += res.Starvation
	}
	b.ReportMetric(rate/float64(b.N), "examples/s")
	b.ReportMetric(rate/float64(b.N)*float64(tiny.SeqLen), "slots/s")
	b.ReportMetric(starved/float64(b.N), "starvation")
}
