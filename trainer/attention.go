package trainer

import (
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Attention is multi-head self-attention followed by the output projection,
// dropout, the residual connection and LayerNorm (BERT's post-LN
// "attention" sub-block). Written with matmul and softmax because libtorch
// 1.13 has no fused scaled_dot_product_attention.
type Attention struct {
	Query, Key, Value *Linear // H -> H
	Output            *Linear // H -> H
	LayerNorm         *LayerNorm
	heads             int64
	dropout           float64
}

func newAttention(p *Params, prefix string, c Config) *Attention {
	h := c.HiddenSize
	return &Attention{
		Query:     newLinear(p, prefix+".self.query", h, h),
		Key:       newLinear(p, prefix+".self.key", h, h),
		Value:     newLinear(p, prefix+".self.value", h, h),
		Output:    newLinear(p, prefix+".output.dense", h, h),
		LayerNorm: newLayerNorm(p, prefix+".output.LayerNorm", h, c.LayerNormEps),
		heads:     int64(c.NumHeads),
		dropout:   c.Dropout,
	}
}

// Forward maps x [B, L, H] to [B, L, H]. maskAdd [B, 1, 1, L] is 0 on real
// tokens and a large negative number on padding, added to the scores so no
// query attends to padding.
func (a *Attention) Forward(s *torch.Scope, x, maskAdd *ts.Tensor, train bool) *ts.Tensor {
	size := x.MustSize()
	b, l, h := size[0], size[1], size[2]
	dh := h / a.heads
	split := func(t *ts.Tensor) *ts.Tensor { // [B, L, H] -> [B, heads, L, dh]
		v := s.Keep(t.MustView([]int64{b, l, a.heads, dh}, false))
		return s.Keep(v.MustTranspose(1, 2, false))
	}
	q := split(s.Keep(a.Query.Forward(x)))
	k := split(s.Keep(a.Key.Forward(x)))
	v := split(s.Keep(a.Value.Forward(x)))

	q = s.Keep(mulAdd(q, 1/math.Sqrt(float64(dh)), 0, false))
	kt := s.Keep(k.MustTranspose(2, 3, false))      // [B, heads, dh, L]
	scores := s.Keep(q.MustMatmul(kt, false))       // [B, heads, L, L]
	scores = s.Keep(scores.MustAdd(maskAdd, false)) // padding keys -> -10000
	// float32 whatever the scores' dtype, as autocast does for softmax;
	// gotch's DType cannot name bfloat16.
	probs := s.Keep(scores.MustSoftmax(-1, gotch.Float, false))
	probs = s.Keep(ts.MustDropout(probs, a.dropout, train))
	ctx := s.Keep(probs.MustMatmul(v, false))    // [B, heads, L, dh]
	ctx = s.Keep(ctx.MustTranspose(1, 2, false)) // [B, L, heads, dh]
	ctx = s.Keep(ctx.MustReshape([]int64{b, l, h}, false))

	out := s.Keep(a.Output.Forward(ctx))
	out = s.Keep(ts.MustDropout(out, a.dropout, train))
	out = s.Keep(out.MustAdd(x, false))
	return s.Keep(a.LayerNorm.Forward(out))
}
