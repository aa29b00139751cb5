package ingest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWebWARC: compressed MB/s of a .warc.gz into documents (record
// and HTTP parsing, charset decoding, text extraction, quality filters) on
// one goroutine; sentence splitting, which every format shares, is not
// included. Input: $ELECTRA_BENCH_WARC or the wget fixture repeated.
func BenchmarkWebWARC(b *testing.B) {
	path := os.Getenv("ELECTRA_BENCH_WARC")
	if path == "" {
		one, err := os.ReadFile(webFixture("wget-site.warc.gz"))
		if err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(b.TempDir(), "bench.warc.gz")
		if err := os.WriteFile(path, bytes.Repeat(one, 200), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	docs := 0
	for b.Loop() {
		r, err := Open(FormatCommonCrawlWARC, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for rec, err := range r.Records() {
			if err != nil {
				b.Fatal(err)
			}
			if rec.Dead != nil {
				b.Fatalf("dead letter: %+v", rec.Dead)
			}
			if rec.Skip == "" {
				docs++
			}
		}
		r.Close()
	}
	b.ReportMetric(float64(docs)/float64(b.N), "docs/op")
}
