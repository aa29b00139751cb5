package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Masked is a batch after the masking step of the objective.
type Masked struct {
	// IDs is the generator's input [B*L]: the original ids with [MASK] at
	// 85% of the chosen positions; the other 15% keep their token (no
	// random-token replacement, the reference's choice).
	IDs []int32
	// Positions are the chosen positions as flat indices b*L+i, ascending:
	// where the generator predicts and later samples.
	Positions []int64
	// Originals are the original ids at Positions, the MLM targets.
	Originals []int64
}

// keepFraction of the chosen positions keep their token instead of [MASK].
const keepFraction = 0.15

// Mask chooses, per example, n = max(1, min(max_predictions,
// round(mask_prob*length))) distinct positions among its non-special,
// non-pad tokens (fewer if the example has fewer candidates), and masks
// 85% of them. length counts every non-pad token, [CLS] and [SEP]
// included, as the reference's input_mask does. The reference samples
// positions with replacement; we draw without, so n is exact.
func Mask(b Batch, c Config, rng *rand.Rand) Masked {
	out := Masked{IDs: slices.Clone(b.IDs)}
	cand := make([]int64, 0, b.SeqLen)
	for e := range b.Size {
		row := e * b.SeqLen
		length := int(b.Lengths[e])
		cand = cand[:0]
		for i := range length {
			if id := b.IDs[row+i]; !c.Tokens.special(id) {
				cand = append(cand, int64(row+i))
			}
		}
		n := max(1, min(c.MaxPredictions, int(math.Round(c.MaskProb*float64(length)))))
		n = min(n, len(cand))
		// Partial Fisher-Yates: the first n of cand become a uniform sample.
		for i := range n {
			j := i + rng.IntN(len(cand)-i)
			cand[i], cand[j] = cand[j], cand[i]
		}
		chosen := cand[:n]
		slices.Sort(chosen)
		for _, p := range chosen {
			out.Positions = append(out.Positions, p)
			out.Originals = append(out.Originals, int64(b.IDs[p]))
			if rng.Float64() >= keepFraction {
				out.IDs[p] = c.Tokens.Mask
			}
		}
	}
	return out
}

// special reports whether id may never be masked.
func (t SpecialTokens) special(id int32) bool {
	return id == t.Pad || id == t.CLS || id == t.SEP || id == t.Mask
}
