package trainer

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Encoder is the transformer body one network (generator or discriminator)
// runs over the shared embeddings: an optional projection from the embedding
// size E to its hidden size H, then NumLayers blocks.
type Encoder struct {
	Project *Linear // E -> H; nil when E == H
	Layers  []*Layer
}

// newEncoder names its parameters prefix+".embeddings_project.*" and
// prefix+".encoder.layer.N.*", prefix being "<net>.electra".
func newEncoder(p *Params, prefix string, c Config) *Encoder {
	enc := &Encoder{}
	if c.EmbeddingSize != c.HiddenSize {
		enc.Project = newLinear(p, prefix+".embeddings_project", c.EmbeddingSize, c.HiddenSize)
	}
	for i := range c.NumLayers {
		enc.Layers = append(enc.Layers, newLayer(p, fmt.Sprintf("%s.encoder.layer.%d", prefix, i), c))
	}
	return enc
}

// Forward maps embeddings [B, L, E] to hidden states [B, L, H].
func (e *Encoder) Forward(s *torch.Scope, x, maskAdd *ts.Tensor, train bool) *ts.Tensor {
	if e.Project != nil {
		x = s.Keep(e.Project.Forward(x))
	}
	for _, l := range e.Layers {
		x = l.Forward(s, x, maskAdd, train)
	}
	return x
}
