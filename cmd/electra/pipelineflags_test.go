package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const flagsPipeline = `name: flags
broker:
  brokers: [k1:9093, k2:9093]
  security:
    sasl: {mechanism: SCRAM-SHA-512, username: electra, password: env:KAFKA_PW}
    tls: {ca: certs/ca.pem}
topics:
  documents: {name: docs.x, partitions: 6}
  examples: {name: ex.x, partitions: 3}
sources:
  - {format: books, name: moby, paths: [corpus/*.txt]}
  - {format: gigaword, paths: [giga/*.gz]}
tokenizer: {vocab: vocab.txt}
packing: {max_seq_len: 64, batch_rows: 256, seed: 9}
model: {preset: tiny}
train: {steps: 50, batch_size: 4, group: g1, checkpoint_every: 10}
output: run
`

// TestApplyPipeline: each stage's flags come from the file unless given on
// the command line, and the security block reaches the broker config.
func TestApplyPipeline(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"corpus/a.txt", "corpus/b.txt", "giga/x.gz", "vocab.txt"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(flagsPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stage  string
		source int
		args   []string
		want   map[string]string
	}{
		{"transform", 0, nil, map[string]string{"brokers": "k1:9093,k2:9093", "in": "docs.x", "out": "ex.x", "group": "flags-transform",
			"partitions": "3", "max-seq-len": "64", "batch-rows": "256", "seed": "9", "vocab": filepath.Join(dir, "vocab.txt")}},
		{"transform", 0, []string{"-group", "mine", "-brokers", "b:1"}, map[string]string{"group": "mine", "brokers": "b:1", "in": "docs.x"}},
		{"train", 0, nil, map[string]string{"topic": "ex.x", "group": "g1", "config": "tiny", "steps": "50", "batch": "4",
			"checkpoint-every": "10", "out": filepath.Join(dir, "run"), "seq-len": "64", "resume": "true"}},
		{"ingest", 1, nil, map[string]string{"format": "gigaword", "input": filepath.Join(dir, "giga/x.gz"), "topic": "docs.x", "partitions": "6",
			"resume": filepath.Join(dir, "run", "ingest-1-gigaword.resume")}},
		{"ingest", 0, nil, map[string]string{"format": "books", "source": "moby", "input": filepath.Join(dir, "corpus/a.txt") + "," + filepath.Join(dir, "corpus/b.txt")}},
	} {
		fs := newFlags(tc.stage, "", "")
		for name := range tc.want {
			if name == "input" {
				var l stringList
				fs.Var(&l, name, "")
				continue
			}
			fs.String(name, "", "")
		}
		for _, extra := range []string{"brokers", "group", "in"} {
			if fs.Lookup(extra) == nil {
				fs.String(extra, "", "")
			}
		}
		if err := parse(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		p, err := applyPipeline(fs, file, tc.stage, tc.source)
		if err != nil {
			t.Fatalf("%s: %v", tc.stage, err)
		}
		for name, want := range tc.want {
			if got := fs.Lookup(name).Value.String(); got != want {
				t.Errorf("%s %v: --%s = %q, want %q", tc.stage, tc.args, name, got, want)
			}
		}
		sec := pipelineSecurity(p)
		if sec.SASL == nil || sec.SASL.Username != "electra" || sec.TLS == nil || sec.TLS.CA != filepath.Join(dir, "certs/ca.pem") {
			t.Errorf("security not carried: %+v", sec)
		}
	}
}

func TestApplyPipelineErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	embedded := strings.Replace(flagsPipeline, "  brokers: [k1:9093, k2:9093]\n  security:\n    sasl: {mechanism: SCRAM-SHA-512, username: electra, password: env:KAFKA_PW}\n    tls: {ca: certs/ca.pem}\n", "  embedded: {}\n", 1)
	if err := os.WriteFile(file, []byte(embedded), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := newFlags("transform", "", "")
	fs.String("brokers", "", "")
	if err := parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := applyPipeline(fs, file, "transform", 0); err == nil || !strings.Contains(err.Error(), "electra run") {
		t.Fatalf("embedded broker on port 0: %v, want advice to use electra run or a port", err)
	}
	if err := fs.Set("brokers", "127.0.0.1:9092"); err != nil {
		t.Fatal(err)
	}
	if _, err := applyPipeline(fs, file, "ingest", 5); err == nil || !strings.Contains(err.Error(), "--pipeline-source 5") {
		t.Fatalf("source out of range: %v", err)
	}
	if err := os.WriteFile(file, []byte("train: {steps: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := applyPipeline(fs, file, "train", 0); err == nil || !strings.Contains(err.Error(), "p.yaml:1") {
		t.Fatalf("invalid file: %v, want file:line", err)
	}
}
