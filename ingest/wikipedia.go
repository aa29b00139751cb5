package ingest

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

func init() { Register("wikipedia", openWikipedia) }

// siteInfo is what we need from a dump's <siteinfo>: the base URL for
// document URLs and the database name for ids and language.
type siteInfo struct {
	dbname string // "enwiki"
	base   string // "https://en.wikipedia.org/wiki/"
}

func parseSiteInfo(head []byte) siteInfo {
	var si siteInfo
	if v, ok := between(head, "<dbname>", "</dbname>"); ok {
		si.dbname = v
	}
	if v, ok := between(head, "<base>", "</base>"); ok {
		if i := strings.LastIndexByte(v, '/'); i >= 0 {
			si.base = v[:i+1]
		}
	}
	return si
}

func between(b []byte, open, close string) (string, bool) {
	i := bytes.Index(b, []byte(open))
	if i < 0 {
		return "", false
	}
	rest := b[i+len(open):]
	j := bytes.Index(rest, []byte(close))
	if j < 0 {
		return "", false
	}
	return strings.TrimSpace(string(rest[:j])), true
}

// wikiPage is one <page> of a MediaWiki export (schema 0.10 and 0.11 share
// these elements). A history dump has several revisions; the last wins.
type wikiPage struct {
	Title    string `xml:"title"`
	NS       int    `xml:"ns"`
	ID       string `xml:"id"`
	Redirect *struct {
		Title string `xml:"title,attr"`
	} `xml:"redirect"`
	Revisions []struct {
		Model string `xml:"model"`
		Text  string `xml:"text"`
	} `xml:"revision"`
}

var (
	pageOpen  = []byte("<page>")
	pageClose = []byte("</page>")
)

// pageRecord turns one raw <page> element into a Record.
func pageRecord(raw []byte, off int64, file string, si siteInfo, opts Options) Record {
	rec := Record{File: file, Offset: off}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		rec.Repaired = "invalid-utf8"
	}
	var p wikiPage
	if err := xml.Unmarshal(raw, &p); err != nil {
		rec.Dead = deadLetter("malformed-xml", fmt.Errorf("parsing <page>: %w", err), file, off, "", raw)
		return rec
	}
	switch {
	case p.NS != 0:
		rec.Skip = "namespace"
		return rec
	case p.Redirect != nil:
		rec.Skip = "redirect"
		return rec
	case len(p.Revisions) == 0:
		rec.Dead = deadLetter("no-revision", fmt.Errorf("page %q has no <revision>", p.Title), file, off, p.ID, raw)
		return rec
	}
	rev := p.Revisions[len(p.Revisions)-1]
	if rev.Model != "" && rev.Model != "wikitext" {
		rec.Skip = "content-model"
		return rec
	}
	if strings.TrimSpace(p.ID) == "" {
		rec.Dead = deadLetter("no-id", fmt.Errorf("page %q has no <id>", p.Title), file, off, "", raw)
		return rec
	}
	db := si.dbname
	if db == "" {
		db = "wiki"
	}
	lang := opts.Lang
	if lang == "" && strings.HasSuffix(db, "wiki") {
		// enwiki → en, zh_yuewiki → zh-yue; testwiki and the like → default.
		if l := strings.ReplaceAll(strings.TrimSuffix(db, "wiki"), "_", "-"); isLangCode(l) {
			lang = l
		}
	}
	if lang == "" {
		lang = opts.lang()
	}
	rec.Doc = schemas.Document{
		ID:     opts.source(schemas.SourceWikipedia) + ":" + db + ":" + strings.TrimSpace(p.ID),
		Source: opts.source(schemas.SourceWikipedia),
		Title:  p.Title,
		Lang:   lang,
		Text:   WikitextToText(rev.Text),
	}
	if si.base != "" {
		rec.Doc.URL = si.base + url.PathEscape(strings.ReplaceAll(p.Title, " ", "_"))
	}
	if strings.TrimSpace(rec.Doc.Text) == "" {
		rec.Doc = schemas.Document{}
		rec.Skip = "empty"
	}
	return rec
}

func deadLetter(reason string, err error, file string, off int64, id string, raw []byte) *schemas.DeadLetter {
	return &schemas.DeadLetter{
		Stage: "ingest", Reason: reason, Error: err.Error(),
		SourceFile: file, Offset: off, RecordID: id, Excerpt: schemas.Excerpt(raw),
	}
}

// wikiReader reads an export serially: plain XML, .bz2 (one stream or
// many) or .gz.
type wikiReader struct {
	counter
	path   string
	opts   Options
	r      io.Reader
	closer io.Closer
}

func openWikipedia(path string, opts Options) (Reader, error) {
	index := opts.Index
	if index == "" {
		index = findIndex(path)
	}
	if index != "" && opts.Workers > 1 {
		return openMultistream(path, index, opts)
	}
	w := &wikiReader{path: path, opts: opts}
	r, c, err := openInput(path, &w.counter)
	if err != nil {
		return nil, err
	}
	w.r, w.closer = r, c
	return w, nil
}

// findIndex returns the multistream index next to a dump named like
// enwiki-…-multistream.xml.bz2 (…-multistream-index.txt[.bz2]), or "".
func findIndex(path string) string {
	base := strings.TrimSuffix(path, ".bz2")
	base = strings.TrimSuffix(base, ".xml")
	for _, cand := range []string{base + "-index.txt", base + "-index.txt.bz2"} {
		if fi, err := os.Stat(cand); err == nil && fi.Mode().IsRegular() {
			return cand
		}
	}
	return ""
}

func (w *wikiReader) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		br := bufio.NewReaderSize(w.r, 1<<20)
		head, _ := br.Peek(64 << 10)
		si := parseSiteInfo(head)
		stopped := false
		err := scanElements(br, pageOpen, pageClose, w.opts.maxRecord(), func(off int64, raw []byte, kind elementKind) bool {
			var rec Record
			switch kind {
			case elemWhole:
				rec = pageRecord(raw, off, w.path, si, w.opts)
			case elemTooLarge:
				rec = Record{File: w.path, Offset: off, Dead: deadLetter("too-large",
					fmt.Errorf("<page> is larger than the %d-byte record cap (raise --max-record-bytes)", w.opts.maxRecord()), w.path, off, "", raw)}
			case elemTruncated:
				rec = Record{File: w.path, Offset: off, Dead: deadLetter("truncated",
					fmt.Errorf("input ends inside a <page>"), w.path, off, "", raw)}
			}
			if !yield(rec, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(Record{}, fmt.Errorf("%s: %w", w.path, err))
		}
	}
}

func (w *wikiReader) Close() error { return w.closer.Close() }
