package warc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// FuzzDamagedMembers spoils a stretch of a per-record gzip file and checks
// the recovery promise: from a seekable source, every record whose gzip
// member was not touched comes back intact, and every record returned is
// one that was written.
func FuzzDamagedMembers(f *testing.F) {
	var recs []testRecord
	var members [][]byte
	for i := range 6 {
		r := testRecord{typ: "response", id: fmt.Sprintf("<urn:uuid:%d>", i), uri: fmt.Sprintf("http://a/%d", i),
			content: strings.Repeat(fmt.Sprintf("record %d line\r\n", i), 20+i*37)}
		recs = append(recs, r)
		members = append(members, encode(layout{"WARC/1.0", "\r\n", "member"}, []testRecord{r}))
	}
	data := bytes.Join(members, nil)
	f.Add(uint16(0), uint8(3), byte(0xff))
	f.Add(uint16(len(members[0])+20), uint8(8), byte(0x55))
	f.Add(uint16(len(members[0])+len(members[1])-6), uint8(4), byte(0x01))
	f.Fuzz(func(t *testing.T, pos uint16, n uint8, mask byte) {
		if mask == 0 {
			return
		}
		start := int(pos) % len(data)
		end := min(start+int(n%32)+1, len(data))
		spoiled := bytes.Clone(data)
		for i := start; i < end; i++ {
			spoiled[i] ^= mask
		}
		r := NewReader(bytes.NewReader(spoiled))
		got := map[string]string{}
		for i := 0; ; i++ {
			if i > 1000 {
				t.Fatal("reader loops")
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue
			}
			got[rec.ID()] = string(rec.Content)
		}
		off := 0
		for i, m := range members {
			touched := start < off+len(m) && end > off
			off += len(m)
			content, ok := got[recs[i].id]
			if ok && content != recs[i].content {
				t.Fatalf("record %d returned with damaged content", i)
			}
			if !touched && !ok {
				t.Fatalf("record %d lost though its member is intact (damage at %d..%d)", i, start, end)
			}
		}
	})
}
