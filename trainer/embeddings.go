package trainer

import (
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Embeddings turns token ids into vectors: word + position + token type,
// then LayerNorm and dropout (BERT). The generator and the discriminator
// share one Embeddings; each projects its output to its own hidden size.
type Embeddings struct {
	Word      *ts.Tensor // [V, E], also the generator's output matrix
	Position  *ts.Tensor // [P, E]
	TokenType *ts.Tensor // [T, E]
	LayerNorm *LayerNorm // over E
	dropout   float64
}

func newEmbeddings(p *Params, prefix string, c Config) *Embeddings {
	e := int64(c.EmbeddingSize)
	return &Embeddings{
		Word:      p.weight(prefix+".word_embeddings.weight", int64(c.VocabSize), e),
		Position:  p.weight(prefix+".position_embeddings.weight", int64(c.MaxPositions), e),
		TokenType: p.weight(prefix+".token_type_embeddings.weight", int64(c.TypeVocabSize), e),
		LayerNorm: newLayerNorm(p, prefix+".LayerNorm", c.EmbeddingSize, c.LayerNormEps),
		dropout:   c.Dropout,
	}
}

// Forward maps ids and segments [B, L] (int64) to [B, L, E].
func (e *Embeddings) Forward(s *torch.Scope, ids, segments *ts.Tensor, train bool) *ts.Tensor {
	seqLen := ids.MustSize()[1]
	word := s.Keep(ts.MustEmbedding(e.Word, ids, -1, false, false))          // [B, L, E]
	pos := s.Keep(e.Position.MustNarrow(0, 0, seqLen, false))                // [L, E], broadcast over B
	typ := s.Keep(ts.MustEmbedding(e.TokenType, segments, -1, false, false)) // [B, L, E]
	x := s.Keep(word.MustAdd(pos, false))
	x = s.Keep(x.MustAdd(typ, false))
	x = s.Keep(e.LayerNorm.Forward(x))
	return s.Keep(ts.MustDropout(x, e.dropout, train))
}
