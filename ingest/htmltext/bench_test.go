package htmltext

import (
	"testing"
)

// BenchmarkExtract: MB/s of HTML through charset detection, tokenizing and
// line building, on the fixture site's article pages.
func BenchmarkExtract(b *testing.B) {
	pages := [][]byte{site(b, "lighthouse.html"), site(b, "tides.html"), site(b, "index.html")}
	n := 0
	for _, p := range pages {
		n += len(p)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pages {
			if _, err := Extract(p, "text/html"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkQualityCheck: MB/s of extracted text through the filters.
func BenchmarkQualityCheck(b *testing.B) {
	var lines []string
	n := 0
	for _, name := range []string{"lighthouse.html", "tides.html", "index.html"} {
		p, err := Extract(site(b, name), "text/html")
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range p.Lines {
			lines = append(lines, l)
			n += len(l)
		}
	}
	q := DefaultQuality()
	b.SetBytes(int64(n))
	for b.Loop() {
		q.Check(lines)
	}
}
