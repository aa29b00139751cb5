package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/pipelines"
	"github.com/electra-go/electra/schemas"
)

const ledgerPipeline = `name: ledger
broker:
  embedded: {data_dir: broker}
topics:
  documents: {partitions: 2}
  examples: {partitions: 2}
sources:
  - format: books
    name: moby-dick
    paths: [corpus/*.txt]
tokenizer:
  vocab: %s
packing: {max_seq_len: 32, batch_rows: 16, shuffle_buffer: 64, workers: 1, seed: 5}
model: {preset: tiny}
train:
  steps: 100000
  batch_size: 8
  threads: 1
  device: cpu
  checkpoint_every: 5
  keep_checkpoints: 2
  log_every: 1
  group: ledger-trainer
output: run
`

const ledgerKillAt = 12

// TestRunKill9Ledger kills a whole `electra run` (ingest, transform and
// trainer in one process) with SIGKILL mid-training, runs it again to the
// end of the data, and checks the ledger documents -> examples -> trained
// examples: every input document in the documents topic exactly once, every
// document transformed, the trainer's last position at the end of every
// examples partition, and steps x batch = the distinct examples minus only
// the final partial batch.
func TestRunKill9Ledger(t *testing.T) {
	if os.Getenv("ELECTRA_RUN_CHILD") != "" {
		t.Skip("child process")
	}
	vocab, err := filepath.Abs("../../.cache/vocab/bert-base-uncased-vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	chapters, _ := filepath.Glob("../../.cache/corpora/moby-dick/chapter-00[2-4].txt")
	if len(chapters) != 3 {
		t.Fatalf("want 3 Moby-Dick chapters in .cache/corpora (run make setup), found %d", len(chapters))
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "corpus"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range chapters {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "corpus", filepath.Base(c)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, ledgerPipeline, vocab), 0o644); err != nil {
		t.Fatal(err)
	}
	child := func(killAt int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRunChild$", "-test.v")
		cmd.Env = append(os.Environ(), "ELECTRA_RUN_CHILD=1", "ELECTRA_RUN_FILE="+file, "ELECTRA_RUN_KILLAT="+strconv.Itoa(killAt))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}
	first := child(ledgerKillAt)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "run", "blocked")
	deadline := time.Now().Add(300 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("first run never reached the kill step")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	if err := child(-1).Run(); err != nil {
		t.Fatalf("second run: %v", err)
	}

	// The ledger, read back with franz-go from the broker's data directory.
	p, err := pipelines.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{DataDir: p.Path(p.Broker.Embedded.DataDir)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	docs := readAll(t, ctx, cl, adm, p.Topics.Documents.Name)
	keys := map[string]int{}
	for _, r := range docs {
		keys[string(r.Key)]++
	}
	if len(docs) != len(chapters) || len(keys) != len(chapters) {
		t.Fatalf("documents topic holds %d records with %d distinct ids, want each of the %d chapters exactly once", len(docs), len(keys), len(chapters))
	}

	// Transform consumed every document.
	ends, err := adm.ListEndOffsets(ctx, p.Topics.Documents.Name)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, "ledger-transform")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(o.Topic, o.Partition)
		if c.At != o.Offset {
			t.Errorf("transform committed %s[%d] at %d, end is %d: documents left untransformed", o.Topic, o.Partition, c.At, o.Offset)
		}
	})

	// Distinct examples by batch id (a redelivered batch carries the same
	// id and is not counted twice).
	exRecs := readAll(t, ctx, cl, adm, p.Topics.Examples.Name)
	seen := map[string]bool{}
	var examples, tokens int64
	for _, r := range exRecs {
		var id string
		for _, h := range r.Headers {
			if h.Key == schemas.ExamplesHeaderBatchID {
				id = string(h.Value)
			}
		}
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		eb, err := schemas.DecodeExamplesMessage(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		examples += int64(eb.Rows)
		tokens += eb.Tokens()
	}
	if examples < 80 {
		t.Fatalf("only %d examples from 3 chapters; the test needs more than a few batches", examples)
	}

	// The trainer: steps 1..S all logged, the replayed ones identical.
	steps := readMetricSteps(t, filepath.Join(p.Path(p.Output), "metrics.jsonl"))
	last := len(steps)
	for s := 1; s <= last; s++ {
		if len(steps[s]) == 0 {
			t.Fatalf("step %d missing from metrics.jsonl (steps 1..%d)", s, last)
		}
	}
	if last <= ledgerKillAt {
		t.Fatalf("the second run did not train past the kill (last step %d)", last)
	}
	trained := int64(last) * 8
	if !(trained <= examples && examples-trained < 8) {
		t.Fatalf("ledger: %d distinct examples, %d trained (%d steps x 8): want all but a final partial batch", examples, trained, last)
	}
	var summary pipelineResult
	sb, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sb, &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Steps != last || summary.Checkpoint == "" {
		t.Fatalf("summary %+v, want %d steps and a checkpoint", summary, last)
	}
	t.Logf("ledger: %d documents -> %d examples (%d tokens) -> %d trained in %d steps; killed at step %d", len(docs), examples, tokens, trained, last, ledgerKillAt)
}

func readAll(t *testing.T, ctx context.Context, cl *kgo.Client, adm *kadm.Client, topic string) []*kgo.Record {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	cl.AddConsumeTopics(topic)
	defer cl.PurgeTopicsFromConsuming(topic)
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %d of %d records: %v", topic, len(out), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func readMetricSteps(t *testing.T, path string) map[int][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct {
			Step int     `json:"step"`
			Loss float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out[m.Step] = append(out[m.Step], strconv.FormatFloat(m.Loss, 'g', -1, 64))
	}
	return out
}

// TestRunChild is one `electra run` process of TestRunKill9Ledger.
func TestRunChild(t *testing.T) {
	if os.Getenv("ELECTRA_RUN_CHILD") == "" {
		t.Skip("run by TestRunKill9Ledger")
	}
	file := os.Getenv("ELECTRA_RUN_FILE")
	killAt, _ := strconv.Atoi(os.Getenv("ELECTRA_RUN_KILLAT"))
	p, err := pipelines.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runPipeline(context.Background(), p, runOptions{onStep: func(step int) {
		if step == killAt {
			if err := os.WriteFile(filepath.Join(p.Path(p.Output), "blocked"), nil, 0o644); err != nil {
				t.Error(err)
			}
			select {} // wait for SIGKILL
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.writeJSON(filepath.Join(filepath.Dir(file), "summary.json")); err != nil {
		t.Fatal(err)
	}
}
