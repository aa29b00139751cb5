package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/torch"
)

// paddedIDs is a batch with padding (id 0) so the attention mask matters.
var paddedIDs = [][]int64{{101, 2023, 2003, 1037, 3231, 102, 0, 0}, {101, 7592, 2088, 102, 0, 0, 0, 0}}

// goLogits runs our discriminator and generator (eval mode) on paddedIDs.
func goLogits(t *testing.T, m *trainer.Model) (disc, gen []float64) {
	s := torch.NewScope()
	defer s.Close()
	defer torch.NoGrad()()
	B, L := int64(len(paddedIDs)), int64(len(paddedIDs[0]))
	var flat []int64
	var mask []float32
	for _, row := range paddedIDs {
		for _, id := range row {
			flat = append(flat, id)
			if id != 0 {
				mask = append(mask, 0)
			} else {
				mask = append(mask, -10000)
			}
		}
	}
	ids := s.Keep(ts.MustOfSlice(flat).MustView([]int64{B, L}, true))
	seg := s.Keep(ids.MustZerosLike(false))
	add := s.Keep(ts.MustOfSlice(mask).MustView([]int64{B, 1, 1, L}, true))
	disc = m.Discriminator.Forward(s, ids, seg, add, false).Float64Values()
	all := make([]int64, B*L)
	for i := range all {
		all[i] = int64(i)
	}
	pos := s.Keep(ts.MustOfSlice(all))
	gen = m.Generator.Forward(s, ids, seg, add, pos, false).Float64Values()
	return disc, gen
}

func maxDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// TestExportedModelComputesTheSame exports a trainer.Model and has the
// PyTorch reference (HF's module layout) load it strictly and compute the
// discriminator's and generator's logits: they must match ours, padding
// and all.
func TestExportedModelComputesTheSame(t *testing.T) {
	defer torch.LockThread()()
	c, err := trainer.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	torch.Seed(11)
	m, err := trainer.New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	if err := ExportModel(dir, m, true, Tokenizer{VocabPath: vocabPath(t), DoLowerCase: true}); err != nil {
		t.Fatal(err)
	}
	idsPath := filepath.Join(dir, "ids.json")
	b, _ := json.Marshal(paddedIDs)
	os.WriteFile(idsPath, b, 0o644)

	wantDisc, wantGen := goLogits(t, m)
	for _, tc := range []struct {
		dir  string
		want []float64
	}{{dir, wantDisc}, {filepath.Join(dir, GeneratorDir), wantGen}} {
		var got struct {
			Missing, Unexpected []string
			Logits              []float64
		}
		reference(t, &got, "load", tc.dir, idsPath)
		if len(got.Missing)+len(got.Unexpected) != 0 {
			t.Fatalf("%s: strict load: missing %v unexpected %v", tc.dir, got.Missing, got.Unexpected)
		}
		if d := maxDiff(got.Logits, tc.want); d > 1e-4 {
			t.Errorf("%s: logits differ from ours by up to %g (%d vs %d values)", tc.dir, d, len(got.Logits), len(tc.want))
		}
	}

	// And back: import both into a differently seeded model; it must then
	// compute exactly what the original did.
	disc, err := Import(dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer disc.Close()
	gen, err := Import(filepath.Join(dir, GeneratorDir), gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	base, _ := trainer.Preset("tiny")
	base.GeneratorFraction = 0.5 // must be overridden by the generator's config
	c2, err := TrainerConfig(disc.Config, &gen.Config, base)
	if err != nil {
		t.Fatal(err)
	}
	if c2.GeneratorFraction != c.GeneratorFraction || c2.Generator().HiddenSize != c.Generator().HiddenSize {
		t.Fatalf("generator fraction %g, want %g", c2.GeneratorFraction, c.GeneratorFraction)
	}
	torch.Seed(99)
	m2, err := trainer.New(c2, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := LoadInto(m2, disc, gen); err != nil {
		t.Fatal(err)
	}
	d2, g2 := goLogits(t, m2)
	if d := maxDiff(d2, wantDisc); d != 0 {
		t.Errorf("imported discriminator differs by %g", d)
	}
	if d := maxDiff(g2, wantGen); d != 0 {
		t.Errorf("imported generator differs by %g", d)
	}
}

func TestTrainerConfigRejectsMismatchedGenerator(t *testing.T) {
	c, _ := trainer.Preset("tiny")
	disc, gen := DiscriminatorConfig(c), GeneratorConfig(c)
	gen.NumHiddenLayers = 1
	if _, err := TrainerConfig(disc, &gen, c); err == nil {
		t.Fatal("a generator of another depth was accepted")
	}
	gen = GeneratorConfig(c)
	gen.IntermediateSize++
	if _, err := TrainerConfig(disc, &gen, c); err == nil {
		t.Fatal("a generator whose FFN is not the scaled discriminator's was accepted")
	}
}
