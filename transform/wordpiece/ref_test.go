package wordpiece

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A slow, literal transcription of HuggingFace's pipeline, one stage at a
// time over whole strings, for differential tests of the fast single-pass
// encoder. It shares only the character-class predicates (checked on their
// own against HuggingFace for every code point by TestCodePoints).

func refNormalize(t *Tokenizer, s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		// ToValidUTF8 merges runs of bad bytes; either way they are dropped
		// below (or kept as U+FFFD without clean_text, where the count
		// differs; FuzzTokenize only feeds invalid UTF-8 with clean_text).
	}
	var b strings.Builder
	if t.cleanText {
		for _, r := range s {
			switch {
			case r == 0 || r == 0xFFFD || isOther(r):
			case isSpace(r):
				b.WriteRune(' ')
			default:
				b.WriteRune(r)
			}
		}
		s, b = b.String(), strings.Builder{}
	}
	if t.chinese {
		for _, r := range s {
			if isCJK(r) {
				b.WriteRune(' ')
				b.WriteRune(r)
				b.WriteRune(' ')
			} else {
				b.WriteRune(r)
			}
		}
		s, b = b.String(), strings.Builder{}
	}
	if t.stripAccents {
		// NFD, leaving alone the few characters HuggingFace's older
		// normalization tables do not decompose.
		var nfd strings.Builder
		seg := 0
		for i, r := range s {
			if !decomposes(r) {
				nfd.WriteString(norm.NFD.String(s[seg:i]))
				nfd.WriteRune(r)
				seg = i + utf8.RuneLen(r)
			}
		}
		nfd.WriteString(norm.NFD.String(s[seg:]))
		for _, r := range nfd.String() {
			if !isMarkNonspacing(r) {
				b.WriteRune(r)
			}
		}
		s, b = b.String(), strings.Builder{}
	}
	if t.lowercase {
		var rs []rune
		for _, r := range s {
			rs = toLower(rs, r)
		}
		s = string(rs)
	}
	return s
}

func refPreTokenize(s string) []string {
	var words []string
	var cur []rune
	end := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = nil
		}
	}
	for _, r := range s {
		switch {
		case isSpace(r):
			end()
		case isPunct(r):
			end()
			words = append(words, string(r))
		default:
			cur = append(cur, r)
		}
	}
	end()
	return words
}

func refWordPiece(t *Tokenizer, word string) []int32 {
	if utf8.RuneCountInString(word) > t.maxChars {
		return []int32{t.unk}
	}
	var out []int32
	for start := 0; start < len(word); {
		end := len(word)
		var id int32 = -1
		for ; end > start; end-- {
			if !utf8.RuneStart(word[end-1]) && end < len(word) && !utf8.RuneStart(word[end]) {
				continue
			}
			if end < len(word) && !utf8.RuneStart(word[end]) {
				continue
			}
			piece := word[start:end]
			if start > 0 {
				piece = t.prefix + piece
			}
			if v, ok := t.ids[piece]; ok && t.inModel(piece) {
				id = v
				break
			}
		}
		if id < 0 {
			return []int32{t.unk}
		}
		out = append(out, id)
		start = end
	}
	return out
}

// inModel reports whether tok is a model (not added-only) token.
func (t *Tokenizer) inModel(tok string) bool {
	_, ok := t.head[tok]
	return ok
}

func refEncode(t *Tokenizer, text string) []int32 {
	var out []int32
	plain := func(s string) {
		for _, w := range refPreTokenize(refNormalize(t, s)) {
			out = append(out, refWordPiece(t, w)...)
		}
	}
	for {
		best, bestLen, bestID := -1, 0, int32(0)
		for i := 0; i < len(text) && best < 0; i++ {
			for _, a := range t.added {
				if strings.HasPrefix(text[i:], a.content) && len(a.content) > bestLen {
					best, bestLen, bestID = i, len(a.content), a.id
				}
			}
		}
		if best < 0 {
			plain(text)
			return out
		}
		plain(text[:best])
		out = append(out, bestID)
		text = text[best+bestLen:]
	}
}

// refWords is the words HuggingFace's pre-tokenizer hands to WordPiece,
// with added tokens left out.
func refWords(t *Tokenizer, text string) []string {
	var out []string
	for {
		best, bestLen := -1, 0
		for i := 0; i < len(text) && best < 0; i++ {
			for _, a := range t.added {
				if strings.HasPrefix(text[i:], a.content) && len(a.content) > bestLen {
					best, bestLen = i, len(a.content)
				}
			}
		}
		if best < 0 {
			return append(out, refPreTokenize(refNormalize(t, text))...)
		}
		out = append(out, refPreTokenize(refNormalize(t, text[:best]))...)
		text = text[best+bestLen:]
	}
}
