package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neurosnap/sentences"
	"github.com/neurosnap/sentences/english"
)

// Splitter turns paragraphs into the contract's text layout: one sentence
// per line, a blank line between paragraphs. It uses Punkt trained on
// English (shipped inside github.com/neurosnap/sentences), which knows
// abbreviations such as "Mr.", "U.S." and "e.g." and so does not end a
// sentence at them. A Splitter is not safe for concurrent use; make one
// per goroutine (loading one takes ~30 ms).
type Splitter struct {
	tok *sentences.DefaultSentenceTokenizer
	sb  strings.Builder
}

// NewSplitter loads the English Punkt model.
func NewSplitter() (*Splitter, error) {
	tok, err := english.NewSentenceTokenizer(nil)
	if err != nil {
		return nil, err
	}
	return &Splitter{tok: tok}, nil
}

// Split lays out raw paragraphs (separated by blank lines, with soft line
// wraps inside) as sentences and returns the text and its sentence count.
func (s *Splitter) Split(raw string) (string, int) {
	s.sb.Reset()
	n := 0
	for para := range paragraphs(raw) {
		// Punkt only ever breaks after '.', '?' or '!': a paragraph with
		// none of them before its closing punctuation (headings, list
		// items, titles) is one sentence, and Punkt is the slowest step.
		if !strings.ContainsAny(strings.TrimRight(para, endPunct), ".?!") {
			if s.sb.Len() > 0 {
				s.sb.WriteByte('\n')
			}
			s.sb.WriteString(para)
			s.sb.WriteByte('\n')
			n++
			continue
		}
		for _, sent := range s.tok.Tokenize(para) {
			line := strings.TrimSpace(sent.Text)
			if line == "" {
				continue
			}
			if n > 0 || s.sb.Len() > 0 {
				s.sb.WriteByte('\n')
			}
			s.sb.WriteString(line)
			n++
		}
		if s.sb.Len() > 0 {
			s.sb.WriteByte('\n')
		}
	}
	return strings.TrimRight(s.sb.String(), "\n"), n
}

// endPunct is what may close a sentence: end marks, quotes, brackets.
const endPunct = ".?!\"')]”’»"

// paragraphs yields each blank-line-separated paragraph of raw with its
// whitespace (soft wraps, tabs, runs of spaces, NBSP) collapsed to single
// spaces and control characters removed.
func paragraphs(raw string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		var b strings.Builder
		flush := func() bool {
			p := strings.TrimSpace(b.String())
			b.Reset()
			return p == "" || yield(p)
		}
		space := false
		lineEmpty := true
		for i := 0; i < len(raw); {
			r, size := utf8.DecodeRuneInString(raw[i:])
			i += size
			switch {
			case r == '\n':
				if lineEmpty {
					if !flush() {
						return
					}
					space = false
				} else {
					space = true
				}
				lineEmpty = true
			case unicode.IsSpace(r):
				space = true
			case unicode.IsControl(r) || r == '\u200b' || r == '\ufeff':
				// Drop: they carry no text and confuse tokenizers downstream.
			default:
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				space = false
				lineEmpty = false
				b.WriteRune(r)
			}
		}
		flush()
	}
}
