package wordpiece

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ASCII character classes after BertNormalizer, per tokenizer options.
const (
	aWord uint8 = iota
	aSpace
	aPunct
	aDrop
)

// stackWord is the word buffer Encode keeps on its stack: enough for
// max_input_chars_per_word = 100 characters of up to 4 bytes (a longer word
// becomes [UNK], so its bytes need not be kept).
const stackWord = 4*100 + 8

// Encode appends the ids of text to dst and returns the extended slice. It
// adds no [CLS]/[SEP]. It allocates only when dst must grow.
func (t *Tokenizer) Encode(dst []int32, text string) []int32 {
	e := encoder{t: t, dst: dst}
	e.run(text)
	return e.dst
}

// run cuts added tokens out of text and runs the rest through the pipeline.
func (e *encoder) run(text string) {
	t := e.t
	for len(t.added) > 0 && len(text) > 0 {
		pos, a := t.nextAdded(text)
		if pos < 0 {
			break
		}
		e.text(text[:pos])
		e.flush()
		if e.words == nil {
			e.dst = append(e.dst, a.id)
		}
		text = text[pos+len(a.content):]
	}
	e.text(text)
	e.flush()
}

// nextAdded finds the leftmost added token in s, the longest one where
// several start at the same place (HuggingFace's leftmost-longest match).
func (t *Tokenizer) nextAdded(s string) (int, *addedToken) {
	for off := 0; off < len(s); off++ {
		if t.addedOne >= 0 {
			i := strings.IndexByte(s[off:], byte(t.addedOne))
			if i < 0 {
				return -1, nil
			}
			off += i
		} else if !t.addedFirst[s[off]] {
			continue
		}
		for i := range t.added {
			if strings.HasPrefix(s[off:], t.added[i].content) {
				return off, &t.added[i]
			}
		}
	}
	return -1, nil
}

// encoder is the state of one Encode call: the word being built and the
// non-starters waiting for canonical (NFD) ordering.
type encoder struct {
	t    *Tokenizer
	dst  []int32
	w, n int // bytes and characters in the current word
	buf  [stackWord]byte
	// spill holds words longer than buf, possible only when a
	// tokenizer.json raises max_input_chars_per_word above 100, or when
	// training sees every word whole.
	spill []byte
	// words, when set, receives each pre-tokenized word instead of its ids
	// being appended (vocabulary training).
	words   func(word []byte)
	scratch []byte

	pend [32]rune
	pccc [32]uint8
	np   int
}

func (e *encoder) text(s string) {
	t := e.t
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			class := t.asciiClass[c]
			// Held marks wait across dropped characters: clean_text
			// removes those before NFD orders the marks.
			if e.np > 0 && class != aDrop {
				e.drain()
			}
			switch class {
			case aWord:
				// A run of ASCII word characters, by far the commonest
				// input, in one tight loop; the per-byte path below takes
				// what does not fit.
				if room := min(t.maxChars-e.n, len(e.buf)-e.w); room > 0 && len(e.spill) == 0 {
					j, w := i-1, e.w
					end := min(len(s), j+room)
					for ; j < end; j++ {
						b := s[j]
						if b >= utf8.RuneSelf || t.asciiClass[b] != aWord {
							break
						}
						e.buf[w] = t.asciiLower[b]
						w++
					}
					e.n += w - e.w
					e.w = w
					i = j
					continue
				}
				e.n++
				if e.n <= t.maxChars {
					if e.w < len(e.buf) {
						e.buf[e.w] = t.asciiLower[c]
						e.w++
					} else {
						e.addSpill(rune(t.asciiLower[c]))
					}
				}
			case aSpace:
				e.flush()
			case aPunct:
				e.flush()
				e.punctASCII(c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		e.rune(r)
	}
}

// rune runs one non-ASCII input character through BertNormalizer and
// BertPreTokenizer.
func (e *encoder) rune(r rune) {
	t := e.t
	if r < runeTableSize {
		info := t.runes[r]
		m := rune(info & (1<<21 - 1))
		switch info >> 21 {
		case rDrop:
			return
		case rDrainOnly:
			if e.np > 0 {
				e.drain()
			}
			return
		case rSpace:
			e.flush()
			return
		case rPunct:
			e.pretok(m)
			return
		case rWord:
			if e.np > 0 {
				e.drain()
			}
			e.add(m)
			return
		}
	}
	if t.chinese && (r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF) {
		// The common CJK ideographs: no case, no decomposition, never
		// dropped; each is a word of its own.
		e.flush()
		e.add(r)
		e.flush()
		return
	}
	if t.cleanText {
		if r == utf8.RuneError || isOther(r) {
			return // removed before NFD, so it does not end a run of marks
		}
		if isSpace(r) {
			e.flush()
			return
		}
	}
	if t.chinese && isCJK(r) {
		e.flush()
		e.normalize(r)
		e.flush()
		return
	}
	e.normalize(r)
}

// normalize applies NFD + dropping Mn (when stripping accents), then
// lowercasing, and hands the resulting characters to the pre-tokenizer.
func (e *encoder) normalize(r rune) {
	if !e.t.stripAccents {
		e.lower(r)
		return
	}
	if r >= hangulBase && r < hangulBase+hangulCount {
		// Hangul syllables decompose algorithmically into conjoining jamo,
		// all starters.
		s := r - hangulBase
		e.decomposed(0x1100+s/(21*28), 0)
		e.decomposed(0x1161+s%(21*28)/28, 0)
		if t := s % 28; t != 0 {
			e.decomposed(0x11A7+t, 0)
		}
		return
	}
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	p := norm.NFD.Properties(b[:n])
	d := p.Decomposition()
	if d == nil || !decomposes(r) {
		e.decomposed(r, p.CCC())
		return
	}
	for len(d) > 0 {
		q := norm.NFD.Properties(d)
		dr, size := utf8.DecodeRune(d)
		d = d[size:]
		e.decomposed(dr, q.CCC())
	}
}

// decomposed takes one character of the NFD form. Non-starters are held
// until the next starter so they can be put in canonical order; marks are
// dropped, which does not change the order of the rest.
func (e *encoder) decomposed(r rune, ccc uint8) {
	if ccc == 0 {
		if e.np > 0 {
			e.drain()
		}
		if !isMarkNonspacing(r) {
			e.lower(r)
		}
		return
	}
	if isMarkNonspacing(r) {
		return
	}
	if e.np == len(e.pend) {
		// More than 32 surviving non-starters in a row (not text anyone
		// writes): order them in batches rather than grow.
		e.drain()
	}
	e.pend[e.np], e.pccc[e.np] = r, ccc
	e.np++
}

// drain emits the held non-starters in canonical order (stable by ccc).
func (e *encoder) drain() {
	n := e.np
	e.np = 0
	pend, pccc := e.pend, e.pccc
	for i := 1; i < n; i++ {
		for j := i; j > 0 && pccc[j-1] > pccc[j]; j-- {
			pend[j-1], pend[j] = pend[j], pend[j-1]
			pccc[j-1], pccc[j] = pccc[j], pccc[j-1]
		}
	}
	for _, r := range pend[:n] {
		e.lower(r)
	}
}

func (e *encoder) lower(r rune) {
	if !e.t.lowercase {
		e.pretok(r)
		return
	}
	if r == 0x130 {
		// Full case mapping (Rust's char::to_lowercase); Go's simple
		// mapping would give a bare "i".
		e.pretok('i')
		e.pretok(0x307)
		return
	}
	e.pretok(lowerRune(r))
}

// pretok places one normalized character: whitespace ends the word,
// punctuation is a word of its own, anything else extends the word.
func (e *encoder) pretok(r rune) {
	if r < utf8.RuneSelf {
		switch e.t.pretokASCII[r] {
		case aSpace:
			e.flush()
			return
		case aPunct:
			e.flush()
			e.punctASCII(byte(r))
			return
		}
		e.add(r)
		return
	}
	if isSpace(r) {
		e.flush()
		return
	}
	if isPunct(r) {
		e.flush()
		e.add(r)
		e.flush()
		return
	}
	e.add(r)
}

func (e *encoder) add(r rune) {
	e.n++
	if e.n > e.t.maxChars {
		return // the word is [UNK] whatever follows; count, don't keep
	}
	if e.w+utf8.UTFMax > len(e.buf) {
		e.addSpill(r)
		return
	}
	if r < utf8.RuneSelf {
		e.buf[e.w] = byte(r)
		e.w++
		return
	}
	e.w += utf8.EncodeRune(e.buf[e.w:], r)
}

func (e *encoder) addSpill(r rune) {
	if len(e.spill) == 0 {
		e.spill = append(e.spill, e.buf[:e.w]...)
	}
	e.spill = utf8.AppendRune(e.spill, r)
	e.w = len(e.spill)
}

// punctASCII emits an ASCII punctuation character as a word of its own.
func (e *encoder) punctASCII(c byte) {
	if e.words != nil {
		e.scratch = append(e.scratch[:0], c)
		e.words(e.scratch)
		return
	}
	e.dst = append(e.dst, e.t.punct[c])
}

// flush ends the current word and appends its WordPiece ids.
func (e *encoder) flush() {
	if e.np > 0 {
		e.drain()
	}
	if e.n == 0 {
		return
	}
	if e.words != nil {
		if len(e.spill) > 0 {
			e.words(e.spill)
		} else {
			// A copy: handing out buf itself would make the encoder escape
			// to the heap on the Encode path too.
			e.scratch = append(e.scratch[:0], e.buf[:e.w]...)
			e.words(e.scratch)
		}
	} else if e.n > e.t.maxChars {
		e.dst = append(e.dst, e.t.unk)
	} else if len(e.spill) > 0 {
		e.dst = e.t.wordpiece(e.dst, e.spill)
	} else {
		e.dst = e.t.wordpiece(e.dst, e.buf[:e.w])
	}
	e.w, e.n = 0, 0
	e.spill = e.spill[:0]
}

// wordpiece appends the greedy longest-match-first pieces of word, or one
// [UNK] if some part of it matches no piece. The vocabulary is valid UTF-8,
// so every match ends on a character boundary, as HuggingFace's loop over
// character boundaries requires.
func (t *Tokenizer) wordpiece(dst []int32, word []byte) []int32 {
	id, n := t.headTrie.longest(word)
	if id < 0 {
		return append(dst, t.unk)
	}
	if n == len(word) {
		return append(dst, id)
	}
	mark := len(dst)
	dst = append(dst, id)
	for start := n; start < len(word); start += n {
		if id, n = t.contTrie.longest(word[start:]); id < 0 {
			return append(dst[:mark], t.unk)
		}
		dst = append(dst, id)
	}
	return dst
}

const (
	hangulBase  = 0xAC00
	hangulCount = 19 * 21 * 28
)

// EncodeBatch encodes texts on workers goroutines (GOMAXPROCS when
// workers <= 0). The result is in input order. It stops early with the
// context's error when ctx is cancelled.
func (t *Tokenizer) EncodeBatch(ctx context.Context, texts []string, workers int) ([][]int32, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([][]int32, len(texts))
	const chunk = 64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, (len(texts)+chunk-1)/chunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(texts) {
					return
				}
				for i := lo; i < min(lo+chunk, len(texts)); i++ {
					out[i] = t.Encode(make([]int32, 0, len(texts[i])/4+4), texts[i])
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Decode joins the tokens of ids with spaces, gluing "##" continuations to
// the piece before them. It is meant for people reading examples; it does not
// undo normalization.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		tok := t.Token(id)
		if rest, ok := strings.CutPrefix(tok, t.prefix); ok && i > 0 && rest != "" {
			b.WriteString(rest)
			continue
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	return b.String()
}
