package trainer

import (
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Param is one trainable tensor and its name. Names are HuggingFace
// ELECTRA's (see the package doc) behind a "generator." or
// "discriminator." prefix; the shared embeddings carry the
// discriminator's prefix and appear once.
type Param struct {
	Name   string
	Tensor *ts.Tensor
}

// Decay reports whether decoupled weight decay applies: everything but
// LayerNorm parameters and biases, as in the reference optimizer.
func (p *Param) Decay() bool {
	return !strings.Contains(p.Name, "LayerNorm") && !strings.HasSuffix(p.Name, "bias")
}

// Params owns every parameter of a model, in creation order (the order the
// optimizer and checkpoints use). Close drops them.
type Params struct {
	device gotch.Device
	std    float64
	list   []*Param
	byName map[string]*Param
}

func newParams(device gotch.Device, initStd float64) *Params {
	return &Params{device: device, std: initStd, byName: map[string]*Param{}}
}

// List is the parameters in creation order.
func (p *Params) List() []*Param { return p.list }

// Get returns the parameter called name, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Count is the number of scalars in the parameters whose names start with
// prefix ("" for all).
func (p *Params) Count(prefix string) int64 {
	var n int64
	for _, q := range p.list {
		if strings.HasPrefix(q.Name, prefix) {
			n += int64(q.Tensor.Numel())
		}
	}
	return n
}

// Close drops every parameter tensor.
func (p *Params) Close() {
	for _, q := range p.list {
		q.Tensor.MustDrop()
	}
	p.list, p.byName = nil, nil
}

// add takes ownership of t (created on the CPU), moves it to the device and
// marks it trainable.
func (p *Params) add(name string, t *ts.Tensor) *ts.Tensor {
	if _, dup := p.byName[name]; dup {
		panic("trainer: duplicate parameter " + name)
	}
	if p.device != gotch.CPU {
		t = t.MustTo(p.device, true)
	}
	torch.InPlace(t, func() { t.MustRequiresGrad_(true) })
	q := &Param{Name: name, Tensor: t}
	p.list = append(p.list, q)
	p.byName[name] = q
	return t
}

// weight is a [dims] tensor drawn from the truncated normal BERT and ELECTRA
// initialise every dense and embedding matrix with.
func (p *Params) weight(name string, dims ...int64) *ts.Tensor {
	return p.add(name, truncNormal(dims, p.std))
}

func (p *Params) zeros(name string, dims ...int64) *ts.Tensor {
	return p.add(name, ts.MustZeros(dims, gotch.Float, gotch.CPU))
}

func (p *Params) ones(name string, dims ...int64) *ts.Tensor {
	return p.add(name, ts.MustOnes(dims, gotch.Float, gotch.CPU))
}

// truncNormal draws N(0, std^2) truncated to two standard deviations by
// inverting the normal CDF on uniform noise (no rejection loop, so the
// number of draws, and hence the RNG stream, is fixed).
func truncNormal(dims []int64, std float64) *ts.Tensor {
	cdf := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	lo, hi := cdf(-2), cdf(2)
	u := ts.MustRand(dims, gotch.Float, gotch.CPU)
	// u in [0,1) -> 2u'-1 with u' in [lo, hi), the erfinv domain of [-2, 2].
	x := mulAdd(u, 2*(hi-lo), 2*lo-1, true)
	z := x.MustErfinv(true)
	out := mulAdd(z, std*math.Sqrt2, 0, true)
	clampSym(out, 2*std)
	return out
}

// mulAdd returns t*a + b.
func mulAdd(t *ts.Tensor, a, b float64, del bool) *ts.Tensor {
	sa := ts.FloatScalar(a)
	defer sa.MustDrop()
	out := t.MustMulScalar(sa, del)
	if b != 0 {
		sb := ts.FloatScalar(b)
		defer sb.MustDrop()
		torch.InPlace(out, func() { out.MustAddScalar_(sb) })
	}
	return out
}

// clampSym clamps t in place to [-c, c].
func clampSym(t *ts.Tensor, c float64) {
	lo, hi := ts.FloatScalar(-c), ts.FloatScalar(c)
	defer lo.MustDrop()
	defer hi.MustDrop()
	torch.InPlace(t, func() { t.MustClamp_(lo, hi) })
}

// Linear is y = x W^T + b with W [out, in], PyTorch's (and HF's) layout.
type Linear struct{ W, B *ts.Tensor }

func newLinear(p *Params, name string, in, out int) *Linear {
	return &Linear{
		W: p.weight(name+".weight", int64(out), int64(in)),
		B: p.zeros(name+".bias", int64(out)),
	}
}

// Forward maps [..., in] to [..., out].
func (l *Linear) Forward(x *ts.Tensor) *ts.Tensor { return ts.MustLinear(x, l.W, l.B) }

// LayerNorm normalises the last dimension, with gain and bias.
type LayerNorm struct {
	W, B *ts.Tensor
	dim  int64
	eps  float64
}

func newLayerNorm(p *Params, name string, dim int, eps float64) *LayerNorm {
	return &LayerNorm{W: p.ones(name+".weight", int64(dim)), B: p.zeros(name+".bias", int64(dim)), dim: int64(dim), eps: eps}
}

// Forward maps [..., dim] to [..., dim]. A bfloat16 input (bf16 autocast)
// is normalised in float32, as CUDA's autocast does for layer norm; the
// CPU's autocast in libtorch 1.13 instead passes it through and fails on
// the float32 gain.
func (n *LayerNorm) Forward(x *ts.Tensor) *ts.Tensor {
	if torch.IsBFloat16(x) {
		x32 := x.MustTotype(gotch.Float, false)
		defer x32.MustDrop()
		return ts.MustLayerNorm(x32, []int64{n.dim}, n.W, n.B, n.eps, true)
	}
	return ts.MustLayerNorm(x, []int64{n.dim}, n.W, n.B, n.eps, true)
}
