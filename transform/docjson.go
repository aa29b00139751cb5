package transform

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

// decodeDocument parses a document message. encoding/json costs as much
// CPU as tokenizing the text (measured by BenchmarkEndToEnd), so the common
// shape, one flat object of the contract's string fields, is parsed here
// in one pass; anything else (unknown or differently cased keys, null,
// non-string values, invalid UTF-8, surrogate escapes, trailing data) goes
// to schemas.DecodeDocument, which gives the exact error. FuzzDecodeDocument
// checks both agree.
func decodeDocument(b []byte) (schemas.Document, error) {
	if d, ok := fastDocument(b); ok {
		return d, d.Validate()
	}
	return schemas.DecodeDocument(b)
}

func fastDocument(b []byte) (schemas.Document, bool) {
	var d schemas.Document
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return d, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := fastString(b, i)
			if !ok {
				return d, false
			}
			j = skipSpace(b, j)
			if j >= len(b) || b[j] != ':' {
				return d, false
			}
			val, k, ok := fastString(b, skipSpace(b, j+1))
			if !ok {
				return d, false
			}
			switch key {
			case "id":
				d.ID = val
			case "source":
				d.Source = val
			case "title":
				d.Title = val
			case "url":
				d.URL = val
			case "lang":
				d.Lang = val
			case "text":
				d.Text = val
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

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// fastString reads a JSON string starting at b[i] == '"'. It refuses what
// encoding/json would alter (invalid UTF-8, surrogate escapes) so that the
// fallback reproduces those cases exactly.
func fastString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	i++
	start := i
	ascii := true
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			s := b[start:i]
			if !ascii && !utf8.Valid(s) {
				return "", 0, false
			}
			return string(s), i + 1, true
		}
		if c == '\\' {
			return slowString(b, start)
		}
		if c < 0x20 {
			return "", 0, false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	return "", 0, false
}

// slowString unescapes a string that holds backslashes; start is just
// after the opening quote. Runs between escapes are copied whole.
func slowString(b []byte, start int) (string, int, bool) {
	var out strings.Builder
	out.Grow(len(b) - start)
	for i := start; i < len(b); {
		j := i
		for j < len(b) && b[j] != '\\' && b[j] != '"' && b[j] >= 0x20 {
			j++
		}
		out.Write(b[i:j])
		if j >= len(b) || b[j] < 0x20 {
			return "", 0, false
		}
		if b[j] == '"' {
			s := out.String()
			if !utf8.ValidString(s) {
				return "", 0, false
			}
			return s, j + 1, true
		}
		i = j
		if i+1 >= len(b) {
			return "", 0, false
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out.WriteByte(e)
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			if i+6 > len(b) {
				return "", 0, false
			}
			v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
			if err != nil || (v >= 0xD800 && v < 0xE000) {
				return "", 0, false
			}
			out.WriteRune(rune(v))
			i += 6
			continue
		default:
			return "", 0, false
		}
		i += 2
	}
	return "", 0, false
}
