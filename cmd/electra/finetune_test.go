package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/experiment"
	"github.com/electra-go/electra/trainer/hf"
	"github.com/electra-go/electra/trainer/torch"
)

// TestFinetuneCommand runs `electra finetune` end to end on the
// book-or-speech task with real WordPiece tokenization: it must beat the
// majority baseline, list a malformed line in the dead letters, and write
// a model the PyTorch reference loads as ElectraForSequenceClassification
// with no missing or unexpected keys.
func TestFinetuneCommand(t *testing.T) {
	defer torch.LockThread()()
	c, _ := trainer.Preset("tiny")
	torch.Seed(4)
	m, err := trainer.New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	vocab, _ := filepath.Abs("../../" + defaultVocab)
	model := filepath.Join(t.TempDir(), "model")
	err = hf.ExportModel(model, m, false, hf.Tokenizer{VocabPath: vocab, DoLowerCase: true})
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	taskDir := t.TempDir()
	trainPath, devPath, err := experiment.WriteSourceTask(taskDir, experiment.SourceTask{Corpora: "../../.cache/corpora", Train: 512, Dev: 160, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(trainPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("a line without its label\n")
	f.Close()

	out := filepath.Join(t.TempDir(), "ft")
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"finetune", "--model", model, "--task", trainPath, "--dev", devPath, "--lr", "1e-3", "--epochs", "4",
		"--max-len", "48", "--threads", "2", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("finetune exited %d: %s", code, stderr.String())
	}
	var res finetuneResult
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("accuracy %.3f, majority %.3f, epochs %v", res.Metrics["accuracy"], res.Majority["accuracy"], res.Epochs)
	if res.Metrics["accuracy"] < res.Majority["accuracy"]+0.15 {
		t.Errorf("accuracy %.3f does not beat the majority baseline %.3f by 0.15", res.Metrics["accuracy"], res.Majority["accuracy"])
	}
	if res.Rejected != 1 || res.Train != 512 {
		t.Errorf("rejected %d, trained on %d", res.Rejected, res.Train)
	}
	dead, _ := os.ReadFile(filepath.Join(out, "deadletter.jsonl"))
	if !strings.Contains(string(dead), `"line":514`) || !strings.Contains(string(dead), "columns") {
		t.Errorf("dead letters: %s", dead)
	}
	cmd := exec.Command("/usr/bin/python3", "../../trainer/hf/testdata/reference.py", "load", out)
	lb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reference load: %v\n%s", err, lb)
	}
	var got struct{ Missing, Unexpected []string }
	if err := json.Unmarshal(lb, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Missing)+len(got.Unexpected) != 0 {
		t.Fatalf("ElectraForSequenceClassification: missing %v unexpected %v", got.Missing, got.Unexpected)
	}
}
