package trainer

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// referencePython is Debian's interpreter, the one python3-torch installs
// into (a pyenv python3 earlier on PATH cannot import it).
const referencePython = "/usr/bin/python3"

// TestParityWithPyTorch builds the same model in PyTorch from the weights
// this side exports (scripts/parity/electra_ref.py, written from the paper,
// not from this code), replays one objective evaluation with our masks and
// generator samples, and compares forward logits, the three losses, every
// gradient, the global norm and the parameters after one optimizer step.
func TestParityWithPyTorch(t *testing.T) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	tiny, _ := Preset("tiny")
	square := tiny
	square.EmbeddingSize = square.HiddenSize // no discriminator projection, generator still projects
	cases := []struct {
		name string
		c    Config
	}{{"tiny", tiny}, {"embedding=hidden", square}}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer torch.LockThread()() // a subtest is a new goroutine
			c := tc.c
			c.Dropout = 0 // dropout masks are not shared with the reference
			torch.Seed(int64(10 + i))
			m, err := New(c, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "out.safetensors")

			b := syntheticBatch(c, 6, rand.New(rand.NewPCG(uint64(i), 1)))
			b.Lengths[0] = int16(c.SeqLen) // one example with no padding
			mk := Mask(b, c, rand.New(rand.NewPCG(uint64(i), 2)))

			s := torch.NewScope()
			defer s.Close()
			bl := []int64{int64(b.Size), int64(b.SeqLen)}
			n := []int64{int64(len(mk.Positions))}
			lengths := make([]int64, b.Size)
			for e, l := range b.Lengths {
				lengths[e] = int64(l)
			}
			var names []string
			inputs := []ts.NamedTensor{
				{Name: "ids", Tensor: s.Keep(int64Tensor(widen(b.IDs), bl, gotch.CPU))},
				{Name: "masked", Tensor: s.Keep(int64Tensor(widen(mk.IDs), bl, gotch.CPU))},
				{Name: "segments", Tensor: s.Keep(int64Tensor(widen(b.Segments), bl, gotch.CPU))},
				{Name: "lengths", Tensor: s.Keep(int64Tensor(lengths, []int64{int64(b.Size)}, gotch.CPU))},
				{Name: "positions", Tensor: s.Keep(int64Tensor(mk.Positions, n, gotch.CPU))},
				{Name: "targets", Tensor: s.Keep(int64Tensor(mk.Originals, n, gotch.CPU))},
			}
			for _, p := range m.Params.List() {
				names = append(names, p.Name)
				inputs = append(inputs, ts.NamedTensor{Name: "param/" + p.Name, Tensor: p.Tensor})
			}

			o := m.Objective(s, b, mk, false)
			o.Loss.MustBackward()
			inputs = append(inputs, ts.NamedTensor{Name: "sampled", Tensor: o.Sampled})

			adam := DefaultAdam()
			lr := 1e-3
			cfgJSON, _ := json.Marshal(c)
			namesJSON, _ := json.Marshal(names)
			adamJSON, _ := json.Marshal(map[string]float64{"b1": adam.Beta1, "b2": adam.Beta2, "eps": adam.Eps, "wd": adam.WeightDecay, "clip": adam.ClipNorm})
			meta := map[string]string{"config": string(cfgJSON), "params": string(namesJSON), "adam": string(adamJSON), "lr": "0.001"}
			if err := writeTensorFile(in, inputs, meta); err != nil {
				t.Fatal(err)
			}

			outputs := []ts.NamedTensor{
				{Name: "gen_logits", Tensor: o.GenLogits}, {Name: "disc_logits", Tensor: o.DiscLogits},
				{Name: "loss", Tensor: o.Loss}, {Name: "mlm_loss", Tensor: o.MLMLoss}, {Name: "disc_loss", Tensor: o.DiscLoss},
				{Name: "corrupted", Tensor: o.Corrupted},
			}
			for _, p := range m.Params.List() {
				g := s.Keep(p.Tensor.MustGrad(false))
				outputs = append(outputs, ts.NamedTensor{Name: "grad/" + p.Name, Tensor: s.Keep(mulAdd(g, 1, 0, false))})
			}
			opt := NewOptimizer(m.Params.List(), adam)
			defer opt.Close()
			norm := opt.Step(lr)
			outputs = append(outputs, ts.NamedTensor{Name: "grad_norm", Tensor: s.Keep(ts.MustOfSlice([]float64{norm}))})
			for _, p := range m.Params.List() {
				outputs = append(outputs, ts.NamedTensor{Name: "updated/" + p.Name, Tensor: p.Tensor})
			}
			if err := writeTensorFile(out, outputs, nil); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(referencePython, "../scripts/parity/electra_ref.py", "parity", in, out)
			res, err := cmd.Output()
			if err != nil {
				stderr := ""
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("reference failed (is python3-torch installed? make setup): %v\n%s", err, stderr)
			}
			var d struct {
				GenLogits       float64            `json:"gen_logits"`
				DiscLogits      float64            `json:"disc_logits"`
				MLMLoss         float64            `json:"mlm_loss"`
				DiscLoss        float64            `json:"disc_loss"`
				Loss            float64            `json:"loss"`
				Grads           float64            `json:"grads"`
				GradNorm        float64            `json:"grad_norm"`
				ParamsAfterStep float64            `json:"params_after_step"`
				Corrupted       int                `json:"corrupted"`
				WorstGradParam  string             `json:"worst_grad_param"`
				Values          map[string]float64 `json:"values"`
			}
			if err := json.Unmarshal(res, &d); err != nil {
				t.Fatalf("reference output %q: %v", res, err)
			}
			t.Logf("reference: %s", res)
			if d.Corrupted != 0 {
				t.Fatalf("%d corrupted tokens differ", d.Corrupted)
			}
			const tol = 1e-4
			for _, x := range []struct {
				what string
				v    float64
			}{{"generator logits", d.GenLogits}, {"discriminator logits", d.DiscLogits}, {"MLM loss", d.MLMLoss},
				{"disc loss", d.DiscLoss}, {"loss", d.Loss}, {"gradients (worst " + d.WorstGradParam + ")", d.Grads},
				{"global grad norm", d.GradNorm}, {"parameters after one step", d.ParamsAfterStep}} {
				if !(x.v < tol) {
					t.Errorf("%s: max abs diff %.3g >= %g", x.what, x.v, tol)
				}
			}
			if d.Values["disc_loss"] <= 0 || d.Values["mlm_loss"] <= 0 {
				t.Fatalf("degenerate losses %v", d.Values)
			}
		})
	}
}
