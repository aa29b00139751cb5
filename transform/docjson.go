package transform

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/electra-go/electra/schemas"
)

// decodeDocument parses and validates a document message. encoding/json
// costs as much CPU as tokenizing the text (measured by BenchmarkEndToEnd),
// so the common shape, one flat object of the contract's string fields, is
// parsed here in one pass; anything else (unknown or differently cased
// keys, escaped keys, null, non-string values, invalid UTF-8, surrogate
// escapes, trailing data) goes to schemas.DecodeDocument, which gives the
// exact error. FuzzDecodeDocument checks both agree.
//
// The text is not copied into a string of its own: a tokenizer goroutine
// passes the same scratch for every document, the text is unescaped into
// it (every document has escaped newlines) and Text, like Title, URL and
// Lang, aliases it or b. Only ID and Source, which examples keep, are new
// strings. So the document is valid until the next call with the same
// scratch, or until b changes.
//
// The unescaping finds the text's line breaks (each is an escape), and
// scratch.lines keeps where they are: the stage splits the text into
// sentences from them rather than scanning it again.
func decodeDocument(b []byte, scratch *docScratch) (schemas.Document, error) {
	if d, ok := fastDocument(b, scratch); ok {
		// fastDocument refuses invalid UTF-8 (the fallback reports it).
		return d, d.ValidateDecoded()
	}
	d, err := schemas.DecodeDocument(b)
	scratch.lines = scratch.lines[:0]
	for i := 0; ; {
		k := strings.IndexByte(d.Text[i:], '\n')
		if k < 0 {
			break
		}
		scratch.lines = append(scratch.lines, i+k)
		i += k + 1
	}
	return d, err
}

// docScratch is a tokenizer goroutine's memory for decoding documents.
type docScratch struct {
	text []byte // the unescaped strings
	// lines holds the offsets of the '\n's of the last document's Text.
	lines []int
}

// sentences yields the lines of text whose '\n's are at lines, as
// schemas.Document.Sentences does: without the '\r's before each break,
// empty ones left out.
func sentences(text string, lines []int, yield func(string)) {
	start := 0
	for k := 0; k <= len(lines); k++ {
		end := len(text)
		if k < len(lines) {
			end = lines[k]
		}
		line := text[start:end]
		start = end + 1
		for len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if line != "" {
			yield(line)
		}
	}
}

func fastDocument(b []byte, scratch *docScratch) (schemas.Document, bool) {
	var d schemas.Document
	buf := scratch.text[:0]
	defer func() { scratch.text = buf }()
	scratch.lines = scratch.lines[:0]
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return d, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := jsonString(b, i, nil, nil)
			if !ok {
				return d, false
			}
			j = skipSpace(b, j)
			if j >= len(b) || b[j] != ':' {
				return d, false
			}
			var lines *[]int
			if string(key) == "text" {
				scratch.lines = scratch.lines[:0] // a repeated key: the last counts
				lines = &scratch.lines
			}
			val, k, ok := jsonString(b, skipSpace(b, j+1), &buf, lines)
			if !ok {
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
			case "text":
				d.Text = alias(val)
			default:
				return d, false
			}
			k = skipSpace(b, k)
			if k >= len(b) {
				return d, false
			}
			if b[k] == '}' {
				i = k + 1
				break
			}
			if b[k] != ',' {
				return d, false
			}
			i = skipSpace(b, k+1)
		}
	}
	if skipSpace(b, i) != len(b) {
		return d, false
	}
	return d, true
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
// *buf and is a slice of that (a nil buf refuses escapes), and the offsets
// of its '\n's in the value go onto *lines if lines is not nil. It refuses what
// encoding/json would alter (invalid UTF-8, surrogate escapes) so that the
// fallback reproduces those cases exactly.
func jsonString(b []byte, i int, buf *[]byte, lines *[]int) ([]byte, int, bool) {
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
		if j+1 >= len(b) {
			return nil, 0, false
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			if lines != nil {
				*lines = append(*lines, len(out)-start)
			}
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if j+6 > len(b) {
				return nil, 0, false
			}
			v, err := strconv.ParseUint(string(b[j+2:j+6]), 16, 16)
			if err != nil || (v >= 0xD800 && v < 0xE000) {
				return nil, 0, false
			}
			if v == '\n' && lines != nil {
				*lines = append(*lines, len(out)-start)
			}
			out = utf8.AppendRune(out, rune(v))
			j += 4
		default:
			return nil, 0, false
		}
		i = j + 2
		var h bool
		n, h = jsonStop(b[i:])
		high = high || h
		j = i + n
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
