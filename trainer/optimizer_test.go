package trainer

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// TestOptimizerAgainstHandComputedSteps runs three steps on a loss whose
// gradient is known (L = sum(c * w), so dL/dw = c) and compares with the
// update rule worked out in float64 here.
func TestOptimizerAgainstHandComputedSteps(t *testing.T) {
	defer torch.LockThread()()
	tests := []struct {
		name  string
		coef  []float64 // gradient of each element, per parameter
		clip  float64
		decay float64
	}{
		{"no clipping", []float64{0.1, -0.2, 0.3}, 1.0, 0.01},
		{"clipped", []float64{3, -4, 12}, 1.0, 0.01}, // norm 13 per parameter
		{"no decay", []float64{0.5, 0.5, -0.5}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer torch.LockThread()() // a subtest is a new goroutine
			init := []float64{0.5, -1.0, 2.0}
			p := newParams(gotch.CPU, 0.02)
			defer p.Close()
			f32 := func(v []float64) []float32 {
				out := make([]float32, len(v))
				for i, x := range v {
					out[i] = float32(x)
				}
				return out
			}
			// Same values, one decayed, one not (LayerNorm).
			w := p.add("dense.weight", float32Tensor(f32(init), []int64{3}, gotch.CPU))
			g := p.add("x.LayerNorm.weight", float32Tensor(f32(init), []int64{3}, gotch.CPU))
			cfg := AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: tc.decay, ClipNorm: tc.clip}
			opt := NewOptimizer(p.List(), cfg)
			defer opt.Close()
			coef := float32Tensor(f32(tc.coef), []int64{3}, gotch.CPU)
			defer coef.MustDrop()

			want := [2][]float64{append([]float64(nil), init...), append([]float64(nil), init...)}
			m := [2][]float64{make([]float64, 3), make([]float64, 3)}
			v := [2][]float64{make([]float64, 3), make([]float64, 3)}
			lrs := []float64{0.1, 0.05, 0.01}
			for _, lr := range lrs {
				s := torch.NewScope()
				l1 := s.Keep(s.Keep(w.MustMul(coef, false)).MustSum(gotch.Float, false))
				l2 := s.Keep(s.Keep(g.MustMul(coef, false)).MustSum(gotch.Float, false))
				s.Keep(l1.MustAdd(l2, false)).MustBackward()
				norm := opt.Step(lr)
				s.Close()

				var sq float64
				for _, c := range tc.coef {
					sq += 2 * c * c
				}
				wantNorm := math.Sqrt(sq)
				if math.Abs(norm-wantNorm) > 1e-4*wantNorm {
					t.Fatalf("global norm %g, want %g", norm, wantNorm)
				}
				scale := 1.0
				if tc.clip > 0 && wantNorm > tc.clip {
					scale = tc.clip / wantNorm
				}
				for k := range 2 {
					for i := range 3 {
						gi := tc.coef[i] * scale
						m[k][i] = 0.9*m[k][i] + 0.1*gi
						v[k][i] = 0.999*v[k][i] + 0.001*gi*gi
						u := m[k][i] / (math.Sqrt(v[k][i]) + 1e-6)
						if k == 0 {
							u += tc.decay * want[k][i]
						}
						want[k][i] -= lr * u
					}
				}
			}
			for k, tensor := range []*ts.Tensor{w, g} {
				got := tensor.Float64Values()
				for i := range got {
					if math.Abs(got[i]-want[k][i]) > 1e-5 {
						t.Fatalf("param %d element %d = %.7f, hand-computed %.7f", k, i, got[i], want[k][i])
					}
				}
			}
			// Gradients are cleared after the step.
			gr := w.MustGrad(false)
			defer gr.MustDrop()
			for _, x := range gr.Float64Values() {
				if x != 0 {
					t.Fatalf("gradient not zeroed after Step: %v", gr.Float64Values())
				}
			}
		})
	}
}

func TestDecayExcludesLayerNormAndBias(t *testing.T) {
	for name, want := range map[string]bool{
		"discriminator.electra.encoder.layer.0.attention.self.query.weight":       true,
		"discriminator.electra.encoder.layer.0.attention.self.query.bias":         false,
		"discriminator.electra.encoder.layer.0.attention.output.LayerNorm.weight": false,
		"discriminator.electra.embeddings.word_embeddings.weight":                 true,
		"generator.generator_lm_head.bias":                                        false,
	} {
		if got := (&Param{Name: name}).Decay(); got != want {
			t.Errorf("Decay(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{Peak: 1e-3, Warmup: 100, Total: 1000}
	tests := []struct {
		step int
		want float64
	}{
		{0, 0},
		{50, 1e-3 * 0.5 * (1 - 50.0/1000)},
		{100, 1e-3 * (1 - 100.0/1000)},
		{550, 1e-3 * 0.45},
		{999, 1e-3 * 0.001},
		{1000, 0},
		{5000, 0},
	}
	for _, tc := range tests {
		if got := s.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%d) = %g, want %g", tc.step, got, tc.want)
		}
	}
	// Rises through warmup, falls after.
	for i := 1; i < 1000; i++ {
		if i <= 100 && s.At(i) <= s.At(i-1) || i > 100 && s.At(i) >= s.At(i-1) {
			t.Fatalf("not warmup-then-decay at step %d: %g after %g", i, s.At(i), s.At(i-1))
		}
	}
	if (Schedule{Peak: 1, Total: 10}).At(0) != 1 {
		t.Fatal("without warmup the first step runs at the peak rate")
	}
}
