package wordpiece

import "unicode"

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
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isSpace is Rust's char::is_whitespace (the White_Space property).
func isSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// isPunct is ASCII punctuation or Unicode P*.
func isPunct(r rune) bool {
	if r < 0x80 {
		return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
	}
	return unicode.In(r, unicode.P)
}

// isMarkNonspacing is general category Mn.
func isMarkNonspacing(r rune) bool { return unicode.Is(unicode.Mn, r) }

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
	return append(dst, unicode.ToLower(r))
}
