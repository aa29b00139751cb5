package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer/torch"
)

// TestGumbelSampleMatchesSoftmax: Gumbel-max draws follow softmax(logits).
func TestGumbelSampleMatchesSoftmax(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(3)
	probs := []float64{0.1, 0.2, 0.3, 0.4}
	const rows = 40000
	logits := make([]float32, 0, rows*len(probs))
	for range rows {
		for _, p := range probs {
			logits = append(logits, float32(math.Log(p)))
		}
	}
	for _, temp := range []float64{1, 2} {
		l := float32Tensor(logits, []int64{rows, int64(len(probs))}, gotch.CPU)
		got := gumbelSample(l, temp)
		counts := make([]float64, len(probs))
		for _, x := range got.Int64Values() {
			counts[x]++
		}
		l.MustDrop()
		got.MustDrop()
		// softmax(log p / T) is p^(1/T), normalised.
		var z float64
		for _, p := range probs {
			z += math.Pow(p, 1/temp)
		}
		for i, p := range probs {
			want := math.Pow(p, 1/temp) / z
			if f := counts[i] / rows; math.Abs(f-want) > 0.01 {
				t.Fatalf("T=%g: token %d sampled %.4f of the time, softmax says %.4f", temp, i, f, want)
			}
		}
	}
}

// TestSampleEqualToOriginalIsOriginal forces the generator's choice with a
// huge output bias: when it samples the original token, nothing counts as
// replaced; when it samples another, every masked position does.
func TestSampleEqualToOriginalIsOriginal(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(4)
	c, _ := Preset("tiny")
	c.Dropout = 0
	m, err := New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const original, other = 2000, 3000
	b := syntheticBatch(c, 4, rand.New(rand.NewPCG(1, 1)))
	for i, id := range b.IDs {
		if id >= 1000 {
			b.IDs[i] = original
		}
	}
	mk := Mask(b, c, rand.New(rand.NewPCG(2, 2)))
	for _, tc := range []struct {
		favour       int64
		wantReplaced float64
	}{
		{original, 0},
		{other, float64(len(mk.Positions)) / float64(b.Tokens())},
	} {
		bias := make([]float32, c.VocabSize)
		bias[tc.favour] = 1e4
		bt := float32Tensor(bias, []int64{int64(c.VocabSize)}, gotch.CPU)
		func() {
			defer torch.NoGrad()()
			m.Generator.OutputBias.Copy_(bt)
		}()
		bt.MustDrop()

		s := torch.NewScope()
		out := m.Objective(s, b, mk, false)
		st := out.Stats()
		for _, x := range out.Sampled.Int64Values() {
			if x != tc.favour {
				t.Fatalf("generator sampled %d despite the bias towards %d", x, tc.favour)
			}
		}
		if math.Abs(st.ReplacedFrac-tc.wantReplaced) > 1e-9 {
			t.Fatalf("favouring %d: replaced fraction %g, want %g", tc.favour, st.ReplacedFrac, tc.wantReplaced)
		}
		labels := out.Labels.Float64Values()
		var n float64
		for _, l := range labels {
			n += l
		}
		if want := tc.wantReplaced * float64(b.Tokens()); math.Abs(n-want) > 1e-9 {
			t.Fatalf("favouring %d: %g tokens labelled replaced, want %g", tc.favour, n, want)
		}
		if tc.favour == original && st.MLMAcc != 1 {
			t.Fatalf("generator certain of the original but MLM accuracy %g", st.MLMAcc)
		}
		s.Close()
	}
}
