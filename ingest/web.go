package ingest

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/text/language"

	"github.com/electra-go/electra/ingest/htmltext"
	"github.com/electra-go/electra/ingest/warc"
	"github.com/electra-go/electra/schemas"
)

// Web crawl formats. WET files carry text CommonCrawl already extracted
// (conversion records); WARC files carry raw HTTP responses whose HTML we
// extract ourselves. ClueWeb09/12 are WARC files whose records also carry a
// WARC-TREC-ID, the id TREC relevance judgements use.
const (
	FormatCommonCrawlWET  = "commoncrawl-wet"
	FormatCommonCrawlWARC = "commoncrawl-warc"
	FormatClueWeb         = "clueweb"
)

func init() {
	Register(FormatCommonCrawlWET, openWeb(FormatCommonCrawlWET))
	Register(FormatCommonCrawlWARC, openWeb(FormatCommonCrawlWARC))
	Register(FormatClueWeb, openWeb(FormatClueWeb))
}

// Skip reasons of the web formats; the quality filters add htmltext's
// Reason* values.
const (
	skipLang      = "lang"     // identified language is not Options.Lang
	skipNotHTML   = "not-html" // a response whose payload is not HTML
	skipNoText    = "no-text"  // HTML with no text outside the page chrome
	skipWARCType  = "warc-"    // + the WARC-Type of records the format does not use
	skipHTTPCode  = "http-"    // + the status of non-200 responses
	deadBadHTTP   = "bad-http"
	deadBinary    = "binary-payload"
	maxHTTPBody   = 64 << 20
	maxExcerptRaw = 1024
)

// webReader reads one WARC or WET file.
type webReader struct {
	counter
	format string
	path   string
	opts   Options
	f      *os.File
}

func openWeb(format string) OpenFunc {
	return func(path string, opts Options) (Reader, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return &webReader{format: format, path: path, opts: opts, f: f}, nil
	}
}

func (w *webReader) Close() error { return w.f.Close() }

// seekCounter counts the bytes read for progress and keeps the file
// seekable, which lets the WARC reader look for the gzip member after a
// damaged one from the damaged one's start.
type seekCounter struct {
	f *os.File
	c *counter
}

func (s seekCounter) Read(p []byte) (int, error) {
	n, err := s.f.Read(p)
	s.c.n.Add(int64(n))
	return n, err
}

func (s seekCounter) Seek(off int64, whence int) (int64, error) {
	pos, err := s.f.Seek(off, whence)
	if err == nil {
		s.c.n.Store(pos)
	}
	return pos, err
}

func (w *webReader) quality() htmltext.Quality {
	if w.opts.Quality != nil {
		return *w.opts.Quality
	}
	return htmltext.DefaultQuality()
}

func (w *webReader) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		r := warc.NewReader(seekCounter{w.f, &w.counter})
		if w.opts.MaxRecordBytes > 0 {
			r.MaxRecordBytes = int64(w.opts.MaxRecordBytes)
		}
		q := w.quality()
		// The pipeline wants strictly increasing offsets (resume skips
		// at or before the last acknowledged one). A damage report can
		// sit at the very offset where the next good record starts, so
		// ties are broken by nudging forward: deterministic for a given
		// file, so resume stays exact. Dead letters keep the true offset.
		last := int64(-1)
		order := func(off int64) int64 {
			if off <= last {
				off = last + 1
			}
			last = off
			return off
		}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			var we *warc.Error
			if errors.As(err, &we) {
				id := warc.TrimURI(we.Header.Get("WARC-TREC-ID"))
				if id == "" {
					id = warc.TrimURI(we.Header.Get("WARC-Record-ID"))
				}
				dl := deadLetter(we.Reason, fmt.Errorf("%s: %w", w.path, we), w.path, we.Offset, id, we.Excerpt)
				if !yield(Record{File: w.path, Offset: order(we.Offset), Dead: dl}, nil) {
					return
				}
				continue
			}
			if err != nil {
				yield(Record{}, fmt.Errorf("%s: %w", w.path, err))
				return
			}
			out := w.convert(rec, q)
			out.File, out.Offset = w.path, order(rec.Offset)
			if !yield(out, nil) {
				return
			}
		}
	}
}

// convert turns one intact WARC record into a document, a skip or a dead
// letter.
func (w *webReader) convert(rec *warc.Record, q htmltext.Quality) Record {
	typ := strings.ToLower(rec.Type())
	if w.format == FormatCommonCrawlWET {
		if typ != "conversion" {
			return Record{Skip: skipWARCType + typ}
		}
		return w.document(rec, "", textLines(string(rec.Content)), firstLanguage(rec.Header.Get("WARC-Identified-Content-Language")), q)
	}
	if typ != "response" {
		return Record{Skip: skipWARCType + typ}
	}
	// Responses to dns: or ftp: fetches carry other content types; a
	// missing one is given the benefit of the doubt.
	if ct := strings.ToLower(rec.Header.Get("Content-Type")); ct != "" && !strings.HasPrefix(ct, "application/http") {
		return Record{Skip: skipNotHTML}
	}
	resp, err := warc.ParseHTTPResponse(rec.Content, maxHTTPBody)
	if err != nil {
		return Record{Dead: deadLetter(deadBadHTTP, fmt.Errorf("%s: record %s at offset %d: %w", w.path, rec.ID(), rec.Offset, err),
			w.path, rec.Offset, w.id(rec), rec.Content[:min(len(rec.Content), maxExcerptRaw)])}
	}
	if resp.StatusCode != 200 {
		return Record{Skip: skipHTTPCode + strconv.Itoa(resp.StatusCode)}
	}
	mt := resp.MediaType()
	if mt == "" {
		mt, _, _ = strings.Cut(http.DetectContentType(resp.Body), ";")
	}
	if mt != "text/html" && mt != "application/xhtml+xml" {
		return Record{Skip: skipNotHTML}
	}
	page, err := htmltext.Extract(resp.Body, resp.ContentType())
	if err != nil {
		reason := "bad-html"
		if errors.Is(err, htmltext.ErrBinary) {
			reason = deadBinary
		}
		return Record{Dead: deadLetter(reason, fmt.Errorf("%s: record %s at offset %d (%s): %w", w.path, rec.ID(), rec.Offset, rec.TargetURI(), err),
			w.path, rec.Offset, w.id(rec), resp.Body[:min(len(resp.Body), maxExcerptRaw)])}
	}
	return w.document(rec, page.Title, page.Lines, normLang(page.Lang), q)
}

// document applies the language and quality filters and builds the
// document: each line (HTML block, WET line) a paragraph.
func (w *webReader) document(rec *warc.Record, title string, lines []string, lang string, q htmltext.Quality) Record {
	if len(lines) == 0 {
		return Record{Skip: skipNoText}
	}
	if want := w.opts.Lang; want != "" && lang != "" && !sameLanguage(lang, want) {
		return Record{Skip: skipLang}
	}
	if reason := q.Check(lines); reason != "" {
		return Record{Skip: reason}
	}
	if lang == "" {
		lang = w.opts.Lang
	}
	source := schemas.SourceCommonCrawl
	if w.format == FormatClueWeb {
		source = schemas.SourceClueWeb
	}
	return Record{Doc: schemas.Document{
		ID:     w.id(rec),
		Source: w.opts.source(source),
		Title:  title,
		URL:    rec.TargetURI(),
		Lang:   lang,
		Text:   strings.Join(lines, "\n\n"),
	}}
}

// id is the document id: WARC-TREC-ID for ClueWeb (what qrels use), the
// WARC-Record-ID otherwise; both are stable across re-ingests.
func (w *webReader) id(rec *warc.Record) string {
	if w.format == FormatClueWeb {
		if id := strings.TrimSpace(rec.Header.Get("WARC-TREC-ID")); id != "" {
			return id
		}
	}
	return warc.TrimURI(rec.ID())
}

// textLines splits WET text into its non-blank lines; CommonCrawl writes
// one block of the page per line.
func textLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// firstLanguage maps CommonCrawl's WARC-Identified-Content-Language
// ("eng,fra": ISO 639-3 codes, most likely first) to a BCP 47 tag ("en").
func firstLanguage(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return normLang(first)
}

// normLang canonicalises a language tag or ISO 639 code to its BCP 47 base
// language ("eng" and "en-GB" give "en"); "" when it is not a language.
func normLang(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	tag, err := language.Parse(s)
	if err != nil {
		return ""
	}
	base, conf := tag.Base()
	// "und" and unknown subtags come back as a guess (often "en").
	if conf != language.Exact {
		return ""
	}
	return base.String()
}

func sameLanguage(a, b string) bool {
	return normLang(a) == normLang(b)
}
