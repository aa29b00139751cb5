package trainer

import (
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Discriminator tells, for every token, whether the generator replaced it:
// shared embeddings, its own encoder, then dense, GELU, dense(1).
type Discriminator struct {
	Embeddings *Embeddings // shared with the generator
	Encoder    *Encoder
	Dense      *Linear // H -> H
	Prediction *Linear // H -> 1
}

func newDiscriminator(p *Params, emb *Embeddings, c Config) *Discriminator {
	return &Discriminator{
		Embeddings: emb,
		Encoder:    newEncoder(p, "discriminator.electra", c),
		Dense:      newLinear(p, "discriminator.discriminator_predictions.dense", c.HiddenSize, c.HiddenSize),
		Prediction: newLinear(p, "discriminator.discriminator_predictions.dense_prediction", c.HiddenSize, 1),
	}
}

// Forward maps the corrupted ids and segments [B, L] to replaced-token
// logits [B, L] (positive: "replaced").
func (d *Discriminator) Forward(s *torch.Scope, ids, segments, maskAdd *ts.Tensor, train bool) *ts.Tensor {
	x := d.Embeddings.Forward(s, ids, segments, train) // [B, L, E]
	h := d.Encoder.Forward(s, x, maskAdd, train)       // [B, L, H]
	h = s.Keep(d.Dense.Forward(h))
	h = s.Keep(h.MustGelu(false))
	logits := s.Keep(d.Prediction.Forward(h)) // [B, L, 1]
	return s.Keep(logits.MustSqueezeDim(-1, false))
}
