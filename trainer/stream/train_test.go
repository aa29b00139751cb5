package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/torch"
)

// fillTokens produces msgs messages of rows random-but-fixed examples of
// the tiny model's sequence length to each partition.
func fillTokens(t *testing.T, ctx context.Context, parts, msgs, rows, seqLen int) (broker.Config, string) {
	t.Helper()
	topic := "examples-train"
	cfg := embeddedTopic(t, ctx, topic, parts)
	rng := rand.New(rand.NewPCG(7, 7))
	for p := range parts {
		for m := range msgs {
			ex := make([]schemas.Example, rows)
			for r := range ex {
				n := seqLen - rng.IntN(seqLen/4)
				ids := make([]int32, n)
				segs := make([]int8, n)
				ids[0], ids[n-1] = 101, 102
				for i := 1; i < n-1; i++ {
					ids[i] = int32(1000 + rng.IntN(2000))
				}
				ex[r] = schemas.Example{InputIDs: ids, SegmentIDs: segs, DocID: fmt.Sprint(r), Source: "t"}
			}
			value, err := schemas.EncodeExamplesMessage(schemas.ExamplesMeta{MaxSeqLength: seqLen, Tokenizer: "t"}, ex)
			if err != nil {
				t.Fatal(err)
			}
			produceValue(t, ctx, cfg, topic, p, fmt.Sprintf("p%d-m%d", p, m), value)
		}
	}
	return cfg, topic
}

type stepLosses struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	MLMLoss  float64 `json:"mlm_loss"`
	DiscLoss float64 `json:"disc_loss"`
	DiscAcc  float64 `json:"disc_acc"`
}

// readLosses returns, per step, every line metrics.jsonl has for it, in
// file order.
func readLosses(t *testing.T, dir string) map[int][]stepLosses {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]stepLosses{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s stepLosses
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		out[s.Step] = append(out[s.Step], s)
	}
	return out
}

const (
	resumeSteps     = 12
	resumeCkptEvery = 4
	resumeKillAt    = 7 // after the checkpoint at 4, before the one at 8
)

// TestTrainKill9ExactResume is the trainer's exact-resume proof: a run
// killed with SIGKILL between checkpoints and resumed produces, step for
// step, the same losses as a run that was never interrupted: the same data
// in the same order with the same random draws, no step lost, none
// repeated in the model (the replayed steps 5-7 replace the lost ones).
func TestTrainKill9ExactResume(t *testing.T) {
	if os.Getenv("ELECTRA_TRAIN_CHILD") != "" {
		t.Skip("child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Second)
	defer cancel()
	tiny, err := trainer.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	const parts, msgs, rows, bs = 2, 6, 8, 8
	cfg, topic := fillTokens(t, ctx, parts, msgs, rows, tiny.SeqLen)

	child := func(dir, group string, killAt int, resume bool) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestTrainChild$", "-test.v")
		cmd.Env = append(os.Environ(), "ELECTRA_TRAIN_CHILD=1", "ELECTRA_TRAIN_BROKER="+cfg.Brokers[0], "ELECTRA_TRAIN_TOPIC="+topic,
			"ELECTRA_TRAIN_DIR="+dir, "ELECTRA_TRAIN_GROUP="+group, "ELECTRA_TRAIN_KILLAT="+strconv.Itoa(killAt),
			"ELECTRA_TRAIN_RESUME="+strconv.FormatBool(resume), "ELECTRA_TRAIN_BS="+strconv.Itoa(bs))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}
	whole := t.TempDir()
	if err := child(whole, "g-whole", -1, false).Run(); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}

	killed := t.TempDir()
	first := child(killed, "g-killed", resumeKillAt, false)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(killed, "blocked")
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if ctx.Err() != nil {
			first.Process.Kill()
			t.Fatal("child never reached the kill step")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	if err := child(killed, "g-killed", -1, true).Run(); err != nil {
		t.Fatalf("resumed run: %v", err)
	}

	want, got := readLosses(t, whole), readLosses(t, killed)
	for step := 1; step <= resumeSteps; step++ {
		w, g := want[step], got[step]
		if len(w) != 1 || len(g) == 0 {
			t.Fatalf("step %d: %d lines uninterrupted, %d after resume", step, len(w), len(g))
		}
		last := g[len(g)-1]
		if last.Loss != w[0].Loss || last.MLMLoss != w[0].MLMLoss || last.DiscLoss != w[0].DiscLoss || last.DiscAcc != w[0].DiscAcc {
			t.Errorf("step %d: resumed %+v, uninterrupted %+v", step, last, w[0])
		}
		// Steps after the checkpoint at 4 and up to the kill ran twice:
		// once before the kill, once replayed; identical both times.
		replayed := step > resumeCkptEvery && step <= resumeKillAt
		if replayed != (len(g) == 2) {
			t.Errorf("step %d logged %d times; replayed=%v", step, len(g), replayed)
		}
		if len(g) == 2 && g[0] != g[1] {
			t.Errorf("step %d: before kill %+v, replayed %+v", step, g[0], g[1])
		}
	}
}

// TestTrainChild is one trainer process of TestTrainKill9ExactResume.
func TestTrainChild(t *testing.T) {
	if os.Getenv("ELECTRA_TRAIN_CHILD") == "" {
		t.Skip("run by TestTrainKill9ExactResume")
	}
	defer torch.LockThread()()
	torch.SetThreads(1)
	tiny, err := trainer.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("ELECTRA_TRAIN_DIR")
	killAt, _ := strconv.Atoi(os.Getenv("ELECTRA_TRAIN_KILLAT"))
	bs, _ := strconv.Atoi(os.Getenv("ELECTRA_TRAIN_BS"))
	resume, _ := strconv.ParseBool(os.Getenv("ELECTRA_TRAIN_RESUME"))
	tiny.Dropout = 0.1 // dropout on: its draws must replay too
	run := trainer.RunOptions{
		Config: tiny, Adam: trainer.DefaultAdam(), Device: gotch.CPU, Seed: 3, Steps: resumeSteps, Warmup: 2,
		OutDir: dir, Resume: resume, CheckpointEvery: resumeCkptEvery, Keep: 2, LogEvery: 1,
		Progress: func(m trainer.Metrics) {
			if m.Step == killAt {
				if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o644); err != nil {
					t.Error(err)
				}
				select {} // wait for SIGKILL
			}
		},
	}
	res, err := Train(context.Background(), TrainConfig{
		Stream: Config{Broker: broker.Config{Brokers: []string{os.Getenv("ELECTRA_TRAIN_BROKER")}}, Topic: os.Getenv("ELECTRA_TRAIN_TOPIC"),
			Group: os.Getenv("ELECTRA_TRAIN_GROUP"), BatchSize: bs, PartitionWait: -1, SessionTimeout: 6 * time.Second},
		Run: run,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Last.Step != resumeSteps {
		t.Fatalf("last recorded step %d", res.Last.Step)
	}
	if _, err := os.Stat(res.Plot); err != nil {
		t.Fatalf("no loss plot: %v", err)
	}
}

// TestDeadLetterFile: a message that is not a batch is recorded with where
// it was and why, one JSON line each.
func TestDeadLetterFile(t *testing.T) {
	dir := t.TempDir()
	d := &deadLetterFile{path: filepath.Join(dir, DeadLetterFile)}
	d.add(kafka.Message{Topic: "ex", Partition: 2, Offset: 41, Value: []byte("junk"), Headers: []kafka.Header{{Key: schemas.ExamplesHeaderBatchID, Value: []byte("b-7")}}}, errors.New("not arrow"))
	d.add(kafka.Message{Topic: "ex", Partition: 0, Offset: 3}, errors.New("empty"))
	d.close()
	f, err := os.Open(d.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["partition"] != 2.0 || got[0]["offset"] != 41.0 || got[0]["batch_id"] != "b-7" ||
		got[0]["reason"] != "not arrow" || got[0]["bytes"] != 4.0 || got[1]["reason"] != "empty" {
		t.Fatalf("dead letters %v", got)
	}
}
