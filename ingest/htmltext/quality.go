package htmltext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reasons Quality.Check gives, one per filter, for counting in summaries.
const (
	ReasonTooFewWords   = "too-few-words"
	ReasonLowAlpha      = "low-alpha-fraction"
	ReasonFewPunctLines = "few-punctuated-lines"
	ReasonRepeatedLines = "repeated-lines"
)

// Quality holds document-level filters in the spirit of the heuristics
// used to clean web text for pre-training (C4, Raffel et al. 2020; Gopher's
// MassiveWeb, Rae et al. 2021). The zero value filters nothing; each field
// set to zero disables its filter. DefaultQuality gives the usual values.
type Quality struct {
	// MinWords drops documents with fewer whitespace-separated words:
	// menus, error pages and stubs teach nothing. Default 50.
	MinWords int
	// MinAlphaFraction drops documents where letters make up less than
	// this fraction of the non-space characters (tables of numbers, code,
	// symbol soup). Default 0.7.
	MinAlphaFraction float64
	// MinPunctLineFraction drops documents where fewer than this fraction
	// of lines end in terminal punctuation (. ! ? or a closing quote):
	// prose ends its sentences, link lists and menus do not. Default 0.25.
	MinPunctLineFraction float64
	// MaxRepeatedLineFraction drops documents where more than this
	// fraction of lines repeat an earlier line of the same document
	// (boilerplate, spam). Default 0.3.
	MaxRepeatedLineFraction float64
}

// DefaultQuality returns the filters with their documented defaults.
func DefaultQuality() Quality {
	return Quality{MinWords: 50, MinAlphaFraction: 0.7, MinPunctLineFraction: 0.25, MaxRepeatedLineFraction: 0.3}
}

// Check returns "" when the lines pass every filter, else the reason of the
// first one that fails.
func (q Quality) Check(lines []string) string {
	words, letters, nonSpace, punct, repeated := 0, 0, 0, 0, 0
	var seen map[string]struct{}
	if q.MaxRepeatedLineFraction > 0 {
		seen = make(map[string]struct{}, len(lines))
	}
	for _, l := range lines {
		inWord := false
		for _, r := range l {
			if r < utf8.RuneSelf {
				// ASCII fast path: most web text is.
				switch {
				case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
					inWord = false
					continue
				case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
					letters++
				}
				if !inWord {
					words++
					inWord = true
				}
				nonSpace++
				continue
			}
			if unicode.IsSpace(r) {
				inWord = false
				continue
			}
			if !inWord {
				words++
				inWord = true
			}
			nonSpace++
			if unicode.IsLetter(r) {
				letters++
			}
		}
		if endsSentence(l) {
			punct++
		}
		if seen != nil {
			if _, dup := seen[l]; dup {
				repeated++
			} else {
				seen[l] = struct{}{}
			}
		}
	}
	switch {
	case words < q.MinWords:
		return ReasonTooFewWords
	case q.MinAlphaFraction > 0 && float64(letters) < q.MinAlphaFraction*float64(nonSpace):
		return ReasonLowAlpha
	case q.MinPunctLineFraction > 0 && float64(punct) < q.MinPunctLineFraction*float64(len(lines)):
		return ReasonFewPunctLines
	case q.MaxRepeatedLineFraction > 0 && float64(repeated) > q.MaxRepeatedLineFraction*float64(len(lines)):
		return ReasonRepeatedLines
	}
	return ""
}

// endsSentence reports whether line ends in terminal punctuation, allowing
// closing quotes and brackets after it.
func endsSentence(line string) bool {
	line = strings.TrimRightFunc(line, unicode.IsSpace)
	for line != "" {
		r, size := utf8.DecodeLastRuneInString(line)
		switch r {
		case '"', '\'', '”', '’', '»', ')', ']':
			line = line[:len(line)-size]
			continue
		case '.', '!', '?', '…', '。', '！', '？':
			return true
		}
		return false
	}
	return false
}
