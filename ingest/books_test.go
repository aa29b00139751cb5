package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBookGutenberg: header and footer go, the eBook number names the
// document, the Title: line titles it, and the body keeps its paragraphs.
func TestBookGutenberg(t *testing.T) {
	want := schemas.Document{
		ID: "books:gutenberg-65001", Source: "books", Title: "The Lighthouse Keeper", Lang: "en",
		Text: "THE LIGHTHOUSE KEEPER\n\nCHAPTER I.\n\n" +
			"The keeper climbed the stairs at dusk.\n" +
			"Mr. Hale had kept the light for thirty years, and he knew every step of the tower.\n\n" +
			"He lit the lamp, wound the clockwork, and sat down to write the log.\n" +
			"The wind rose from the west; the sea was grey.\n\n" +
			"CHAPTER II.\n\n" +
			"In the morning a boat came from the U.S. revenue cutter with letters.\n" +
			"One was from his daughter, who wrote that she would visit in the spring.",
	}
	raw, err := os.ReadFile("testdata/pg-book.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, file string }{
		{"plain", "testdata/pg-book.txt"},
		{"gzip", writeFile(t, dir, "pg-book.txt.gz", gzipBytes(t, raw))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := readAll(t, "books", tc.file, Options{})
			docs := laidOut(t, recs)
			if len(docs) != 1 || !reflect.DeepEqual(docs[want.ID], want) {
				t.Fatalf("got %#v\nwant %#v", docs, want)
			}
			// The offset is where the body starts: right after the START line.
			startLine := bytes.Index(raw, []byte("*** START OF"))
			bodyStart := startLine + bytes.IndexByte(raw[startLine:], '\n') + 1
			if recs[0].Offset != int64(bodyStart) {
				t.Errorf("offset %d, want %d", recs[0].Offset, bodyStart)
			}
		})
	}
}

// TestBookPlainAndChunked: a file without a Gutenberg header is all body,
// named after the file; a big book is cut at paragraph boundaries into
// parts whose concatenation is the whole book, in order, with offsets.
func TestBookPlainAndChunked(t *testing.T) {
	chapters, _ := filepath.Glob(filepath.Join(repoRoot(t), ".cache", "corpora", "moby-dick", "chapter-*.txt"))
	if len(chapters) < 10 {
		t.Fatalf("Moby-Dick chapters missing from .cache/corpora (run make setup): found %d", len(chapters))
	}
	var book bytes.Buffer
	for _, c := range chapters[:10] {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		book.Write(b)
		book.WriteString("\n")
	}
	path := writeFile(t, t.TempDir(), "moby-dick.txt", book.Bytes())
	whole := readAll(t, "books", path, Options{})
	if len(whole) != 1 || whole[0].Doc.ID != "books:moby-dick" || whole[0].Doc.Title != "moby-dick" || whole[0].Offset != 0 {
		t.Fatalf("whole book: %d records, first %+v", len(whole), whole[0].Doc.ID)
	}
	parts := readAll(t, "books", path, Options{ChunkBytes: 8 << 10})
	if len(parts) < book.Len()/(8<<10)-1 {
		t.Fatalf("%d parts for %d bytes at 8 KiB chunks", len(parts), book.Len())
	}
	var joined strings.Builder
	for i, p := range parts {
		wantID := "books:moby-dick"
		if i > 0 {
			wantID += fmt.Sprintf("#%d", i)
		}
		if p.Doc.ID != wantID {
			t.Errorf("part %d id %q, want %q", i, p.Doc.ID, wantID)
		}
		// Each part starts at a paragraph: its offset points at its first line.
		firstLine, _, _ := strings.Cut(p.Doc.Text, "\n")
		if !bytes.HasPrefix(book.Bytes()[p.Offset:], []byte(firstLine)) {
			t.Errorf("part %d offset %d does not point at %q", i, p.Offset, firstLine)
		}
		joined.WriteString(p.Doc.Text)
	}
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if norm(joined.String()) != norm(whole[0].Doc.Text) {
		t.Error("the parts do not add up to the whole book")
	}
}

// TestBookDamaged: invalid UTF-8 is repaired and counted; a truncated
// gzip yields what it had and then an error naming the file.
func TestBookDamaged(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "latin1.txt", []byte("Caf\xe9 society met daily.\n\nIt was a good caf\xe9.\n"))
	recs := readAll(t, "books", p, Options{})
	if len(recs) != 1 || recs[0].Repaired != "invalid-utf8" || !utf8.ValidString(recs[0].Doc.Text) || !strings.Contains(recs[0].Doc.Text, "Caf\uFFFD society") {
		t.Fatalf("repair: %+v", recs)
	}

	var big bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&big, "Paragraph %d has a few words in it.\n\n", i)
	}
	z := gzipBytes(t, big.Bytes())
	cut := writeFile(t, dir, "cut.txt.gz", z[:len(z)/2])
	r, err := Open("books", cut, Options{ChunkBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	var readErr error
	for _, err := range r.Records() {
		if err != nil {
			readErr = err
			break
		}
		n++
	}
	if readErr == nil || !strings.Contains(readErr.Error(), cut) {
		t.Fatalf("truncated gzip: err = %v, want one naming %s", readErr, cut)
	}
	if n == 0 {
		t.Error("no text kept from before the truncation")
	}
}

func FuzzBookReader(f *testing.F) {
	raw, _ := os.ReadFile("testdata/pg-book.txt")
	f.Add(raw, 64)
	f.Add([]byte("no header\n\n\nparagraph two\r\n"), 1)
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), 10)
	f.Add([]byte("*** START OF THE PROJECT GUTENBERG EBOOK X ***"), 100)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		path := writeFile(t, t.TempDir(), "f.txt", data)
		r, err := Open("books", path, Options{ChunkBytes: chunk%4096 + 1})
		if err != nil {
			return // e.g. a gzip magic with a broken header
		}
		defer r.Close()
		var last int64 = -1
		for rec, err := range r.Records() {
			if err != nil {
				break
			}
			if rec.Offset <= last {
				t.Fatalf("offset %d after %d", rec.Offset, last)
			}
			last = rec.Offset
			if !utf8.ValidString(rec.Doc.Text) || strings.TrimSpace(rec.Doc.Text) == "" {
				t.Fatalf("bad text %q", rec.Doc.Text)
			}
		}
	})
}
