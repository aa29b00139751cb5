package trainer

import (
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// AdamConfig is the reference's AdamWeightDecayOptimizer (BERT, ELECTRA):
// Adam without bias correction, weight decay decoupled from the gradient
// (added to the update, not the loss), and global-norm clipping first.
type AdamConfig struct {
	Beta1, Beta2, Eps float64 // 0.9, 0.999, 1e-6
	WeightDecay       float64 // 0.01, not on LayerNorm parameters or biases
	ClipNorm          float64 // clip the global gradient norm to this; 0 disables
}

// DefaultAdam is the paper's optimizer setting.
func DefaultAdam() AdamConfig {
	return AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01, ClipNorm: 1.0}
}

// Optimizer holds Adam's moments for a list of parameters. gotch's Adam
// applies bias correction and couples weight decay into the gradient, so
// the update is written here on tensors. Close frees the moments.
type Optimizer struct {
	Config AdamConfig
	params []*Param
	m, v   []*ts.Tensor // first and second moments, same shapes as params
}

// NewOptimizer zero-initialises the moments of params.
func NewOptimizer(params []*Param, c AdamConfig) *Optimizer {
	o := &Optimizer{Config: c, params: params}
	for _, p := range params {
		o.m = append(o.m, p.Tensor.MustZerosLike(false))
		o.v = append(o.v, p.Tensor.MustZerosLike(false))
	}
	return o
}

// Close frees the moments.
func (o *Optimizer) Close() {
	for i := range o.m {
		o.m[i].MustDrop()
		o.v[i].MustDrop()
	}
	o.m, o.v = nil, nil
}

// Step applies one update with learning rate lr from the gradients
// accumulated in the parameters, then zeroes them. It returns the global
// gradient norm before clipping. For each parameter p with gradient g
// (already scaled by clipping):
//
//	m = b1 m + (1-b1) g
//	v = b2 v + (1-b2) g^2
//	u = m / (sqrt(v) + eps)  [+ wd p, unless LayerNorm or bias]
//	p = p - lr u
func (o *Optimizer) Step(lr float64) float64 {
	c := o.Config
	s := torch.NewScope()
	defer s.Close()
	defer torch.NoGrad()()

	grads := make([]*ts.Tensor, len(o.params))
	norms := make([]*ts.Tensor, 0, len(o.params))
	for i, p := range o.params {
		g := s.Keep(p.Tensor.MustGrad(false))
		if !g.MustDefined() {
			continue // not used by the loss this step
		}
		grads[i] = g
		norms = append(norms, s.Keep(g.MustNorm(false)))
	}
	if len(norms) == 0 {
		return 0
	}
	list := make([]ts.Tensor, len(norms))
	for i, n := range norms {
		list[i] = *n
	}
	all := s.Keep(ts.MustStack(list, 0))
	norm := scalars(s.Keep(all.MustNorm(false)))[0]
	scale := 1.0
	if c.ClipNorm > 0 && norm > c.ClipNorm {
		// tf.clip_by_global_norm: g * clip / max(norm, clip).
		scale = c.ClipNorm / norm
	}

	for i, p := range o.params {
		g := grads[i]
		if g == nil {
			continue
		}
		m, v := o.m[i], o.v[i]
		scaleInPlace(m, c.Beta1)
		gm := s.Keep(mulAdd(g, (1-c.Beta1)*scale, 0, false))
		torch.InPlace(m, func() { m.MustAdd_(gm) })
		scaleInPlace(v, c.Beta2)
		gv := s.Keep(mulAdd(g, (1-c.Beta2)*scale*scale, 0, false))
		torch.InPlace(v, func() { v.MustAddcmul_(gv, g) })

		den := s.Keep(v.MustSqrt(false))
		addInPlace(den, c.Eps)
		u := s.Keep(m.MustDiv(den, false))
		if c.WeightDecay != 0 && p.Decay() {
			wd := s.Keep(mulAdd(p.Tensor, c.WeightDecay, 0, false))
			torch.InPlace(u, func() { u.MustAdd_(wd) })
		}
		step := s.Keep(mulAdd(u, lr, 0, false))
		torch.InPlace(p.Tensor, func() { p.Tensor.MustSub_(step) })
		torch.InPlace(g, g.MustZero_)
	}
	return norm
}

// ZeroGrad clears every parameter's gradient (Step does this too).
func (o *Optimizer) ZeroGrad() {
	for _, p := range o.params {
		g := p.Tensor.MustGrad(false)
		if g.MustDefined() {
			torch.InPlace(g, g.MustZero_)
		}
		g.MustDrop()
	}
}

// Moments exposes the state for checkpoints: m and v of parameter i.
func (o *Optimizer) Moments(i int) (m, v *ts.Tensor) { return o.m[i], o.v[i] }

func scaleInPlace(t *ts.Tensor, a float64) {
	sa := ts.FloatScalar(a)
	defer sa.MustDrop()
	torch.InPlace(t, func() { t.MustMulScalar_(sa) })
}

func addInPlace(t *ts.Tensor, a float64) {
	sa := ts.FloatScalar(a)
	defer sa.MustDrop()
	torch.InPlace(t, func() { t.MustAddScalar_(sa) })
}
