package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExperimentCommand runs rtd-vs-mlm with a budget of a couple of
// steps and checks that the table, the report and the plot are written.
func TestExperimentCommand(t *testing.T) {
	out := t.TempDir()
	corp, _ := filepath.Abs("../../.cache/corpora")
	vocab, _ := filepath.Abs("../../" + defaultVocab)
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"experiment", "rtd-vs-mlm", "--budget", "2.5e10", "--seq-len", "32", "--batch", "4",
		"--seeds", "1,2,3", "--task-train", "32", "--task-dev", "32", "--ft-epochs", "1", "--threads", "1",
		"--corpora", corp, "--vocab", vocab, "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("experiment exited %d: %s", code, stderr.String())
	}
	tab, err := os.ReadFile(filepath.Join(out, "table.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"electra", "mlm", "none", "mean ± std", "2.5e+10 FLOPs per arm"} {
		if !strings.Contains(string(tab), want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	var rep struct {
		Runs []struct {
			Arm   string
			Steps int `json:"pretrain_steps"`
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Runs) != 9 {
		t.Fatalf("report.json: %v, %d runs", err, len(rep.Runs))
	}
	if st, err := os.Stat(filepath.Join(out, "curves.png")); err != nil || st.Size() == 0 {
		t.Fatalf("curves.png: %v", err)
	}
	for _, bad := range [][]string{
		{"experiment", "rtd-vs-mlm"},
		{"experiment", "other", "--budget", "1e12"},
		{"experiment", "rtd-vs-mlm", "--budget", "lots"},
	} {
		if code := realMain(bad, &bytes.Buffer{}, &bytes.Buffer{}); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}
