package dataset_test

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/dataset"
	"github.com/electra-go/electra/trainer/torch"
)

const seqLen = 16

// writeDataset writes one Arrow IPC file per entry of rows, with the
// schemas package's records (the same contract transform writes), and
// returns every example in reading order. Example k's first token after
// [CLS] is 1000+k, so batches can be traced back to rows.
func writeDataset(t *testing.T, dir string, rows ...int) [][]int32 {
	t.Helper()
	meta := schemas.ExamplesMeta{MaxSeqLength: seqLen, VocabSHA256: "test", Tokenizer: "wordpiece-bert-uncased"}
	rng := rand.New(rand.NewPCG(1, 1))
	var all [][]int32
	for f, n := range rows {
		var exs []schemas.Example
		for range n {
			length := 4 + rng.IntN(seqLen-3)
			ids := make([]int32, length)
			ids[0], ids[length-1] = 101, 102
			ids[1] = int32(1000 + len(all))
			for i := 2; i < length-1; i++ {
				ids[i] = int32(2000 + rng.IntN(20000))
			}
			all = append(all, ids)
			exs = append(exs, schemas.Example{InputIDs: ids, SegmentIDs: make([]int8, length), DocID: "d", Source: "test"})
		}
		rec, err := schemas.NewExamplesRecordDict(memory.DefaultAllocator, meta, exs, []string{"test"})
		if err != nil {
			t.Fatal(err)
		}
		fh, err := os.Create(filepath.Join(dir, "part-"+string(rune('a'+f))+".arrow"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := ipc.NewFileWriter(fh, ipc.WithSchema(rec.Schema()))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		rec.Release()
	}
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{}"), 0o644) // ignored
	return all
}

func TestSourceOrderEpochsAndResume(t *testing.T) {
	dir := t.TempDir()
	all := writeDataset(t, dir, 7, 5) // 12 rows; batches of 5 cross files and epochs
	src, err := dataset.Open(dir, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	var positions []trainer.Position
	var batches []trainer.Batch
	for i := range 6 { // 30 rows = 2.5 epochs
		b, pos, err := src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Size != 5 || b.SeqLen != seqLen {
			t.Fatalf("batch %d is %dx%d", i, b.Size, b.SeqLen)
		}
		for r := range 5 {
			want := all[(i*5+r)%len(all)]
			got := b.IDs[r*seqLen : r*seqLen+int(b.Lengths[r])]
			if !slices.Equal(got, want) {
				t.Fatalf("batch %d row %d = %v, want row %d %v", i, r, got, (i*5+r)%len(all), want)
			}
			for _, pad := range b.IDs[r*seqLen+int(b.Lengths[r]) : (r+1)*seqLen] {
				if pad != schemas.PadID {
					t.Fatalf("batch %d row %d: padding holds %d", i, r, pad)
				}
			}
		}
		positions = append(positions, pos)
		batches = append(batches, b)
	}
	if positions[0] != "epoch=0 file=part-a.arrow row=5" || positions[2] != "epoch=1 file=part-a.arrow row=3" {
		t.Fatalf("positions %q", positions)
	}
	// Resuming after batch i yields batch i+1.
	for i := range 5 {
		r, err := dataset.Open(dir, 5, positions[i])
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := r.Next(ctx)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b.IDs, batches[i+1].IDs) {
			t.Fatalf("resume from %q did not continue with batch %d", positions[i], i+1)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := dataset.Open(empty, 4, ""); err == nil {
		t.Fatal("empty directory accepted")
	}
	dir := t.TempDir()
	writeDataset(t, dir, 3)
	for _, pos := range []trainer.Position{"garbage", "epoch=0 file=missing.arrow row=1", "epoch=0 file=part-a.arrow row=99"} {
		if _, err := dataset.Open(dir, 4, pos); err == nil {
			t.Fatalf("position %q accepted", pos)
		}
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x.arrow"), []byte("not arrow at all"), 0o644)
	s, err := dataset.Open(bad, 2, "")
	if err == nil {
		_, _, err = s.Next(context.Background())
		s.Close()
	}
	if err == nil {
		t.Fatal("corrupt file read without error")
	}
}

// TestRunResumesExactly trains 6 steps in one go and 3+3 steps with a
// restart from the checkpoint; every metric of steps 4..6 must match, which
// needs the weights, Adam's moments, the step, the RNG and the data
// position all restored.
func TestRunResumesExactly(t *testing.T) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	data := t.TempDir()
	writeDataset(t, data, 9, 4)
	c, _ := trainer.Preset("tiny")
	c.BatchSize = 3
	run := func(out string, steps int, resume bool) []map[string]any {
		opts := trainer.RunOptions{Config: c, Adam: trainer.DefaultAdam(), Device: gotch.CPU, Seed: 5, Steps: 6, Warmup: 2,
			OutDir: out, Resume: resume, CheckpointEvery: 3, Keep: 1, LogEvery: 1}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts.Progress = func(m trainer.Metrics) {
			if m.Step == steps {
				cancel() // simulate an interrupt right after this step
			}
		}
		var srcs []*dataset.Source
		err := trainer.Run(ctx, opts, func(from trainer.Position) (trainer.Source, error) {
			s, err := dataset.Open(data, c.BatchSize, from)
			if s != nil {
				srcs = append(srcs, s)
			}
			return s, err
		})
		for _, s := range srcs {
			s.Close()
		}
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var lines []map[string]any
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("metrics.jsonl line %q: %v", sc.Text(), err)
			}
			lines = append(lines, m)
		}
		return lines
	}
	straight := run(t.TempDir(), 6, false)
	if len(straight) != 6 {
		t.Fatalf("%d metrics lines, want 6", len(straight))
	}
	for _, k := range []string{"step", "loss", "mlm_loss", "mlm_acc", "disc_loss", "disc_acc", "replaced_frac", "lr", "tokens_per_s"} {
		if _, ok := straight[5][k]; !ok {
			t.Fatalf("metrics.jsonl lacks %q: %v", k, straight[5])
		}
	}
	out := t.TempDir()
	first := run(out, 3, false)
	if len(first) != 3 {
		t.Fatalf("interrupted run wrote %d lines, want 3", len(first))
	}
	both := run(out, 6, true)
	if len(both) != 6 {
		t.Fatalf("after resume metrics.jsonl has %d lines, want 6", len(both))
	}
	for i := range 6 {
		for _, k := range []string{"step", "loss", "mlm_loss", "disc_loss", "disc_acc", "lr", "grad_norm", "tokens_total"} {
			if straight[i][k] != both[i][k] {
				t.Fatalf("step %d %s: straight %v, resumed %v", i+1, k, straight[i][k], both[i][k])
			}
		}
	}
	ckpts, _ := filepath.Glob(filepath.Join(out, "ckpt-*.safetensors"))
	if len(ckpts) != 1 || filepath.Base(ckpts[0]) != "ckpt-000000006.safetensors" {
		t.Fatalf("checkpoints %v, want only the newest (keep 1)", ckpts)
	}
}
