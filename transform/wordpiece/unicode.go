package wordpiece

import "unicode"

// HuggingFace's BertNormalizer and BertPreTokenizer classify characters with
// the unicode_categories crate, whose tables predate Go's (Unicode 15) by
// several versions: characters assigned or re-categorised since are not
// punctuation, marks or format characters to HuggingFace, and Rust's
// lowercasing follows a newer Unicode than Go's. The hf* tables in
// unicode_hf.go list exactly those code points; they were measured against
// HuggingFace code point by code point (scripts/hf/golden.js writes
// testdata/codepoints.tsv.gz, and TestCodePoints -update-unicode rewrites
// unicode_hf.go from it), and TestCodePoints checks all of them.

// Character classes as HuggingFace's BertNormalizer and BertPreTokenizer see
// them.

// isOther: Unicode "Other" (Cc, Cf, Co, Cs and unassigned Cn), minus the
// three controls BERT treats as whitespace.
func isOther(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	return goIsOther(r) && !unicode.Is(hfNotOther, r) || unicode.Is(hfOther, r)
}

// goIsOther: HuggingFace's table comes from UnicodeData.txt, which lists no
// unassigned (Cn) code points, so those are kept, not dropped.
func goIsOther(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) }

// isSpace is Rust's char::is_whitespace (the White_Space property).
func isSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// isPunct is ASCII punctuation or Unicode P*.
func isPunct(r rune) bool {
	if r < 0x80 {
		return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
	}
	return goIsPunct(r) && !unicode.Is(hfNotPunct, r) || unicode.Is(hfPunct, r)
}

func goIsPunct(r rune) bool { return unicode.In(r, unicode.P) }

// isMarkNonspacing is general category Mn.
func isMarkNonspacing(r rune) bool {
	return goIsMn(r) && !unicode.Is(hfNotMn, r) || unicode.Is(hfMn, r)
}

func goIsMn(r rune) bool { return unicode.Is(unicode.Mn, r) }

// isCJK is BERT's "Chinese character" ranges (CJK Unified Ideographs and
// their extensions and compatibility blocks; not Hangul, kana or CJK
// punctuation).
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B920 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}

// toLower appends the full lowercase mapping of r (Rust's char::to_lowercase):
// Go's unicode.ToLower is the simple mapping, which differs only for U+0130.
func toLower(dst []rune, r rune) []rune {
	if r == 0x130 {
		return append(dst, 'i', 0x307)
	}
	return append(dst, lowerRune(r))
}

// lowerRune is the lowercase of r for every r but U+0130.
func lowerRune(r rune) rune {
	if l, ok := hfLower[r]; ok {
		return l
	}
	return unicode.ToLower(r)
}

// decomposes reports whether NFD changes r for HuggingFace.
func decomposes(r rune) bool { return !unicode.Is(hfNoDecompose, r) }
