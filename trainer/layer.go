package trainer

import (
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Layer is one post-LN transformer encoder block:
//
//	x = LN(x + Dropout(Attention(x)))
//	x = LN(x + Dropout(W2 GELU(W1 x)))
type Layer struct {
	Attention    *Attention
	Intermediate *Linear // H -> FFN
	Output       *Linear // FFN -> H
	LayerNorm    *LayerNorm
	dropout      float64
}

func newLayer(p *Params, prefix string, c Config) *Layer {
	return &Layer{
		Attention:    newAttention(p, prefix+".attention", c),
		Intermediate: newLinear(p, prefix+".intermediate.dense", c.HiddenSize, c.IntermediateSize),
		Output:       newLinear(p, prefix+".output.dense", c.IntermediateSize, c.HiddenSize),
		LayerNorm:    newLayerNorm(p, prefix+".output.LayerNorm", c.HiddenSize, c.LayerNormEps),
		dropout:      c.Dropout,
	}
}

// Forward maps x [B, L, H] to [B, L, H].
func (y *Layer) Forward(s *torch.Scope, x, maskAdd *ts.Tensor, train bool) *ts.Tensor {
	x = y.Attention.Forward(s, x, maskAdd, train)
	f := s.Keep(y.Intermediate.Forward(x)) // [B, L, FFN]
	f = s.Keep(f.MustGelu(false))
	f = s.Keep(y.Output.Forward(f)) // [B, L, H]
	f = s.Keep(ts.MustDropout(f, y.dropout, train))
	f = s.Keep(f.MustAdd(x, false))
	return s.Keep(y.LayerNorm.Forward(f))
}
