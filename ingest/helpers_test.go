package ingest

import (
	"bytes"
	"compress/bzip2"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/electra-go/electra/schemas"
)

// repoRoot is the module root, where ../shared/data and .cache live.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// realWikiDump is the Wikipedia export excerpt every engineer's checkout
// sees at ../shared/data/wikipedia.
func realWikiDump(t testing.TB) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(repoRoot(t), "..", "shared", "data", "wikipedia", "*.bz2"))
	if len(m) == 0 {
		t.Fatalf("the real Wikipedia excerpt is missing from ../shared/data/wikipedia; it is part of the test setup")
	}
	return m[0]
}

// readAll opens path with format and returns every record, failing the
// test on a read error; offsets must strictly increase.
func readAll(t testing.TB, format, path string, opts Options) []Record {
	t.Helper()
	r, err := Open(format, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := Collect(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	checkOffsets(t, recs)
	return recs
}

func checkOffsets(t testing.TB, recs []Record) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if recs[i].Offset <= recs[i-1].Offset {
			t.Fatalf("offsets do not increase: record %d at %d after %d", i, recs[i].Offset, recs[i-1].Offset)
		}
	}
}

// laidOut returns the documents of recs with sentences split as the
// pipeline does, keyed by id.
func laidOut(t testing.TB, recs []Record) map[string]schemas.Document {
	t.Helper()
	sp, err := NewSplitter()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]schemas.Document{}
	for _, r := range recs {
		if r.Dead != nil || r.Skip != "" {
			continue
		}
		d := r.Doc
		d.Text, _ = sp.Split(d.Text)
		if _, dup := out[d.ID]; dup {
			t.Fatalf("id %s twice", d.ID)
		}
		out[d.ID] = d
	}
	return out
}

func countBy(recs []Record) (skipped, dead map[string]int) {
	skipped, dead = map[string]int{}, map[string]int{}
	for _, r := range recs {
		if r.Skip != "" {
			skipped[r.Skip]++
		}
		if r.Dead != nil {
			dead[r.Dead.Reason]++
		}
	}
	return
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func slicesSorted[K ~string](seq func(func(K) bool)) []K {
	var out []K
	for k := range seq {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// realXML is the real excerpt, decompressed.
func realXML(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(realWikiDump(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xml, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

// smallRealDump writes a plain-XML export holding the real excerpt's
// header, every non-article page (redirects, other namespaces) and its n
// shortest articles, in their original order: real data, small enough
// for pipeline tests under the race detector (Punkt is slow there).
func smallRealDump(t testing.TB, n int) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "enwiki-small.xml", smallRealXML(t, n))
}

func smallRealXML(t testing.TB, n int) []byte {
	t.Helper()
	xml := realXML(t)
	type page struct {
		raw     []byte
		article bool
		size    int
	}
	var pages []page
	first := -1
	err := scanElements(bytes.NewReader(xml), pageOpen, pageClose, 64<<20, func(off int64, raw []byte, _ elementKind) bool {
		if first < 0 {
			first = int(off)
		}
		rec := pageRecord(raw, off, "", siteInfo{}, Options{})
		pages = append(pages, page{raw: bytes.Clone(raw), article: rec.Doc.ID != "", size: len(raw)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, p := range pages {
		if p.article {
			sizes = append(sizes, p.size)
		}
	}
	slices.Sort(sizes)
	limit := sizes[min(n, len(sizes))-1]
	var out bytes.Buffer
	out.Write(xml[:first])
	kept := 0
	for _, p := range pages {
		if p.article && (p.size > limit || kept == n) {
			continue
		}
		if p.article {
			kept++
		}
		out.WriteString("  ")
		out.Write(p.raw)
		out.WriteString("\n")
	}
	out.WriteString("</mediawiki>\n")
	return out.Bytes()
}
