package warc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzReader: whatever the bytes, the reader terminates, never panics,
// hands out records whose block matches their Content-Length, reports
// damage as *Error, and never reads past the input.
func FuzzReader(f *testing.F) {
	for _, l := range []layout{{"WARC/1.0", "\r\n", ""}, {"WARC/0.18", "\n", "whole"}, {"WARC/1.1", "\r\n", "member"}} {
		f.Add(encode(l, sampleRecords(l.nl)))
	}
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.gz"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("WARC/1.0\r\nContent-Length: 5\r\n\r\nabc"))
	f.Add([]byte("WARC/1.0\nContent-Length: -1\n\nWARC/1.0\nContent-Length: 0\n\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		r.MaxRecordBytes = 1 << 20
		for i := 0; ; i++ {
			if i > len(data)+10 {
				t.Fatalf("more results than input bytes: the reader loops")
			}
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var we *Error
				if !errors.As(err, &we) {
					t.Fatalf("non-*Error from an in-memory source: %v", err)
				}
				if we.Reason == "" || len(we.Excerpt) > 1024 {
					t.Fatalf("bad error: %+v", we)
				}
				continue
			}
			n, perr := strconv.ParseInt(rec.Header.Get("Content-Length"), 10, 64)
			if perr != nil || n != int64(len(rec.Content)) {
				t.Fatalf("record block %d bytes, Content-Length %q", len(rec.Content), rec.Header.Get("Content-Length"))
			}
			if !r.Compressed() && rec.Offset+int64(len(rec.Content)) > int64(len(data)) {
				t.Fatalf("record at %d+%d runs past the %d-byte input", rec.Offset, len(rec.Content), len(data))
			}
		}
	})
}

// FuzzParseHTTPResponse: no panic, and a parsed body never exceeds the cap.
func FuzzParseHTTPResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>x</p>"))
	f.Add([]byte("HTTP/1.0 404\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add(append([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"), gz([]byte("hello"))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ParseHTTPResponse(data, 4096)
		if err != nil {
			return
		}
		if len(resp.Body) > 4096 || resp.StatusCode < 100 || resp.StatusCode > 999 {
			t.Fatalf("body %d bytes, status %d", len(resp.Body), resp.StatusCode)
		}
	})
}
