package experiment

import "github.com/electra-go/electra/trainer"

// FLOPs are counted the way the paper's reference does
// (google-research/electra flops_computation.py): an operation is one
// mathematical operation (a multiply-add is two), the backward pass costs
// as much as the forward pass, embedding lookups are dense one-hot
// matmuls, and only the masked fraction of positions pays for the MLM
// output softmax.

// Per-activation costs the reference assumes for its elementwise ops.
const (
	dropoutFLOPs    = 4 // random number, >=, mask multiply, rescale
	layerNormFLOPs  = 5 // mean, variance (square + sum), scale, shift
	activationFLOPs = 8 // tanh-form GELU
	softmaxFLOPs    = 5 // max-subtract, exp, sum, divide
)

// Transformer is one encoder as the FLOPs count sees it.
type Transformer struct {
	H, L, S, V, E, I int     // hidden, layers, sequence, vocab, embedding, FFN
	Heads, KQV       int     // attention heads and the width of Q, K, V (= H)
	OutputFrac       float64 // share of positions with an MLM softmax
}

// NewTransformer fills the reference's defaults: E = H and I = 4H unless
// given (0), KQV = H, one head per 64 hidden units.
func NewTransformer(h, l, s, v, e, i int, outputFrac float64) Transformer {
	if e == 0 {
		e = h
	}
	if i == 0 {
		i = 4 * h
	}
	return Transformer{H: h, L: l, S: s, V: v, E: e, I: i, Heads: max(h/64, 1), KQV: h, OutputFrac: outputFrac}
}

// BlockFLOPs is one encoder layer's forward pass over S tokens.
func (t Transformer) BlockFLOPs() float64 {
	h, s, i, kqv, heads := float64(t.H), float64(t.S), float64(t.I), float64(t.KQV), float64(t.Heads)
	per := 3*2*h*kqv + 3*kqv + // Q, K, V projections and biases
		2*kqv*s + // attention scores
		softmaxFLOPs*s*heads + dropoutFLOPs*s*heads + s*heads + // softmax, dropout, scaling
		2*h*s + // weighted average of the values
		2*h*h + h + dropoutFLOPs*h + h + layerNormFLOPs + // attention output, bias, dropout, residual, LayerNorm (the reference counts it once, not per unit)
		2*h*i + activationFLOPs*i + i + // FFN in, GELU, bias
		2*h*i + h + dropoutFLOPs*h + h + layerNormFLOPs*h // FFN out, bias, dropout, residual, LayerNorm
	return per * s
}

// EmbeddingFLOPs is the input embeddings' forward pass, or with output
// the MLM head's (paid on OutputFrac of the positions).
func (t Transformer) EmbeddingFLOPs(output bool) float64 {
	e, h, v, s := float64(t.E), float64(t.H), float64(t.V), float64(t.S)
	f := 2 * e * v // one-hot lookup, or the output projection
	if !output {
		f += 2*e*(s+2) + 2*e + layerNormFLOPs*e + dropoutFLOPs*e
	}
	if t.E != t.H || output {
		f += 2 * h * e // projection E -> H, or the head's dense H -> E
		if output {
			f += e // bias
			f += activationFLOPs*e + layerNormFLOPs*e + softmaxFLOPs*v + 2*v
			return t.OutputFrac * f * s
		}
		f += h
	}
	return f * s
}

// ClassifierFLOPs is the discriminator's per-token head: dense, GELU,
// dense(1).
func (t Transformer) ClassifierFLOPs() float64 {
	h := float64(t.H)
	return (2*h*h + h + activationFLOPs*h + 2*h) * float64(t.S)
}

// TrainFLOPs is forward + backward (twice the forward) for batch x steps
// examples, with the discriminator head or the MLM head.
func (t Transformer) TrainFLOPs(batch, steps float64, discriminator bool) float64 {
	head := t.EmbeddingFLOPs(true)
	if discriminator {
		head = t.ClassifierFLOPs()
	}
	return 2 * batch * steps * (float64(t.L)*t.BlockFLOPs() + t.EmbeddingFLOPs(false) + head)
}

// outputFrac is the reference's share of positions with an MLM softmax:
// max_predictions / seq_len.
func outputFrac(c trainer.Config) float64 {
	return float64(c.MaxPredictions) / float64(c.SeqLen)
}

// ElectraStepFLOPs is one pre-training step of c: the discriminator with
// its per-token head plus the generator with its MLM head (embeddings tied,
// so the generator's embedding size is the discriminator's).
func ElectraStepFLOPs(c trainer.Config) float64 {
	g := c.Generator()
	disc := NewTransformer(c.HiddenSize, c.NumLayers, c.SeqLen, c.VocabSize, c.EmbeddingSize, c.IntermediateSize, outputFrac(c))
	gen := NewTransformer(g.HiddenSize, g.NumLayers, c.SeqLen, c.VocabSize, c.EmbeddingSize, g.IntermediateSize, outputFrac(c))
	return disc.TrainFLOPs(float64(c.BatchSize), 1, true) + gen.TrainFLOPs(float64(c.BatchSize), 1, false)
}

// MLMStepFLOPs is one step of a BERT-style masked language model with c's
// discriminator shape.
func MLMStepFLOPs(c trainer.Config) float64 {
	t := NewTransformer(c.HiddenSize, c.NumLayers, c.SeqLen, c.VocabSize, c.EmbeddingSize, c.IntermediateSize, outputFrac(c))
	return t.TrainFLOPs(float64(c.BatchSize), 1, false)
}
