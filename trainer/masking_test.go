package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMaskCountsAndSpecials(t *testing.T) {
	c, _ := Preset("small") // mask_prob 0.15, max_predictions 19, seq 128
	tests := []struct {
		name   string
		length int
		ids    func(i int) int32 // token at position i (0 = [CLS], length-1 = [SEP])
		want   int
	}{
		{"full", 128, nil, 19},       // round(0.15*128)=19, cap 19
		{"half", 64, nil, 10},        // round(9.6)
		{"short", 5, nil, 1},         // round(0.75)=1
		{"minimum one", 3, nil, 1},   // round(0.45)=0 -> 1
		{"only specials", 2, nil, 0}, // [CLS][SEP]: nothing to mask
		{"masks already", 40, func(i int) int32 { // every other token is [MASK]: 19 candidates
			if i%2 == 1 {
				return c.Tokens.Mask
			}
			return 2000
		}, 6},
		{"few candidates", 30, func(i int) int32 { return c.Tokens.SEP }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := Batch{Size: 1, SeqLen: c.SeqLen, IDs: make([]int32, c.SeqLen), Segments: make([]int8, c.SeqLen), Lengths: []int16{int16(tc.length)}}
			for i := 0; i < tc.length; i++ {
				b.IDs[i] = 1000 + int32(i)
				if tc.ids != nil {
					b.IDs[i] = tc.ids(i)
				}
			}
			b.IDs[0] = c.Tokens.CLS
			if tc.length > 1 {
				b.IDs[tc.length-1] = c.Tokens.SEP
			}
			for seed := range uint64(50) {
				mk := Mask(b, c, rand.New(rand.NewPCG(seed, 9)))
				if len(mk.Positions) != tc.want {
					t.Fatalf("seed %d: %d positions, want %d", seed, len(mk.Positions), tc.want)
				}
				if !slices.IsSorted(mk.Positions) || len(slices.Compact(slices.Clone(mk.Positions))) != len(mk.Positions) {
					t.Fatalf("positions %v not ascending and distinct", mk.Positions)
				}
				for k, p := range mk.Positions {
					if int(p) >= tc.length || c.Tokens.special(b.IDs[p]) {
						t.Fatalf("masked position %d holds %d (length %d): specials and padding must never be masked", p, b.IDs[p], tc.length)
					}
					if mk.Originals[k] != int64(b.IDs[p]) {
						t.Fatalf("original at %d = %d, batch has %d", p, mk.Originals[k], b.IDs[p])
					}
				}
				for i := range b.IDs {
					if mk.IDs[i] != b.IDs[i] && !slices.Contains(mk.Positions, int64(i)) {
						t.Fatalf("position %d changed outside the chosen positions", i)
					}
				}
			}
		})
	}
}

// TestMaskStatistics: over many examples, 85% of chosen positions become
// [MASK] and 15% keep their token (never a random token), and every
// candidate position is equally likely.
func TestMaskStatistics(t *testing.T) {
	c, _ := Preset("small")
	rng := rand.New(rand.NewPCG(1, 2))
	const examples = 8000
	length := 100
	b := Batch{Size: 1, SeqLen: c.SeqLen, IDs: make([]int32, c.SeqLen), Segments: make([]int8, c.SeqLen), Lengths: []int16{int16(length)}}
	for i := range length {
		b.IDs[i] = 5000 + int32(i)
	}
	b.IDs[0], b.IDs[length-1] = c.Tokens.CLS, c.Tokens.SEP
	var chosen, masked, kept int
	hits := make([]int, length)
	for range examples {
		mk := Mask(b, c, rng)
		for k, p := range mk.Positions {
			chosen++
			hits[p]++
			switch mk.IDs[p] {
			case c.Tokens.Mask:
				masked++
			case int32(mk.Originals[k]):
				kept++
			default:
				t.Fatalf("position %d became %d: neither [MASK] nor the original", p, mk.IDs[p])
			}
		}
	}
	frac := float64(masked) / float64(chosen)
	// 120k draws: the binomial std of the fraction is ~0.001.
	if math.Abs(frac-0.85) > 0.01 {
		t.Fatalf("[MASK] fraction %.4f, want 0.85 (kept %d of %d)", frac, kept, chosen)
	}
	want := float64(chosen) / float64(length-2)
	for p := 1; p < length-1; p++ {
		if math.Abs(float64(hits[p])-want) > 0.1*want {
			t.Fatalf("position %d chosen %d times, uniform would be %.0f", p, hits[p], want)
		}
	}
	if hits[0] != 0 || hits[length-1] != 0 {
		t.Fatal("[CLS] or [SEP] was chosen")
	}
}

func TestMaskDeterministic(t *testing.T) {
	c, _ := Preset("tiny")
	b := syntheticBatch(c, 8, rand.New(rand.NewPCG(5, 5)))
	a := Mask(b, c, rand.New(rand.NewPCG(7, 7)))
	z := Mask(b, c, rand.New(rand.NewPCG(7, 7)))
	if !slices.Equal(a.IDs, z.IDs) || !slices.Equal(a.Positions, z.Positions) {
		t.Fatal("same seed, different masks")
	}
	d := Mask(b, c, rand.New(rand.NewPCG(7, 8)))
	if slices.Equal(a.Positions, d.Positions) {
		t.Fatal("different seeds, same masks")
	}
}
