package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/hf"
	"github.com/electra-go/electra/trainer/torch"
)

// TestExportImportModelCommands: a checkpoint goes out as a HuggingFace
// directory (which the PyTorch reference loads strictly) and comes back in
// as a step-0 checkpoint holding the same weights.
func TestExportImportModelCommands(t *testing.T) {
	defer torch.LockThread()()
	c, _ := trainer.Preset("tiny")
	c.NumLayers = 1
	torch.Seed(5)
	m, err := trainer.New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	o := trainer.NewOptimizer(m.Params.List(), trainer.DefaultAdam())
	defer o.Close()
	run := t.TempDir()
	if _, err := trainer.SaveCheckpoint(run, m, o, trainer.State{Step: 7, Seed: 5, Config: c}, 0); err != nil {
		t.Fatal(err)
	}
	vocab, _ := filepath.Abs("../../" + defaultVocab)
	out := filepath.Join(t.TempDir(), "hf")
	var stderr bytes.Buffer
	if code := realMain([]string{"export-model", "--checkpoint", run, "--out", out, "--generator", "--vocab", vocab}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("export-model exited %d: %s", code, stderr.String())
	}
	for _, dir := range []string{out, filepath.Join(out, hf.GeneratorDir)} {
		cmd := exec.Command("/usr/bin/python3", "../../trainer/hf/testdata/reference.py", "load", dir)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("reference load %s: %v\n%s", dir, err, b)
		}
		var got struct{ Missing, Unexpected []string }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Missing)+len(got.Unexpected) != 0 {
			t.Fatalf("%s: missing %v unexpected %v", dir, got.Missing, got.Unexpected)
		}
	}

	back := t.TempDir()
	if code := realMain([]string{"import-model", "--model", out, "--out", back, "--config", "tiny"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("import-model exited %d: %s", code, stderr.String())
	}
	m2, path, st, err := loadCheckpoint(back)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if st.Step != 0 || !strings.HasSuffix(path, "ckpt-000000000.safetensors") {
		t.Errorf("imported checkpoint %s at step %d, want a step-0 one", path, st.Step)
	}
	a, b := m.Params.List(), m2.Params.List()
	if len(a) != len(b) {
		t.Fatalf("%d parameters back, %d out", len(b), len(a))
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			t.Fatalf("parameter %d: %s vs %s", i, a[i].Name, b[i].Name)
		}
		d := a[i].Tensor.MustSub(b[i].Tensor, false).MustAbs(true).MustMax(true)
		if v := d.Float64Values()[0]; v != 0 {
			t.Errorf("%s changed by %g through export and import", a[i].Name, v)
		}
		d.MustDrop()
	}

	if code := realMain([]string{"export-model", "--checkpoint", t.TempDir(), "--out", out}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "no ckpt-") {
		t.Errorf("export from an empty directory: exit %d, %s", code, stderr.String())
	}
}
