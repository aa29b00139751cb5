package trainer

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

func TestParameterCounts(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(1)
	// Expected sizes are computed from the architecture, independently of
	// the model code: embeddings, projection, L blocks, heads.
	blocks := func(h, ffn, layers int) int64 {
		attn := 4*(h*h+h) + 2*h
		ffnp := h*ffn + ffn + ffn*h + h + 2*h
		return int64(layers * (attn + ffnp))
	}
	for _, name := range []string{"tiny", "small"} {
		t.Run(name, func(t *testing.T) {
			defer torch.LockThread()() // a subtest is a new goroutine
			c, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(c, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			v, e, h := c.VocabSize, c.EmbeddingSize, c.HiddenSize
			emb := int64((v+c.MaxPositions+c.TypeVocabSize)*e + 2*e)
			proj := int64(0)
			if e != h {
				proj = int64(e*h + h)
			}
			wantDisc := emb + proj + blocks(h, c.IntermediateSize, c.NumLayers) + int64(h*h+h+h+1)
			if got := m.DiscriminatorSize(); got != wantDisc {
				t.Fatalf("discriminator has %d parameters, want %d", got, wantDisc)
			}
			g := c.Generator()
			wantGen := int64(e*g.HiddenSize+g.HiddenSize) + blocks(g.HiddenSize, g.IntermediateSize, g.NumLayers) +
				int64(g.HiddenSize*e+e+2*e+v)
			if got := m.GeneratorSize(); got != wantGen {
				t.Fatalf("generator owns %d parameters, want %d", got, wantGen)
			}
			t.Logf("%s: discriminator %.2fM, generator (own) %.2fM", name, float64(wantDisc)/1e6, float64(wantGen)/1e6)
			if name == "small" {
				// The paper: ELECTRA-Small has 14M parameters.
				if d := float64(m.DiscriminatorSize()) / 1e6; d < 13 || d > 15 {
					t.Fatalf("ELECTRA-Small discriminator %.2fM parameters, paper says 14M", d)
				}
			}
		})
	}
}

// TestEmbeddingSharing: one tensor, two users. The generator and the
// discriminator read the same word embedding storage, which is also the
// generator's output matrix, and both losses put gradient into it.
func TestEmbeddingSharing(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(2)
	c, _ := Preset("tiny")
	c.Dropout = 0
	m, err := New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Generator.Embeddings != m.Discriminator.Embeddings {
		t.Fatal("generator and discriminator hold different Embeddings")
	}
	gen, disc := map[string]uintptr{}, map[string]uintptr{}
	for _, p := range m.GeneratorParameters() {
		gen[p.Name] = dataPtr(p.Tensor)
	}
	for _, p := range m.DiscriminatorParameters() {
		disc[p.Name] = dataPtr(p.Tensor)
	}
	for _, n := range []string{"word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias"} {
		k := "electra.embeddings." + n
		if gen[k] == 0 || gen[k] != disc[k] {
			t.Fatalf("%s: generator %x discriminator %x, want the same storage", k, gen[k], disc[k])
		}
	}
	if gen["generator_lm_head.weight"] != gen["electra.embeddings.word_embeddings.weight"] {
		t.Fatal("generator_lm_head.weight is not tied to the word embeddings")
	}
	if gen["electra.embeddings_project.weight"] == disc["electra.embeddings_project.weight"] {
		t.Fatal("embedding projections must not be shared")
	}
	for name := range gen {
		if !strings.HasPrefix(name, "electra.") && !strings.HasPrefix(name, "generator_") {
			t.Fatalf("generator parameter %q does not follow HF naming", name)
		}
	}

	// Gradient from each loss alone reaches the shared table.
	b := syntheticBatch(c, 4, rand.New(rand.NewPCG(1, 2)))
	mk := Mask(b, c, rand.New(rand.NewPCG(3, 4)))
	word := m.Embeddings.Word
	for _, which := range []string{"mlm", "disc"} {
		s := torch.NewScope()
		out := m.Objective(s, b, mk, false)
		loss := out.MLMLoss
		if which == "disc" {
			loss = out.DiscLoss
		}
		loss.MustBackward()
		g := s.Keep(word.MustGrad(false))
		n := scalars(s.Keep(g.MustNorm(false)))[0]
		if !(n > 0) || math.IsNaN(n) {
			t.Fatalf("%s loss puts no gradient into the shared word embeddings (norm %g)", which, n)
		}
		NewOptimizer(m.Params.List(), DefaultAdam()).ZeroGrad()
		s.Close()
	}
}

// syntheticBatch is n random examples [CLS] ... [SEP] of random lengths.
func syntheticBatch(c Config, n int, rng *rand.Rand) Batch {
	l := c.SeqLen
	b := Batch{Size: n, SeqLen: l, IDs: make([]int32, n*l), Segments: make([]int8, n*l), Lengths: make([]int16, n)}
	for e := range n {
		length := 8 + rng.IntN(l-8+1)
		b.Lengths[e] = int16(length)
		row := b.IDs[e*l : (e+1)*l]
		row[0] = c.Tokens.CLS
		for i := 1; i < length-1; i++ {
			row[i] = int32(1000 + rng.IntN(c.VocabSize-1000))
			if i > length/2 {
				b.Segments[e*l+i] = 1
			}
		}
		row[length-1] = c.Tokens.SEP
		b.Segments[e*l+length-1] = 1
	}
	return b
}

func dataPtr(t *ts.Tensor) uintptr {
	p, err := t.DataPtr()
	if err != nil {
		panic(err)
	}
	return uintptr(p)
}
