package warc

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchInput is $ELECTRA_BENCH_WARC (scripts/bench.d/warc.sh points it at
// a wget crawl of the State of the Union speeches) or, without it, the
// committed wget fixture repeated: per-record gzip members concatenate
// into a valid file.
func benchInput(b *testing.B) []byte {
	if p := os.Getenv("ELECTRA_BENCH_WARC"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	one, err := os.ReadFile(filepath.Join("testdata", "wget-site.warc.gz"))
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Repeat(one, 200)
}

// BenchmarkReader: compressed MB/s through record parsing and HTTP
// parsing of every response, no text extraction.
func BenchmarkReader(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data))
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if rec.Type() == "response" {
				if _, err := ParseHTTPResponse(rec.Content, 64<<20); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
