package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform"
	"github.com/electra-go/electra/transform/dataset"
	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "transform",
		summary: "tokenize and pack documents into Arrow example batches (Kafka or files)",
		run:     runTransform,
	})
}

func runTransform(ctx context.Context, args []string) error {
	fs := newFlags("transform", "[--brokers host:port | --from jsonl:FILE,...] [--sink kafka | --sink dataset:DIR] [flags]",
		"Consumes "+schemas.DocSchemaV1+" documents, tokenizes them with WordPiece, packs them into fixed-length\n"+
			"examples exactly as the reference ELECTRA data builder does, shuffles them in a bounded seeded\n"+
			"buffer, and writes "+schemas.ExamplesSchemaName+" Arrow batches to a Kafka topic or a dataset directory.\n"+
			"In Kafka mode it is a consumer-group member: offsets are committed only after the batches built\n"+
			"from them are acknowledged, and a redelivered batch carries the same batch-id header.\n"+
			"Invalid documents go to the dead-letter topic (or DIR/dead-letters.jsonl) with the reason.")
	kf := addKafkaFlags(fs, "Kafka bootstrap servers, host:port[,host:port] (Kafka input and/or sink)")
	in := fs.String("in", schemas.TopicDocs, "document topic to consume")
	out := fs.String("out", schemas.TopicExamples, "example topic to produce (with --sink kafka)")
	dlq := fs.String("dlq-topic", schemas.TopicTransformDLQ, "dead-letter topic for invalid documents")
	group := fs.String("group", "electra-transform", "consumer group id")
	partitions := fs.Int("partitions", 1, "partitions for the example topic if it has to be created")
	from := fs.String("from", "kafka", "`input`: kafka, or jsonl:FILE[,FILE...] (what electra ingest --sink jsonl: writes; globs allowed)")
	sink := fs.String("sink", "kafka", "output: kafka, or dataset:DIR (a new directory of shards and a manifest)")
	format := fs.String("format", "arrow", "dataset shard formats: arrow, parquet or arrow,parquet")
	shardMB := fs.Int("shard-mb", 128, "dataset shard size in MiB")
	maxLen := fs.Int("max-seq-len", 128, "example length L including [CLS]/[SEP] (ELECTRA-Small 128, Base/Large 512)")
	vocab := fs.String("vocab", defaultVocab, "WordPiece vocab.txt or HuggingFace tokenizer.json")
	seed := fs.Uint64("seed", 0, "seed for packing and shuffling; same seed + same input = same batches")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "tokenizer goroutines")
	batchRows := fs.Int("batch-rows", 1024, "examples per Arrow batch (one Kafka message)")
	shuffle := fs.Int("shuffle", 8192, "shuffle buffer in examples per partition (memory ~ shuffle*L*5 bytes each; see transform.Config)")
	flushIdle := fs.Duration("flush-idle", 2*time.Second, "seal partly filled shuffle buffers when no document arrived for this long")
	session := fs.Duration("session-timeout", 10*time.Second, "consumer group session timeout (a dead member's partitions move after it)")
	metrics := fs.String("metrics-addr", "", "serve Prometheus metrics on this address (e.g. :9108); empty disables")
	pipelineFile := fs.String("pipeline", "", pipelineFlagHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	pl, err := applyPipeline(fs, *pipelineFile, "transform", 0)
	if err != nil {
		return err
	}
	if *vocab, err = resolveVocab(*vocab); err != nil {
		return err
	}
	tok, err := wordpiece.Load(*vocab)
	if err != nil {
		return fmt.Errorf("loading vocab %s: %w", *vocab, err)
	}
	st, err := transform.New(transform.Config{
		MaxSeqLength: *maxLen, Seed: *seed, Workers: *workers, BatchRows: *batchRows,
		ShuffleExamples: *shuffle, FlushIdle: *flushIdle,
	}, tok)
	if err != nil {
		return usageError(fs, err)
	}
	var bc broker.Config
	if *from == "kafka" || *sink == "kafka" {
		if bc, err = kf.config(ctx, "electra-transform", pl); err != nil {
			return err
		}
	} else if err := kf.unused("files (--from jsonl: with --sink dataset:)"); err != nil {
		return err
	}

	var input transform.Input
	switch {
	case *from == "kafka":
		if len(bc.Brokers) == 0 {
			return usageError(fs, errors.New("--brokers is required to consume from Kafka (or use --from jsonl:FILE)"))
		}
		ki, err := transform.NewKafkaInput(ctx, transform.KafkaInputConfig{Broker: bc, Topic: *in, Group: *group, SessionTimeout: *session})
		if err != nil {
			return err
		}
		defer ki.Close()
		input = ki
	case strings.HasPrefix(*from, "jsonl:"):
		var files []string
		for p := range strings.SplitSeq(strings.TrimPrefix(*from, "jsonl:"), ",") {
			m, err := filepath.Glob(p)
			if err != nil || len(m) == 0 {
				return fmt.Errorf("--from: %q matches no file", p)
			}
			files = append(files, m...)
		}
		input = transform.NewJSONLInput(files)
	default:
		return usageError(fs, fmt.Errorf("--from %q: want kafka or jsonl:FILE[,FILE...]", *from))
	}

	var output transform.Output
	var finish func() error
	switch {
	case *sink == "kafka":
		if len(bc.Brokers) == 0 {
			return usageError(fs, errors.New("--brokers is required with --sink kafka"))
		}
		ko, err := transform.NewKafkaOutput(ctx, transform.KafkaOutputConfig{Broker: bc, Topic: *out, DLQTopic: *dlq, Partitions: *partitions, Meta: st.Meta()})
		if err != nil {
			return err
		}
		output, finish = ko, ko.Close
	case strings.HasPrefix(*sink, "dataset:"):
		if *from == "kafka" {
			// A dataset is complete only when its manifest is written at the
			// end; committing Kafka offsets for rows in unfinished shards
			// would lose them if the run dies.
			return usageError(fs, errors.New("--sink dataset: needs --from jsonl:...; for a topic, run transform with --sink kafka, then `electra export`"))
		}
		formats, err := dataset.ParseFormats(*format)
		if err != nil {
			return usageError(fs, err)
		}
		do, err := transform.NewDatasetOutput(strings.TrimPrefix(*sink, "dataset:"), st.Meta(), dataset.Options{Formats: formats, ShardBytes: int64(*shardMB) << 20})
		if err != nil {
			return err
		}
		output, finish = do, do.Close
	default:
		return usageError(fs, fmt.Errorf("--sink %q: want kafka or dataset:DIR", *sink))
	}

	if *metrics != "" {
		stopMetrics := serveMetrics(*metrics, st)
		defer stopMetrics()
	}
	done := make(chan struct{})
	go reportProgress(st, done)
	err = st.Run(ctx, input, output)
	close(done)
	// A cancelled run still finishes what it acknowledged; a dataset's
	// manifest is only written on a clean end.
	if err == nil {
		err = finish()
	} else if ko, ok := output.(*transform.KafkaOutput); ok {
		_ = ko.Close()
	}
	t := st.Totals()
	fmt.Fprintf(os.Stderr, "transform: %d documents (%d dead-lettered), %d examples in %d batches, %d tokens kept, %d truncated by the packing rules, %d commits\n",
		t.Records, t.Dead, t.Pack.Examples, t.Batches, t.Pack.TokensOut, t.Pack.TokensTruncate, t.Commits)
	return err
}

// usageError prints what was wrong with the flags and returns errUsage.
func usageError(fs *flag.FlagSet, err error) error {
	fmt.Fprintf(fs.Output(), "electra %s: %v\n", fs.Name(), err)
	return errUsage
}

// reportProgress logs counts every 10 s; long runs should not look hung.
func reportProgress(st *transform.Stage, done <-chan struct{}) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			t := st.Totals()
			secs := time.Since(start).Seconds()
			slog.Info("transform progress", "documents", t.Records, "dead", t.Dead, "examples", t.Pack.Examples, "batches", t.Batches,
				"tokens_per_s", int64(float64(t.Pack.TokensIn)/secs))
		}
	}
}

func serveMetrics(addr string, st *transform.Stage) func() {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, f func(transform.Totals) float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "electra", Subsystem: "transform", Name: name, Help: help},
			func() float64 { return f(st.Totals()) }))
	}
	gauge("documents_total", "documents consumed (valid and dead-lettered) in acknowledged chunks", func(t transform.Totals) float64 { return float64(t.Records) })
	gauge("dead_letters_total", "documents sent to the dead-letter output", func(t transform.Totals) float64 { return float64(t.Dead) })
	gauge("examples_total", "examples produced", func(t transform.Totals) float64 { return float64(t.Pack.Examples) })
	gauge("batches_total", "Arrow batches produced", func(t transform.Totals) float64 { return float64(t.Batches) })
	gauge("tokens_in_total", "sentence tokens in", func(t transform.Totals) float64 { return float64(t.Pack.TokensIn) })
	gauge("tokens_truncated_total", "tokens cut by the reference packing rules", func(t transform.Totals) float64 { return float64(t.Pack.TokensTruncate) })
	gauge("commits_total", "offset commits after acknowledged chunks", func(t transform.Totals) float64 { return float64(t.Commits) })
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "addr", addr, "err", err)
		}
	}()
	return func() { _ = srv.Close() }
}
