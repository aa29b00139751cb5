package trainer

import (
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Generator is the small masked language model that proposes replacements:
// shared embeddings, its own narrower encoder, and an MLM head (dense, GELU,
// LayerNorm, then the word-embedding matrix transposed plus a bias).
type Generator struct {
	Embeddings *Embeddings // shared with the discriminator
	Encoder    *Encoder
	Dense      *Linear    // Hg -> E
	LayerNorm  *LayerNorm // over E
	OutputBias *ts.Tensor // [V]; the output weight is Embeddings.Word
}

func newGenerator(p *Params, emb *Embeddings, c Config) *Generator {
	g := c.Generator()
	return &Generator{
		Embeddings: emb,
		Encoder:    newEncoder(p, "generator.electra", g),
		Dense:      newLinear(p, "generator.generator_predictions.dense", g.HiddenSize, c.EmbeddingSize),
		LayerNorm:  newLayerNorm(p, "generator.generator_predictions.LayerNorm", c.EmbeddingSize, c.LayerNormEps),
		OutputBias: p.zeros("generator.generator_lm_head.bias", int64(c.VocabSize)),
	}
}

// Forward runs the generator on the masked input ids and segments [B, L]
// and returns vocabulary logits only at the masked positions: positions [N]
// index the flattened [B*L] sequence, the result is [N, V]. Like the
// reference, the vocabulary projection is never computed for unmasked
// tokens.
func (g *Generator) Forward(s *torch.Scope, ids, segments, maskAdd, positions *ts.Tensor, train bool) *ts.Tensor {
	x := g.Embeddings.Forward(s, ids, segments, train) // [B, L, E]
	h := g.Encoder.Forward(s, x, maskAdd, train)       // [B, L, Hg]
	hg := h.MustSize()[2]
	h = s.Keep(h.MustReshape([]int64{-1, hg}, false))  // [B*L, Hg]
	h = s.Keep(h.MustIndexSelect(0, positions, false)) // [N, Hg]
	h = s.Keep(g.Dense.Forward(h))                     // [N, E]
	h = s.Keep(h.MustGelu(false))
	h = s.Keep(g.LayerNorm.Forward(h))
	return s.Keep(ts.MustLinear(h, g.Embeddings.Word, g.OutputBias)) // [N, V]
}
