package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform"
	"github.com/electra-go/electra/transform/dataset"
)

func init() {
	register(&command{
		name:    "export",
		summary: "export an example topic as an Arrow or Parquet dataset",
		run:     runExport,
	})
}

func runExport(ctx context.Context, args []string) error {
	fs := newFlags("export", "--brokers host:port --topic TOPIC --out DIR [--format arrow|parquet|arrow,parquet]",
		"Reads every partition of an "+schemas.ExamplesSchemaName+" topic up to its current end, drops redelivered\n"+
			"batches by their batch-id header, and writes a dataset: Arrow IPC and/or Parquet shards of about\n"+
			"--shard-mb MiB and manifest.json (shards, rows, tokens, schema, vocab sha256).\n"+
			"pyarrow: pyarrow.dataset.dataset(DIR, format=\"arrow\"|\"parquet\");\n"+
			"HuggingFace: datasets.load_dataset(\"parquet\", data_files=DIR+\"/*.parquet\").")
	kf := addKafkaFlags(fs, "Kafka bootstrap servers, host:port[,host:port]")
	topic := fs.String("topic", schemas.TopicExamples, "example topic to export")
	out := fs.String("out", "", "new dataset directory")
	format := fs.String("format", "arrow", "shard formats: arrow, parquet or arrow,parquet")
	shardMB := fs.Int("shard-mb", 128, "shard size in MiB")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *kf.brokers == "" || *out == "" {
		return usageError(fs, errors.New("--brokers and --out are required"))
	}
	bc, err := kf.config(ctx, "electra-export", nil)
	if err != nil {
		return err
	}
	formats, err := dataset.ParseFormats(*format)
	if err != nil {
		return usageError(fs, err)
	}
	st, m, err := transform.Export(ctx, bc, *topic, *out, dataset.Options{Formats: formats, ShardBytes: int64(*shardMB) << 20})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "export: %d messages, %d duplicates dropped, %d rows, %d tokens in %d shards -> %s\n",
		st.Messages, st.Duplicates, m.Rows, m.Tokens, len(m.Shards), *out)
	return nil
}
