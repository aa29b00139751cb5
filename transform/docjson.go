package transform

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/electra-go/electra/internal/prefetch"
	"github.com/electra-go/electra/schemas"
)

// decodeDocument parses and validates a document message and splits its
// text into sentences, scratch.sents: its lines, without the '\r's
// before each break, empty ones left out, as schemas.Document.Sentences
// gives them. The returned document has every field but Text, whose
// length is scratch.textLen.
//
// encoding/json costs as much CPU as tokenizing the text (measured by
// BenchmarkEndToEnd), so the common shape, one flat object of the
// contract's string fields, is parsed here in one pass; anything else
// (unknown or differently cased keys, escaped keys, null, non-string
// values, invalid UTF-8, surrogate escapes, trailing data) goes to
// schemas.DecodeDocument, which gives the exact error. FuzzDecodeDocument
// checks both agree.
//
// The text is not copied: a line without escapes (all of them but the
// line break, in most documents) is a slice of b, and only a line with
// other escapes is unescaped, into scratch.text, which a tokenizer
// goroutine reuses for every document. (Unescaping the whole text into
// it, as this did before, cost a fifth of decoding.) Title, URL and Lang
// alias scratch.text or b too; only ID and Source, which examples keep,
// are new strings. So the document and its sentences are valid until the
// next call with the same scratch, or until b changes.
func decodeDocument(b []byte, scratch *docScratch) (schemas.Document, error) {
	if d, ok := fastDocument(b, scratch); ok {
		// fastDocument refuses invalid UTF-8 (the fallback reports it).
		return d, d.ValidateText(scratch.textLen, scratch.blank)
	}
	d, err := schemas.DecodeDocument(b)
	scratch.sents = scratch.sents[:0]
	for line := range d.Sentences() {
		scratch.sents = append(scratch.sents, line)
	}
	scratch.textLen = len(d.Text)
	d.Text = ""
	return d, err
}

// docScratch is a tokenizer goroutine's memory for decoding documents.
type docScratch struct {
	text []byte // the unescaped strings
	// The last document's sentences, the length of its text and whether
	// the text is nothing but white space.
	sents   []string
	textLen int
	blank   bool
}

func fastDocument(b []byte, scratch *docScratch) (schemas.Document, bool) {
	var d schemas.Document
	buf := scratch.text[:0]
	defer func() { scratch.text = buf }()
	// Without a text key, the text is empty.
	scratch.sents, scratch.textLen, scratch.blank = scratch.sents[:0], 0, true
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return d, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := jsonString(b, i, nil)
			if !ok {
				return d, false
			}
			j = skipSpace(b, j)
			if j >= len(b) || b[j] != ':' {
				return d, false
			}
			var k int
			if string(key) == "text" {
				// A repeated key: the last counts.
				scratch.sents = scratch.sents[:0]
				scratch.textLen, scratch.blank, k, ok = jsonText(b, skipSpace(b, j+1), &buf, &scratch.sents)
				if !ok {
					return d, false
				}
			} else {
				var val []byte
				if val, k, ok = jsonString(b, skipSpace(b, j+1), &buf); !ok {
					return d, false
				}
				switch string(key) {
				case "id":
					d.ID = string(val)
				case "source":
					d.Source = string(val)
				case "title":
					d.Title = alias(val)
				case "url":
					d.URL = alias(val)
				case "lang":
					d.Lang = alias(val)
				default:
					return d, false
				}
			}
			var more bool
			if i, more, ok = nextKey(b, k); !ok {
				return d, false
			}
			if !more {
				break
			}
		}
	}
	if skipSpace(b, i) != len(b) {
		return d, false
	}
	return d, true
}

// nextKey reads what follows a value at b[k]: a comma, after which it
// returns the index of the next key and more, or the object's end, after
// which it returns the index past it.
func nextKey(b []byte, k int) (next int, more, ok bool) {
	k = skipSpace(b, k)
	switch {
	case k >= len(b):
		return 0, false, false
	case b[k] == '}':
		return k + 1, false, true
	case b[k] == ',':
		return skipSpace(b, k+1), true, true
	}
	return 0, false, false
}

// alias is b as a string without a copy; b must not change while the
// string is in use.
func alias(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonString reads a JSON string starting at b[i] == '"'. Without
// escapes the value is a slice of b; with escapes it is unescaped onto
// *buf and is a slice of that (a nil buf refuses escapes). It refuses
// what encoding/json would alter (invalid UTF-8, surrogate escapes) so
// that the fallback reproduces those cases exactly.
func jsonString(b []byte, i int, buf *[]byte) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	i++
	n, high := jsonStop(b[i:])
	j := i + n
	if j >= len(b) || b[j] < 0x20 {
		return nil, 0, false
	}
	if b[j] == '"' {
		v := b[i:j]
		if high && !utf8.Valid(v) {
			return nil, 0, false
		}
		return v, j + 1, true
	}
	if buf == nil {
		return nil, 0, false
	}
	// Runs between escapes are copied whole. The unescaped string is no
	// longer than the escaped one, so one growth at most.
	out := *buf
	if cap(out)-len(out) < len(b)-i {
		out = slices.Grow(out, len(b)-i)
	}
	start := len(out)
	for {
		out = append(out, b[i:j]...)
		if j >= len(b) || b[j] < 0x20 {
			return nil, 0, false
		}
		if b[j] == '"' {
			*buf = out
			v := out[start:]
			if high && !utf8.Valid(v) {
				return nil, 0, false
			}
			return v, j + 1, true
		}
		var ok bool
		if out, j, ok = unescape(b, j, out); !ok {
			return nil, 0, false
		}
		i = j
		var h bool
		n, h = jsonStop(b[i:])
		high = high || h
		j = i + n
	}
}

// unescape appends what the escape at b[j] == '\\' stands for to out and
// returns the index after the escape. It refuses surrogate escapes, which
// encoding/json replaces.
func unescape(b []byte, j int, out []byte) ([]byte, int, bool) {
	if j+1 >= len(b) {
		return out, 0, false
	}
	switch e := b[j+1]; e {
	case '"', '\\', '/':
		out = append(out, e)
	case 'b':
		out = append(out, '\b')
	case 'f':
		out = append(out, '\f')
	case 'n':
		out = append(out, '\n')
	case 'r':
		out = append(out, '\r')
	case 't':
		out = append(out, '\t')
	case 'u':
		v, ok := hex4(b, j+2)
		if !ok || (v >= 0xD800 && v < 0xE000) {
			return out, 0, false
		}
		return utf8.AppendRune(out, rune(v)), j + 6, true
	default:
		return out, 0, false
	}
	return out, j + 2, true
}

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (uint64, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return v, err == nil
}

// The text scan asks for the first lines of the page textPrefetchAhead
// bytes ahead whenever it enters a page (see jsonText).
const (
	pageSize          = 4 << 10
	textPrefetchAhead = 2 * pageSize
)

// jsonText reads the JSON string at b[i] == '"' that is a document's
// text and appends its sentences to *sents: its lines, without the '\r's
// before each break, empty ones left out. A line without escapes is a
// slice of b; a line with escapes (other than the break that ends it) is
// unescaped onto *buf and is a slice of that. It returns the unescaped
// text's length, whether it is nothing but white space, and the index
// after the string. Like jsonString, it refuses invalid UTF-8 and
// surrogate escapes.
func jsonText(b []byte, i int, buf *[]byte, sents *[]string) (n int, blank bool, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, 0, false
	}
	i++
	out := *buf
	blank = true
	lineStart := i // where the current line starts in b
	lineBuf := -1  // where it starts in out, once it had an escape
	var high bool  // whether it holds bytes >= 0x80
	// The text lies in a fetch response that came in megabytes ago and
	// has left the caches. Reading it in order, the CPU fetches ahead by
	// itself, but not across 4 KiB pages: each page started with misses.
	// So the first lines of the page two ahead are asked for whenever the
	// scan enters a page.
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	nextPage := (base + uintptr(i) + textPrefetchAhead) &^ (pageSize - 1)
	for {
		for nextPage <= base+uintptr(i)+textPrefetchAhead {
			prefetch.Range(nextPage, 4*64)
			nextPage += pageSize
		}
		k, h := jsonStop(b[i:])
		high = high || h
		j := i + k
		if j >= len(b) || b[j] < 0x20 {
			return 0, false, 0, false
		}
		if lineBuf >= 0 {
			out = append(out, b[i:j]...)
		}
		end := b[j] == '"' // of the text
		brk := !end && j+1 < len(b) && b[j+1] == 'n'
		if !end && !brk && j+1 < len(b) && b[j+1] == 'u' {
			v, ok := hex4(b, j+2)
			brk = ok && v == '\n'
		}
		if !end && !brk {
			// An escape within the line: from here on, the line is
			// unescaped into out. It is no longer than in b, nor is the
			// rest of the text, so out grows once at most.
			if lineBuf < 0 {
				if cap(out)-len(out) < len(b)-lineStart {
					out = slices.Grow(out, len(b)-lineStart)
				}
				lineBuf = len(out)
				out = append(out, b[lineStart:j]...)
			}
			if out, i, ok = unescape(b, j, out); !ok {
				return 0, false, 0, false
			}
			continue
		}
		var line string
		if lineBuf >= 0 {
			line = alias(out[lineBuf:])
		} else {
			line = alias(b[lineStart:j])
		}
		if high && !utf8.ValidString(line) {
			return 0, false, 0, false
		}
		n += len(line)
		for len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if line != "" {
			if blank && strings.TrimSpace(line) != "" {
				blank = false
			}
			*sents = append(*sents, line)
		}
		if end {
			*buf = out
			return n, blank, j + 1, true
		}
		n++ // the break
		i = j + 2
		if b[j+1] == 'u' {
			i = j + 6
		}
		lineStart, lineBuf, high = i, -1, false
	}
}

// jsonStop returns the index of the first byte of s that ends a run of
// plain string bytes ('"', '\\' or a control character), or len(s), and
// whether the run holds bytes >= 0x80. A document's text is one long run
// per line, so this scan passes over every byte of the input: where the
// CPU has AVX2 (jsonstop_amd64.s) it takes 32 bytes at a time, and
// jsonStopWords the rest: what follows the whole blocks, or all of s
// without AVX2.
func jsonStop(s []byte) (int, bool) {
	n, hi, stopped := jsonStopBlocks(s)
	if stopped {
		return n, hi
	}
	k, h := jsonStopWords(s[n:])
	return n + k, hi || h
}

// jsonStopWords is jsonStop 8 bytes at a time, in portable Go: a byte by
// byte loop here cost as much as a tenth of tokenizing the text.
func jsonStopWords(s []byte) (int, bool) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	var hi uint64
	i := 0
	// The words are read through array pointers, in bounds by the loop
	// condition, so that the loop has no bounds checks: they cost the
	// whole decoding 6%.
	p := unsafe.Pointer(unsafe.SliceData(s))
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(p, i))[:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// The lowest flagged byte is exact: a borrow only spreads upwards.
		m := ((q-ones)&^q | (bs-ones)&^bs | (x-ones*0x20)&^x) & high
		if m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			hi |= x & high & (1<<(8*k) - 1)
			return i + k, hi != 0
		}
		hi |= x & high
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		hi |= uint64(c & 0x80)
	}
	return i, hi != 0
}
