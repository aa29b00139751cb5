package hf

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

const python = "/usr/bin/python3" // Debian's, which sees python3-torch

func vocabPath(t *testing.T) string {
	p, err := filepath.Abs("../../.cache/vocab/bert-base-uncased-vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v (scripts/setup.sh fetches the vocabulary)", err)
	}
	return p
}

func reference(t *testing.T, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{filepath.Join("testdata", "reference.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference.py %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("reference.py %v: %v", args, err)
	}
}

// shapes are small models that still cover every branch: an embedding
// projection (E != H) or none, one label (regression) or several.
var shapes = map[string]Shape{
	"projected": {VocabSize: 97, EmbeddingSize: 16, HiddenSize: 32, NumLayers: 2, NumHeads: 2, IntermediateSize: 64, MaxPositions: 40, TypeVocabSize: 2, NumLabels: 3},
	"square":    {VocabSize: 50, EmbeddingSize: 24, HiddenSize: 24, NumLayers: 1, NumHeads: 3, IntermediateSize: 48, MaxPositions: 16, TypeVocabSize: 2, NumLabels: 1},
}

var archs = []Arch{PreTraining, MaskedLM, SequenceClassification}

// TestKeysMatchReference compares our key table with the state_dict of a
// PyTorch module tree written after transformers' modeling_electra.py.
func TestKeysMatchReference(t *testing.T) {
	for sname, s := range shapes {
		for _, arch := range archs {
			t.Run(sname+"/"+string(arch), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "config.json")
				if err := writeJSON(path, NewConfig(arch, s, 1e-12, 0.1)); err != nil {
					t.Fatal(err)
				}
				var ref struct {
					Keys   map[string][]int64
					Params int64
				}
				reference(t, &ref, "keys", path)
				if err := CheckKeys(arch, s, ref.Keys); err != nil {
					t.Fatal(err)
				}
				var n int64
				for _, k := range Keys(arch, s) {
					if k.Name == "generator_lm_head.weight" {
						continue // tied: one parameter, two names
					}
					m := int64(1)
					for _, d := range k.Shape {
						m *= d
					}
					n += m
				}
				if n != ref.Params {
					t.Fatalf("%d parameters in our table, %d in the reference", n, ref.Params)
				}
			})
		}
	}
}

// TestSmallDiscriminatorSize: the paper's Small discriminator (~14M
// parameters) counted by hand, against our key table.
func TestSmallDiscriminatorSize(t *testing.T) {
	small := Shape{VocabSize: 30522, EmbeddingSize: 128, HiddenSize: 256, NumLayers: 12, NumHeads: 4, IntermediateSize: 1024, MaxPositions: 512, TypeVocabSize: 2}
	var n int64
	for _, k := range Keys(PreTraining, small) {
		m := int64(1)
		for _, d := range k.Shape {
			m *= d
		}
		n += m
	}
	// embeddings 30522*128 + 512*128 + 2*128 + 2*128, projection 128*256+256,
	// 12 layers of (4*(256*256+256) + 2*2*256 + 256*1024+1024 + 1024*256+256),
	// head 256*256+256 + 256+1.
	want := int64(30522*128+512*128+2*128+2*128) + (128*256 + 256) +
		12*(4*(256*256+256)+2*2*256+256*1024+1024+1024*256+256) + (256*256 + 256 + 256 + 1)
	if n != want {
		t.Fatalf("ELECTRA-Small discriminator: %d parameters, hand count %d", n, want)
	}
}

func randomModel(t *testing.T, arch Arch, s Shape) map[string]*ts.Tensor {
	m := map[string]*ts.Tensor{}
	for _, k := range Keys(arch, s) {
		m[k.Name] = ts.MustRandn(k.Shape, gotch.Float, gotch.CPU)
	}
	t.Cleanup(func() {
		for _, x := range m {
			x.MustDrop()
		}
	})
	return m
}

// same compares element by element (gotch v0.7.0's Equal reads a C int as
// a Go int and answers at random).
func same(a, b *ts.Tensor) bool {
	if !equalShape(a.MustSize(), b.MustSize()) {
		return false
	}
	m := a.MustSub(b, false).MustAbs(true).MustMax(true)
	defer m.MustDrop()
	return m.Float64Values()[0] == 0
}

func sum(x *ts.Tensor) float64 {
	s := x.MustSum(gotch.Double, false)
	defer s.MustDrop()
	return s.Float64Values()[0]
}

// TestExportLoadsStrict exports every architecture and has the reference
// load it with no missing or unexpected keys and the same values.
func TestExportLoadsStrict(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(1)
	vocab := vocabPath(t)
	for sname, s := range shapes {
		for _, arch := range archs {
			t.Run(sname+"/"+string(arch), func(t *testing.T) {
				defer torch.LockThread()() // a subtest is a new goroutine
				dir := t.TempDir()
				m := randomModel(t, arch, s)
				if err := Export(dir, NewConfig(arch, s, 1e-12, 0.1), m, Tokenizer{VocabPath: vocab, DoLowerCase: true}); err != nil {
					t.Fatal(err)
				}
				ids := filepath.Join(dir, "ids.json")
				os.WriteFile(ids, []byte("[[2, 5, 7, 3, 0], [4, 4, 1, 0, 0]]"), 0o644)
				var got struct {
					Missing, Unexpected []string
					Sums                map[string]float64
					Logits              []float64
				}
				reference(t, &got, "load", dir, ids)
				if len(got.Missing)+len(got.Unexpected) != 0 {
					t.Fatalf("strict load: missing %v unexpected %v", got.Missing, got.Unexpected)
				}
				for n, x := range m {
					if w, g := sum(x), got.Sums[n]; math.Abs(w-g) > 1e-6*(1+math.Abs(w)) {
						t.Errorf("%s: python sums %g, we wrote %g", n, g, w)
					}
				}
				if len(got.Logits) == 0 {
					t.Fatal("reference produced no logits")
				}
				for _, f := range []string{"config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"} {
					if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}

func TestImportRoundTrip(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(2)
	s := shapes["projected"]
	dir := t.TempDir()
	m := randomModel(t, MaskedLM, s)
	cfg := NewConfig(MaskedLM, s, 1e-12, 0.1)
	if err := Export(dir, cfg, m, Tokenizer{VocabPath: vocabPath(t)}); err != nil {
		t.Fatal(err)
	}
	back, err := Import(dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Config.HiddenSize != s.HiddenSize || back.Config.EmbeddingSize != s.EmbeddingSize {
		t.Errorf("config came back as %+v", back.Config)
	}
	if len(back.Tensors) != len(m) {
		t.Fatalf("%d tensors back, %d written", len(back.Tensors), len(m))
	}
	for n, x := range m {
		y := back.Tensors[n]
		if !same(x, y) {
			t.Errorf("%s changed in the round trip", n)
		}
	}
}

// TestImportTransformersLayout reads a directory saved the way transformers
// saves ElectraForMaskedLM: the tied generator_lm_head.weight is absent.
func TestImportTransformersLayout(t *testing.T) {
	defer torch.LockThread()()
	s := shapes["projected"]
	dir := t.TempDir()
	if err := writeJSON(filepath.Join(dir, "config.json"), NewConfig(MaskedLM, s, 1e-12, 0.1)); err != nil {
		t.Fatal(err)
	}
	var saved struct{ Sums map[string]float64 }
	reference(t, &saved, "save", dir)
	if _, ok := saved.Sums["generator_lm_head.weight"]; ok {
		t.Fatal("reference kept the tied weight; this test needs it dropped")
	}
	m, err := Import(dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for n, w := range saved.Sums {
		if g := sum(m.Tensors[n]); math.Abs(g-w) > 1e-6*(1+math.Abs(w)) {
			t.Errorf("%s: sum %g, python saved %g", n, g, w)
		}
	}
	if !same(m.Tensors["generator_lm_head.weight"], m.Tensors["electra.embeddings.word_embeddings.weight"]) {
		t.Error("generator_lm_head.weight not restored from the word embeddings")
	}
}

func TestExportRejectsMismatch(t *testing.T) {
	defer torch.LockThread()()
	s := shapes["projected"]
	cfg := NewConfig(PreTraining, s, 1e-12, 0.1)
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]*ts.Tensor)
		want   string
	}{
		{"missing", func(m map[string]*ts.Tensor) { delete(m, "electra.embeddings_project.bias") }, "missing 1 [electra.embeddings_project.bias]"},
		{"unexpected", func(m map[string]*ts.Tensor) {
			m["electra.pooler.dense.bias"] = ts.MustZeros([]int64{1}, gotch.Float, gotch.CPU)
		}, "unexpected 1 [electra.pooler.dense.bias]"},
		{"shape", func(m map[string]*ts.Tensor) {
			m["discriminator_predictions.dense_prediction.weight"] = ts.MustZeros([]int64{2, 32}, gotch.Float, gotch.CPU)
		}, "discriminator_predictions.dense_prediction.weight: [2 32], want [1 32]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer torch.LockThread()()
			m := randomModel(t, PreTraining, s)
			tc.mutate(m)
			err := Export(t.TempDir(), cfg, m, Tokenizer{VocabPath: vocabPath(t)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReadConfigRejects(t *testing.T) {
	good := NewConfig(PreTraining, shapes["projected"], 1e-12, 0.1)
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"bert", func(c *Config) { c.ModelType = "bert" }, `model_type "bert"`},
		{"arch", func(c *Config) { c.Architectures = []string{"ElectraModel"} }, `architecture "ElectraModel"`},
		{"heads", func(c *Config) { c.NumAttentionHeads = 5 }, "not a multiple"},
		{"act", func(c *Config) { c.HiddenAct = "relu" }, `hidden_act "relu"`},
		{"zero", func(c *Config) { c.VocabSize = 0 }, "vocab_size = 0"},
		{"huge", func(c *Config) { c.HiddenSize = 1 << 40 }, "hidden_size = 1099511627776"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Architectures = append([]string{}, good.Architectures...)
			tc.mutate(&c)
			dir := t.TempDir()
			writeJSON(filepath.Join(dir, "config.json"), c)
			_, err := ReadConfig(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ReadConfig(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestHalfToFloat(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.960464477539063e-08}, {0x3555, 0.333251953125}, {0x8000, float32(math.Copysign(0, -1))},
	} {
		if got := halfToFloat(tc.h); got != tc.want || math.Signbit(float64(got)) != math.Signbit(float64(tc.want)) {
			t.Errorf("halfToFloat(%#04x) = %g, want %g", tc.h, got, tc.want)
		}
	}
	if got := halfToFloat(0x7c00); !math.IsInf(float64(got), 1) {
		t.Errorf("0x7c00 = %g, want +Inf", got)
	}
}

// FuzzReadConfig: any config.json either fails validation with a message
// or describes a model whose key table is well formed.
func FuzzReadConfig(f *testing.F) {
	good, _ := json.Marshal(NewConfig(SequenceClassification, shapes["projected"], 1e-12, 0.1))
	f.Add(good)
	f.Add([]byte(`{"model_type":"electra","architectures":["ElectraForMaskedLM"]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := ReadConfig(dir)
		if err != nil {
			return
		}
		arch, err := c.Arch()
		if err != nil {
			t.Fatalf("validated config has no architecture: %v", err)
		}
		for _, k := range Keys(arch, c.Shape()) {
			for _, d := range k.Shape {
				if d <= 0 {
					t.Fatalf("%s has shape %v", k.Name, k.Shape)
				}
			}
		}
	})
}
