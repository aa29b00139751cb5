package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/electra-go/electra/ingest"
	"github.com/electra-go/electra/ingest/htmltext"
	"github.com/electra-go/electra/schemas"
)

func init() {
	register(&command{
		name:    "ingest",
		summary: "read corpus files and produce documents to Kafka or a JSON-lines sink",
		run:     runIngest,
	})
}

// stringList is a repeatable flag that also splits on commas.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func runIngest(ctx context.Context, args []string) error {
	fs := newFlags("ingest", "--format FORMAT --input PATH... [--brokers host:port | --sink jsonl:PATH]",
		"Reads corpus files, cleans them into documents with one sentence per line, and produces them\n"+
			"as "+schemas.DocSchemaV1+" JSON to a Kafka topic (key = document id) or to a JSON-lines file.\n"+
			"Unparsable records go to the dead-letter topic (or <PATH>.dlq.jsonl) with the reason, file and\n"+
			"byte offset. With --resume, a killed ingest continues where it stopped without duplicates.\n"+
			"Formats: "+strings.Join(ingest.Formats(), ", ")+". Extra arguments are inputs too.")
	format := fs.String("format", "", "input format: "+strings.Join(ingest.Formats(), "|"))
	var inputs stringList
	fs.Var(&inputs, "input", "input file or directory (repeatable, or comma-separated); .gz/.bz2 are decompressed")
	kf := addKafkaFlags(fs, "Kafka bootstrap servers, host:port[,host:port]")
	topic := fs.String("topic", schemas.TopicDocs, "topic for documents")
	dlqTopic := fs.String("dlq-topic", schemas.TopicDocsDLQ, "topic for dead letters")
	partitions := fs.Int("partitions", 1, "partitions for the document topic if it has to be created")
	replication := fs.Int("replication-factor", 1, "replication factor for topics this command creates")
	sink := fs.String("sink", "kafka", "where documents go: kafka, or jsonl:PATH (PATH '-' is stdout)")
	resume := fs.String("resume", "", "resume file: records the last acknowledged input offset; rerun with the same file to continue")
	index := fs.String("index", "", "wikipedia: multistream index (…-index.txt[.bz2]); default: the sibling of the dump if present")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines for sentence splitting and parallel bz2 decoding")
	keepAll := fs.Bool("keep-all-types", false, "gigaword: keep every DOC type, not only type=\"story\"")
	source := fs.String("source", "", "override the documents' source field (default: the format's name)")
	lang := fs.String("lang", "", "language tag for documents (default: from the dump, else en); web formats: keep only documents identified as this language")
	dq := htmltext.DefaultQuality()
	minWords := fs.Int("min-words", dq.MinWords, "web formats: drop documents with fewer words (0 disables)")
	minAlpha := fs.Float64("min-alpha-fraction", dq.MinAlphaFraction, "web formats: drop documents whose letters are under this fraction of non-space characters (0 disables)")
	minPunct := fs.Float64("min-punct-lines", dq.MinPunctLineFraction, "web formats: drop documents where under this fraction of lines end in . ! ? (0 disables)")
	maxRepeat := fs.Float64("max-repeated-lines", dq.MaxRepeatedLineFraction, "web formats: drop documents where over this fraction of lines repeat an earlier line (0 disables)")
	maxDoc := fs.Int("max-doc-bytes", schemas.MaxDocumentBytes, "largest document text in bytes; see --oversize")
	oversize := fs.String("oversize", "split", "over-cap documents: split (into parts with ids <id>#s<n>) or deadletter")
	maxRecord := fs.Int("max-record-bytes", 64<<20, "largest raw record (<page>, <DOC>) read into memory; larger ones are dead-lettered")
	chunk := fs.Int("book-chunk-bytes", 1<<20, "books: cut a book into parts of about this many bytes at paragraph boundaries")
	batchDocs := fs.Int("batch-docs", 1000, "documents per acknowledged write (and checkpoint)")
	progress := fs.Bool("progress", isTerminal(os.Stderr), "show a progress bar on stderr (default: when stderr is a terminal)")
	pipelineFile := fs.String("pipeline", "", pipelineFlagHelp)
	pipelineSource := fs.Int("pipeline-source", 0, "with --pipeline: which of the file's sources to ingest (0-based, in file order)")
	if err := parse(fs, args); err != nil {
		return err
	}
	pl, err := applyPipeline(fs, *pipelineFile, "ingest", *pipelineSource)
	if err != nil {
		return err
	}
	inputs = append(inputs, fs.Args()...)
	if *format == "" || len(inputs) == 0 {
		fmt.Fprintln(fs.Output(), "electra ingest: --format and at least one --input are required")
		fs.Usage()
		return errUsage
	}
	cfg := ingest.Config{
		Format: *format, Inputs: inputs, Resume: *resume,
		Options: ingest.Options{
			Source: *source, Lang: *lang, Index: *index, Workers: *workers, KeepAllTypes: *keepAll,
			MaxRecordBytes: *maxRecord, ChunkBytes: *chunk,
			Quality: &htmltext.Quality{MinWords: *minWords, MinAlphaFraction: *minAlpha, MinPunctLineFraction: *minPunct, MaxRepeatedLineFraction: *maxRepeat},
		},
		MaxDocBytes: *maxDoc, Oversize: *oversize, Workers: *workers, BatchDocs: *batchDocs,
	}
	if *progress {
		cfg.Progress = os.Stderr
	}
	switch {
	case strings.HasPrefix(*sink, "jsonl:"):
		if err := kf.unused("--sink jsonl:"); err != nil {
			return err
		}
		cfg.Sink = ingest.NewJSONLSink(strings.TrimPrefix(*sink, "jsonl:"))
	case *sink == "kafka":
		if *kf.brokers == "" {
			return usageError(fs, errors.New("--brokers is required with --sink kafka"))
		}
		bc, err := kf.config(ctx, "electra-ingest", pl)
		if err != nil {
			return err
		}
		ks, err := ingest.NewKafkaSink(ctx, ingest.KafkaSinkConfig{
			Broker: bc, Topic: *topic, DLQTopic: *dlqTopic, Partitions: *partitions, ReplicationFactor: *replication,
		})
		if err != nil {
			return err
		}
		cfg.Sink = ks
	default:
		fmt.Fprintf(fs.Output(), "electra ingest: --sink %q: want kafka or jsonl:PATH\n", *sink)
		return errUsage
	}
	sum, err := ingest.Run(ctx, cfg)
	if cerr := cfg.Sink.Close(); err == nil && cerr != nil {
		err = cerr
	}
	slog.Info("ingest summary", "format", *format, "summary", sum.String())
	fmt.Fprintln(os.Stderr, "ingest:", sum.String())
	return err
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
