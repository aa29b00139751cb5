package wordpiece

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// runeTableSize: characters below it (Latin, Greek, Cyrillic, Arabic,
// Indic scripts, general punctuation) have their whole normalization
// precomputed per tokenizer, so accented and non-English text skips the
// Unicode table lookups.
const runeTableSize = 0x3000

// A runeTable entry: what the encoder does with a character, and the one
// character it becomes (low 21 bits).
const (
	rComplex   uint32 = iota // anything else: the general path
	rDrop                    // removed, no effect on held marks
	rDrainOnly               // a mark that is dropped but ends a run of marks
	rSpace                   // ends the word
	rPunct                   // becomes punctuation: a word of its own
	rWord                    // becomes one word character
)

func buildRuneTable(t *Tokenizer) []uint32 {
	tab := make([]uint32, runeTableSize)
	for r := rune(utf8.RuneSelf); r < runeTableSize; r++ {
		kind, m := classifyRune(t, r)
		tab[r] = kind<<21 | uint32(m)
	}
	return tab
}

// classifyRune works out, for the characters simple enough to be one table
// entry, what rune/normalize/decomposed/lower/pretok would do to r alone.
func classifyRune(t *Tokenizer, r rune) (uint32, rune) {
	if t.cleanText {
		if isOther(r) {
			return rDrop, 0
		}
		if isSpace(r) {
			return rSpace, 0
		}
	}
	if t.chinese && isCJK(r) || r >= hangulBase && r < hangulBase+hangulCount {
		return rComplex, 0
	}
	base := r
	if t.stripAccents {
		var b [utf8.UTFMax]byte
		p := norm.NFD.Properties(b[:utf8.EncodeRune(b[:], r)])
		d := p.Decomposition()
		if d == nil || !decomposes(r) {
			switch {
			case p.CCC() != 0 && isMarkNonspacing(r):
				return rDrop, 0
			case p.CCC() != 0:
				return rComplex, 0 // a surviving non-starter waits for ordering
			case isMarkNonspacing(r):
				return rDrainOnly, 0
			}
		} else {
			first, size := utf8.DecodeRune(d)
			if norm.NFD.Properties(d).CCC() != 0 || isMarkNonspacing(first) {
				return rComplex, 0
			}
			for rest := d[size:]; len(rest) > 0; {
				m, n := utf8.DecodeRune(rest)
				if !isMarkNonspacing(m) {
					return rComplex, 0
				}
				rest = rest[n:]
			}
			base = first
		}
	}
	if t.lowercase {
		if base == 0x130 {
			return rComplex, 0
		}
		base = lowerRune(base)
	}
	switch {
	case isSpace(base):
		return rSpace, 0
	case isPunct(base):
		return rPunct, base
	}
	return rWord, base
}
