package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"

	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/electra-go/electra/ingest/htmltext"
	"github.com/electra-go/electra/schemas"
)

func webFixture(name string) string { return filepath.Join("warc", "testdata", name) }

// webOutcome summarises what a web reader yielded.
type webOutcome struct {
	docs  map[string]schemas.Document // by URL
	skips map[string]int
	dead  map[string]int
}

func readWeb(t *testing.T, format, path string, opts Options) webOutcome {
	t.Helper()
	r, err := Open(format, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := Collect(r)
	if err != nil {
		t.Fatal(err)
	}
	out := webOutcome{docs: map[string]schemas.Document{}, skips: map[string]int{}, dead: map[string]int{}}
	last := int64(-1)
	for _, rec := range recs {
		if rec.Offset <= last {
			t.Errorf("offsets not increasing: %d after %d", rec.Offset, last)
		}
		last = rec.Offset
		switch {
		case rec.Dead != nil:
			out.dead[rec.Dead.Reason]++
			if rec.Dead.SourceFile != path || !strings.Contains(rec.Dead.Error, path) {
				t.Errorf("dead letter does not name the file: %+v", rec.Dead)
			}
		case rec.Skip != "":
			out.skips[rec.Skip]++
		default:
			if _, dup := out.docs[rec.Doc.URL]; dup {
				t.Errorf("two documents for %s", rec.Doc.URL)
			}
			out.docs[rec.Doc.URL] = rec.Doc
		}
	}
	if r.BytesRead() == 0 {
		t.Error("BytesRead is 0 after reading")
	}
	return out
}

func urlsByBase(docs map[string]schemas.Document) []string {
	var out []string
	for u := range docs {
		out = append(out, filepath.Base(u))
	}
	slices.Sort(out)
	return out
}

// wget's WARC of the fixture site: one document per HTML page answered
// 200, nothing for requests, 404s, the stylesheet, the text file, the
// image or wget's own log records.
func TestWebWgetWARC(t *testing.T) {
	got := readWeb(t, FormatCommonCrawlWARC, webFixture("wget-site.warc.gz"), Options{})
	if b := urlsByBase(got.docs); fmt.Sprint(b) != "[index.html lighthouse.html tides.html]" {
		t.Errorf("documents for %v", b)
	}
	wantSkips := map[string]int{"warc-warcinfo": 1, "warc-request": 8, "warc-metadata": 1, "warc-resource": 2, "http-404": 2, "not-html": 3}
	if !maps.Equal(got.skips, wantSkips) || len(got.dead) != 0 {
		t.Errorf("skips %v dead %v, want skips %v", got.skips, got.dead, wantSkips)
	}
	var light schemas.Document
	for u, d := range got.docs {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("url %q: want the crawled URL without wget's angle brackets", u)
		}
		wantLang := "en" // <html lang="en">; tides.html declares none
		if strings.HasSuffix(u, "/tides.html") {
			wantLang = ""
		}
		if !strings.HasPrefix(d.ID, "urn:uuid:") || d.Source != schemas.SourceCommonCrawl || d.Lang != wantLang {
			t.Errorf("doc %s: id %q source %q lang %q", u, d.ID, d.Source, d.Lang)
		}
		if strings.HasSuffix(u, "/lighthouse.html") {
			light = d
		}
	}
	// Hand-checked: the article's blocks as paragraphs, chrome gone.
	want := strings.Join([]string{
		"How a Lighthouse Works",
		"A lighthouse is a tower that carries a bright lamp, so that ships can find their way at night. The light is focused by a large lens, which bends the rays into a narrow beam.",
		"Early towers burned wood or coal in an open fire. Later keepers used oil lamps with polished reflectors, and since the twentieth century most lights have been electric.",
		"The Fresnel lens",
		"In 1822 Augustin Fresnel built a lens from many rings of glass. It was thinner & lighter than a solid lens, and it sent the beam more than twenty miles out to sea.",
		"First-order lenses stood taller than a keeper.",
		"Sixth-order lenses fit on a table.",
		"Each light flashes in its own pattern, called its characteristic, so that sailors can tell one tower from another.",
		"A chart lists every pattern along the coast.",
	}, "\n\n")
	if light.Text != want || light.Title != "How a Lighthouse Works — Harbour Notes" {
		t.Errorf("lighthouse.html:\n%s\nwant:\n%s", light.Text, want)
	}
}

func TestWebClueWeb09(t *testing.T) {
	got := readWeb(t, FormatClueWeb, webFixture("clueweb09-sample.warc.gz"), Options{})
	d, ok := got.docs["http://keepers.example.org/history.html"]
	if !ok || len(got.docs) != 1 {
		t.Fatalf("docs %v", got.docs)
	}
	if d.ID != "clueweb09-en0000-00-00000" || d.Source != schemas.SourceClueWeb || d.Title != "Keepers of the Light" {
		t.Errorf("doc %+v", d)
	}
	if !strings.HasPrefix(d.Text, "Keepers of the Light\n\nFor two hundred years the keepers climbed the stairs") || strings.Contains(d.Text, "Site map") {
		t.Errorf("text %q", d.Text)
	}
	wantSkips := map[string]int{"warc-warcinfo": 1, htmltext.ReasonTooFewWords: 1, "not-html": 1}
	if !maps.Equal(got.skips, wantSkips) {
		t.Errorf("skips %v, want %v", got.skips, wantSkips)
	}
}

func TestWebWET(t *testing.T) {
	cases := []struct {
		lang      string
		wantLangs map[string]string // by URL
		wantSkips map[string]int
	}{
		{"", map[string]string{"http://tides.example.com/tables": "en", "http://phares.example.fr/bretagne": "fr", "http://society.example.net/minutes": ""},
			map[string]int{"warc-warcinfo": 1, htmltext.ReasonTooFewWords: 1}},
		{"en", map[string]string{"http://tides.example.com/tables": "en", "http://society.example.net/minutes": "en"},
			map[string]int{"warc-warcinfo": 1, htmltext.ReasonTooFewWords: 1, "lang": 1}},
	}
	for _, tc := range cases {
		t.Run("lang="+tc.lang, func(t *testing.T) {
			got := readWeb(t, FormatCommonCrawlWET, webFixture("cc-sample.warc.wet.gz"), Options{Lang: tc.lang})
			langs := map[string]string{}
			for u, d := range got.docs {
				langs[u] = d.Lang
			}
			if !maps.Equal(langs, tc.wantLangs) || !maps.Equal(got.skips, tc.wantSkips) {
				t.Errorf("langs %v skips %v, want %v %v", langs, got.skips, tc.wantLangs, tc.wantSkips)
			}
			d := got.docs["http://tides.example.com/tables"]
			if d.ID != "urn:uuid:7c3f4b7e-2a0e-4d1e-8c55-1b7d1e0f6a10" || !strings.HasPrefix(d.Text, "Tide Tables for Small Harbours\n\nA tide table lists") {
				t.Errorf("doc %+v", d)
			}
		})
	}
}

func TestWebCommonCrawlWARC(t *testing.T) {
	got := readWeb(t, FormatCommonCrawlWARC, webFixture("cc-sample.warc.gz"), Options{})
	d, ok := got.docs["https://signals.example.org/flags"]
	if !ok || len(got.docs) != 1 {
		t.Fatalf("docs %v", got.docs)
	}
	if d.Title != "Signal Flags" || !strings.HasPrefix(d.Text, "Signal Flags\n\nShips at sea once spoke") || strings.Contains(d.Text, "Maritime Signals") {
		t.Errorf("doc %+v", d)
	}
	if !maps.Equal(got.skips, map[string]int{"warc-warcinfo": 1, "warc-request": 4, "warc-metadata": 4, "http-301": 1, "not-html": 1}) ||
		!maps.Equal(got.dead, map[string]int{deadBinary: 1}) {
		t.Errorf("skips %v dead %v", got.skips, got.dead)
	}
}

// Damage inside a file costs the damaged record only: it becomes a dead
// letter and the pages after it are still documents.
func TestWebDamagedWARC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.warc.gz")
	os.WriteFile(path, spoiledWget(t), 0o644)
	got := readWeb(t, FormatCommonCrawlWARC, path, Options{})
	if b := urlsByBase(got.docs); fmt.Sprint(b) != "[index.html tides.html]" || got.dead["corrupt-gzip"] != 1 {
		t.Errorf("docs %v dead %v", b, got.dead)
	}
}

// spoiledWget is the wget fixture with the gzip member of lighthouse.html's
// response damaged.
func spoiledWget(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(webFixture("wget-site.warc.gz"))
	if err != nil {
		t.Fatal(err)
	}
	// Find the member holding lighthouse.html's response by inflating
	// member by member, and spoil its compressed data.
	var spoiled []byte
	for off := 0; off < len(raw); {
		zr, err := gzip.NewReader(bytes.NewReader(raw[off:]))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		cr := &countingByteReader{r: bufio.NewReader(bytes.NewReader(raw[off:]))}
		zr.Reset(cr)
		zr.Multistream(false)
		body, _ := io.ReadAll(zr)
		size := int(cr.n)
		if bytes.Contains(body, []byte("WARC-Type: response")) && bytes.Contains(body, []byte("lighthouse.html>")) {
			spoiled = bytes.Clone(raw)
			for i := off + size/2; i < off+size/2+16; i++ {
				spoiled[i] ^= 0xa5
			}
			break
		}
		off += size
	}
	if spoiled == nil {
		t.Fatal("lighthouse.html's response not found in the fixture")
	}
	return spoiled
}

// webCrashSink fails after a number of writes, as a process killed between
// a write and its checkpoint would.
type webCrashSink struct {
	*JSONLSink
	left int
}

func (c *webCrashSink) Write(ctx context.Context, docs []schemas.Document, dead []schemas.DeadLetter) error {
	if err := c.JSONLSink.Write(ctx, docs, dead); err != nil {
		return err
	}
	if c.left--; c.left == 0 {
		return errors.New("simulated crash")
	}
	return nil
}

// A web ingest killed after a write and resumed produces exactly what an
// uninterrupted run does, dead letters included: offsets from the WARC
// reader order records strictly even around damage.
func TestWebResume(t *testing.T) {
	dir := t.TempDir()
	cc, err := os.ReadFile(webFixture("cc-sample.warc.gz"))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.warc.gz")
	os.WriteFile(in, append(cc, spoiledWget(t)...), 0o644)
	run := func(sink Sink, resume string) (Summary, error) {
		return Run(context.Background(), Config{Format: FormatCommonCrawlWARC, Inputs: []string{in}, Sink: sink, BatchDocs: 1, Resume: resume})
	}
	clean := NewJSONLSink(filepath.Join(dir, "clean.jsonl"))
	sum, err := run(clean, "")
	clean.Close()
	if err != nil || sum.Docs != 3 || sum.Dead["corrupt-gzip"] != 1 || sum.Dead[deadBinary] != 1 {
		t.Fatalf("clean run: %s, %v", sum, err)
	}
	out, resume := filepath.Join(dir, "resumed.jsonl"), filepath.Join(dir, "resume.json")
	for _, crashAfter := range []int{1, 2, 1} {
		s := &webCrashSink{JSONLSink: NewJSONLSink(out), left: crashAfter}
		_, err := run(s, resume)
		s.Close()
		if err == nil || !strings.Contains(err.Error(), "simulated crash") {
			t.Fatalf("run did not crash: %v", err)
		}
	}
	s := NewJSONLSink(out)
	sum, err = run(s, resume)
	s.Close()
	if err != nil || sum.Resumed == 0 {
		t.Fatalf("final run: %s, %v", sum, err)
	}
	for _, name := range []string{"%s.jsonl", "%s.dlq.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf(name, "clean")))
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf(name, "resumed")))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: resumed output differs from the clean run:\n%s\n---\n%s", fmt.Sprintf(name, "*"), b, a)
		}
	}
}

// countingByteReader counts what gzip consumed; it is an io.ByteReader so
// inflate does not read ahead past the member.
type countingByteReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingByteReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// The whole pipeline: Run with a JSON-lines sink writes one sentence-split
// document per HTML page, with its URL.
func TestWebRunJSONL(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.jsonl")
	sink := NewJSONLSink(out)
	sum, err := Run(context.Background(), Config{Format: FormatCommonCrawlWARC, Inputs: []string{webFixture("wget-site.warc.gz")}, Sink: sink, Workers: 2})
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for line := range strings.Lines(string(b)) {
		d, err := schemas.DecodeDocument([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		urls = append(urls, filepath.Base(d.URL))
		if strings.HasSuffix(d.URL, "/lighthouse.html") && !strings.Contains(d.Text, "\nIt was thinner & lighter than a solid lens, and it sent the beam more than twenty miles out to sea.\n") {
			t.Errorf("sentences not split:\n%s", d.Text)
		}
	}
	slices.Sort(urls)
	if fmt.Sprint(urls) != "[index.html lighthouse.html tides.html]" || sum.Docs != 3 || sum.Skipped["not-html"] != 3 {
		t.Errorf("urls %v summary %s", urls, sum)
	}
}

func TestNormLang(t *testing.T) {
	for in, want := range map[string]string{"eng": "en", "en-GB": "en", "fra": "fr", "deu": "de", "zho": "zh", "": "", "???": "", "und": ""} {
		if got := normLang(in); got != want {
			t.Errorf("normLang(%q) = %q, want %q", in, got, want)
		}
	}
	if got := firstLanguage("fra,eng"); got != "fr" {
		t.Errorf("firstLanguage = %q", got)
	}
}
