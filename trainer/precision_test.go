package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer/torch"
)

// TestBF16Objective runs the objective under bf16 autocast on the CPU (the
// same libtorch mechanism the GPU path uses) beside fp32 with the same
// weights, masks and noise: the losses agree to bf16's precision, the
// logits reaching the losses and the sampler are float32, and the
// gradients land on the float32 weights.
func TestBF16Objective(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(11)
	c, _ := Preset("tiny")
	c.Dropout = 0
	m, err := New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := syntheticBatch(c, 8, rand.New(rand.NewPCG(1, 2)))
	mk := Mask(b, c, rand.New(rand.NewPCG(3, 4)))

	run := func(p torch.Precision) Stats {
		m.Precision = p
		torch.Seed(5) // the same Gumbel noise for both
		s := torch.NewScope()
		defer s.Close()
		out := m.Objective(s, b, mk, true)
		for name, x := range map[string]bool{"generator logits": torch.IsBFloat16(out.GenLogits), "discriminator logits": torch.IsBFloat16(out.DiscLogits), "loss": torch.IsBFloat16(out.Loss)} {
			if x {
				t.Errorf("%s: %s are bfloat16; losses and sampling must see float32", p, name)
			}
		}
		out.Loss.MustBackward()
		g := s.Keep(m.Embeddings.Word.MustGrad(false))
		if !g.MustDefined() || torch.IsBFloat16(g) {
			t.Fatalf("%s: no float32 gradient on the shared word embeddings", p)
		}
		for _, q := range m.Params.List() {
			q.Tensor.ZeroGrad()
		}
		return out.Stats()
	}
	f32, b16 := run(torch.FP32), run(torch.BF16)
	t.Logf("fp32: mlm %.5f disc %.5f; bf16: mlm %.5f disc %.5f", f32.MLMLoss, f32.DiscLoss, b16.MLMLoss, b16.DiscLoss)
	for _, v := range []struct {
		name      string
		a, b, tol float64
	}{
		{"MLM loss", f32.MLMLoss, b16.MLMLoss, 0.01},
		{"disc loss", f32.DiscLoss, b16.DiscLoss, 0.05},
	} {
		if math.IsNaN(v.b) || math.Abs(v.a-v.b) > v.tol*math.Abs(v.a) {
			t.Errorf("%s: fp32 %.5f, bf16 %.5f (more than %.0f%% apart)", v.name, v.a, v.b, 100*v.tol)
		}
	}
	// bf16 has 8 bits of mantissa: results that agreed to float32's
	// precision would mean autocast never engaged.
	if f32.MLMLoss == b16.MLMLoss {
		t.Errorf("bf16 MLM loss equals fp32's exactly (%v): autocast did not run", f32.MLMLoss)
	}
}

// TestBF16Trains: a few bf16 updates on one batch drive the loss down as
// fp32's do.
func TestBF16Trains(t *testing.T) {
	defer torch.LockThread()()
	c, _ := Preset("tiny")
	b := syntheticBatch(c, 8, rand.New(rand.NewPCG(7, 8)))
	tr, err := NewTrainer(c, gotch.CPU, 3, Schedule{Peak: 1e-3, Warmup: 5, Total: 1000}, DefaultAdam())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.Model.Precision = torch.BF16
	var first, last float64
	for i := range 40 {
		r, err := tr.Step(b, "")
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(r.Loss) {
			t.Fatalf("step %d: loss NaN", i)
		}
		if i == 0 {
			first = r.MLMLoss
		}
		last = r.MLMLoss
	}
	if !(last < first-1) {
		t.Errorf("bf16 training did not learn one batch: MLM loss %.3f -> %.3f", first, last)
	}
}
