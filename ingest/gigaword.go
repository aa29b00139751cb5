package ingest

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"iter"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

func init() { Register("gigaword", openGigaword) }

// gigawordReader reads LDC Gigaword SGML (plain, .gz or .bz2): a sequence
// of <DOC id=… type=…> elements with no root element, each with an
// optional <HEADLINE>, an optional <DATELINE> and a <TEXT> that holds <P>
// paragraphs or bare text.
type gigawordReader struct {
	counter
	path   string
	opts   Options
	r      io.Reader
	closer io.Closer
}

func openGigaword(path string, opts Options) (Reader, error) {
	g := &gigawordReader{path: path, opts: opts}
	r, c, err := openInput(path, &g.counter)
	if err != nil {
		return nil, err
	}
	g.r, g.closer = r, c
	return g, nil
}

func (g *gigawordReader) Close() error { return g.closer.Close() }

var (
	docOpen  = []byte("<DOC ")
	docClose = []byte("</DOC>")
	sgmlAttr = regexp.MustCompile(`([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))`)
	anyTag   = regexp.MustCompile(`</?[A-Za-z][^<>]*>`)
)

func (g *gigawordReader) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		stopped := false
		err := scanElements(g.r, docOpen, docClose, g.opts.maxRecord(), func(off int64, raw []byte, kind elementKind) bool {
			var rec Record
			switch kind {
			case elemWhole:
				rec = gigawordRecord(raw, off, g.path, g.opts)
			case elemTooLarge:
				rec = Record{File: g.path, Offset: off, Dead: deadLetter("too-large",
					fmt.Errorf("<DOC> is larger than the %d-byte record cap (raise --max-record-bytes)", g.opts.maxRecord()), g.path, off, "", raw)}
			case elemTruncated:
				rec = Record{File: g.path, Offset: off, Dead: deadLetter("truncated",
					fmt.Errorf("input ends inside a <DOC>"), g.path, off, "", raw)}
			}
			if !yield(rec, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(Record{}, fmt.Errorf("%s: %w", g.path, err))
		}
	}
}

func gigawordRecord(raw []byte, off int64, file string, opts Options) Record {
	rec := Record{File: file, Offset: off}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		rec.Repaired = "invalid-utf8"
	}
	s := string(raw)
	end := strings.IndexByte(s, '>')
	if end < 0 {
		rec.Dead = deadLetter("malformed-sgml", fmt.Errorf("<DOC tag is not closed with '>'"), file, off, "", raw)
		return rec
	}
	attrs := map[string]string{}
	for _, m := range sgmlAttr.FindAllStringSubmatch(s[len(docOpen):end], -1) {
		attrs[strings.ToLower(m[1])] = m[2] + m[3] + m[4]
	}
	id := strings.TrimSpace(attrs["id"])
	if id == "" {
		rec.Dead = deadLetter("no-id", fmt.Errorf("<DOC> has no id attribute"), file, off, "", raw)
		return rec
	}
	if t, ok := attrs["type"]; ok && !opts.KeepAllTypes && !strings.EqualFold(t, "story") {
		rec.Skip = "gigaword-type"
		return rec
	}
	body := s[end+1:]
	text, ok := sgmlElement(body, "TEXT")
	if !ok {
		rec.Dead = deadLetter("malformed-sgml", fmt.Errorf("<DOC id=%q> has no <TEXT>…</TEXT>", id), file, off, id, raw)
		return rec
	}
	var paras []string
	if strings.Contains(text, "<P>") || strings.Contains(text, "<p>") {
		for rest := text; ; {
			p, after, ok := cutElement(rest, "P")
			if !ok {
				break
			}
			paras = append(paras, sgmlText(p))
			rest = after
		}
	} else {
		paras = append(paras, sgmlText(text))
	}
	headline, _ := sgmlElement(body, "HEADLINE")
	source := opts.source(schemas.SourceGigaword)
	rec.Doc = schemas.Document{
		ID:     source + ":" + id,
		Source: source,
		Title:  strings.Join(strings.Fields(sgmlText(headline)), " "),
		Lang:   opts.lang(),
		Text:   strings.Join(paras, "\n\n"),
	}
	if strings.TrimSpace(rec.Doc.Text) == "" {
		rec.Doc = schemas.Document{}
		rec.Skip = "empty"
	}
	return rec
}

// sgmlElement returns the content of the first <name>…</name> in s
// (either case).
func sgmlElement(s, name string) (string, bool) {
	c, _, ok := cutElement(s, name)
	return c, ok
}

func cutElement(s, name string) (content, after string, ok bool) {
	open := indexFold(s, "<"+name+">")
	if open < 0 {
		return "", s, false
	}
	rest := s[open+len(name)+2:]
	close := indexFold(rest, "</"+name+">")
	if close < 0 {
		return "", s, false
	}
	return rest[:close], rest[close+len(name)+3:], true
}

// sgmlText removes stray tags and decodes entities; line breaks stay as
// soft wraps.
func sgmlText(s string) string {
	s = anyTag.ReplaceAllString(s, " ")
	return html.UnescapeString(s)
}
