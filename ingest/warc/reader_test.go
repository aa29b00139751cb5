package warc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testRecord is what a test writes and expects back.
type testRecord struct {
	typ, id, uri string
	extra        [][2]string
	content      string
}

// layout says how to write a test file.
type layout struct {
	version  string // "WARC/1.0"
	nl       string // "\r\n" or "\n"
	compress string // "", "whole", "member"
}

// encode writes records the way the WARC spec says; it is the test's own
// writer, independent of the reader under test.
func encode(l layout, recs []testRecord) []byte {
	var parts [][]byte
	for _, r := range recs {
		var b bytes.Buffer
		b.WriteString(l.version + l.nl)
		b.WriteString("WARC-Type: " + r.typ + l.nl)
		b.WriteString("WARC-Record-ID: " + r.id + l.nl)
		if r.uri != "" {
			b.WriteString("WARC-Target-URI: " + r.uri + l.nl)
		}
		for _, f := range r.extra {
			b.WriteString(f[0] + ": " + f[1] + l.nl)
		}
		b.WriteString("Content-Length: " + strconv.Itoa(len(r.content)) + l.nl + l.nl)
		b.WriteString(r.content)
		b.WriteString(l.nl + l.nl)
		parts = append(parts, b.Bytes())
	}
	switch l.compress {
	case "whole":
		return gz(bytes.Join(parts, nil))
	case "member":
		var out []byte
		for _, p := range parts {
			out = append(out, gz(p)...)
		}
		return out
	}
	return bytes.Join(parts, nil)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// sampleRecords covers the shapes that trip parsers: an empty block, a
// block that itself contains "WARC/1.0" lines and blank lines, binary
// bytes, a bracketed URI.
func sampleRecords(nl string) []testRecord {
	return []testRecord{
		{typ: "warcinfo", id: "<urn:uuid:00000000-0000-4000-8000-000000000001>", content: "software: test" + nl + "format: WARC" + nl},
		{typ: "response", id: "<urn:uuid:00000000-0000-4000-8000-000000000002>", uri: "<http://a.example/x?q=1>",
			content: "HTTP/1.1 200 OK" + nl + "Content-Type: text/html" + nl + nl + "<p>WARC/1.0" + nl + nl + "WARC/1.0" + nl + "</p>"},
		{typ: "request", id: "<urn:uuid:00000000-0000-4000-8000-000000000003>", uri: "http://a.example/y", content: ""},
		{typ: "resource", id: "<urn:uuid:00000000-0000-4000-8000-000000000004>", uri: "http://a.example/z.bin",
			extra:   [][2]string{{"WARC-TREC-ID", "clueweb09-en0000-00-00004"}, {"WARC-Identified-Payload-Type", ""}},
			content: "\x00\x01\x02\r\n\r\n\xff\xfe binary"},
	}
}

func readAll(t *testing.T, r *Reader) ([]testRecord, []*Error) {
	t.Helper()
	var recs []testRecord
	var errs []*Error
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("reader does not terminate")
		}
		rec, err := r.Next()
		if err == io.EOF {
			return recs, errs
		}
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("fatal error: %v", err)
			}
			errs = append(errs, we)
			continue
		}
		if got, want := int64(len(rec.Content)), mustAtoi(t, rec.Header.Get("Content-Length")); got != want {
			t.Fatalf("record %s: content is %d bytes, Content-Length %d", rec.ID(), got, want)
		}
		tr := testRecord{typ: rec.Type(), id: rec.ID(), uri: rec.Header.Get("WARC-Target-URI"), content: string(rec.Content)}
		for _, f := range rec.Header {
			switch f.Name {
			case "WARC-Type", "WARC-Record-ID", "WARC-Target-URI", "Content-Length":
			default:
				tr.extra = append(tr.extra, [2]string{f.Name, f.Value})
			}
		}
		recs = append(recs, tr)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("Content-Length %q: %v", s, err)
	}
	return n
}

func sameRecords(t *testing.T, got, want []testRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("record %d:\n got %+q\nwant %+q", i, got[i], want[i])
		}
	}
}

func TestReaderLayouts(t *testing.T) {
	for _, version := range []string{"WARC/0.18", "WARC/1.0", "WARC/1.1"} {
		for _, nl := range []string{"\r\n", "\n"} {
			for _, compress := range []string{"", "whole", "member"} {
				l := layout{version, nl, compress}
				t.Run(fmt.Sprintf("%s/%q/%s", version, nl, compress), func(t *testing.T) {
					want := sampleRecords(nl)
					r := NewReader(bytes.NewReader(encode(l, want)))
					defer setVerifyLimit(64)()
					got, errs := readAll(t, r)
					if len(errs) > 0 {
						t.Fatalf("errors on a well-formed file: %v", errs)
					}
					sameRecords(t, got, want)
					if r.Compressed() != (compress != "") {
						t.Errorf("Compressed() = %v", r.Compressed())
					}
				})
			}
		}
	}
}

func TestRecordOffsets(t *testing.T) {
	recs := sampleRecords("\r\n")
	plain := encode(layout{"WARC/1.0", "\r\n", ""}, recs)
	members := encode(layout{"WARC/1.0", "\r\n", "member"}, recs)
	// Independently: where each record starts in the plain file, and
	// where each member starts in the per-record gzip file.
	var starts, memberStarts []int64
	for i, off := 0, 0; i < len(recs); i++ {
		j := bytes.Index(plain[off:], []byte("WARC/1.0\r\nWARC-Type: "+recs[i].typ))
		starts = append(starts, int64(off+j))
		off += j + 1
	}
	var moff int64
	for _, rec := range recs {
		memberStarts = append(memberStarts, moff)
		moff += int64(len(encode(layout{"WARC/1.0", "\r\n", "member"}, []testRecord{rec})))
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		member []int64
	}{
		{"plain", plain, []int64{-1, -1, -1, -1}},
		{"member", members, memberStarts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.data))
			for i := range recs {
				rec, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if rec.Offset != starts[i] || rec.MemberOffset != tc.member[i] {
					t.Errorf("record %d at offset %d member %d, want %d member %d", i, rec.Offset, rec.MemberOffset, starts[i], tc.member[i])
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after last record: %v", err)
			}
		})
	}
}

// noSeek hides Seek so the forward-only recovery path is tested too.
type noSeek struct{ io.Reader }

// setVerifyLimit lowers the size up to which gzip members are verified
// before use, so small test files exercise the pass-through path that
// whole-file gzips over the limit take; it returns the restore.
func setVerifyLimit(n int) func() {
	old := verifyLimit
	verifyLimit = n
	return func() { verifyLimit = old }
}

func TestReaderDamage(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) { testReaderDamage(t, stream) })
	}
}

func testReaderDamage(t *testing.T, streamMembers bool) {
	recs := []testRecord{
		{typ: "response", id: "<urn:uuid:1>", uri: "http://a/1", content: strings.Repeat("one ", 200)},
		{typ: "response", id: "<urn:uuid:2>", uri: "http://a/2", content: strings.Repeat("two ", 200)},
		{typ: "response", id: "<urn:uuid:3>", uri: "http://a/3", content: strings.Repeat("three ", 200)},
		{typ: "response", id: "<urn:uuid:4>", uri: "http://a/4", content: strings.Repeat("four ", 200)},
	}
	l := layout{"WARC/1.0", "\r\n", ""}
	plain := encode(l, recs)
	var members [][]byte
	for _, r := range recs {
		members = append(members, encode(layout{"WARC/1.0", "\r\n", "member"}, []testRecord{r}))
	}
	join := func(ms ...[]byte) []byte { return bytes.Join(ms, nil) }
	flip := func(b []byte, at int) []byte {
		c := bytes.Clone(b)
		for i := at; i < at+8 && i < len(c); i++ {
			c[i] ^= 0x55
		}
		return c
	}
	setLength := func(data []byte, id string, n int) []byte {
		i := bytes.Index(data, []byte("WARC-Record-ID: "+id))
		j := i + bytes.Index(data[i:], []byte("Content-Length: "))
		k := j + bytes.IndexByte(data[j:], '\r')
		return join(data[:j], []byte("Content-Length: "+strconv.Itoa(n)), data[k:])
	}
	// Which records survive a cut gzip depends on the compressor: work it
	// out from what inflate can still produce, independently of the reader.
	truncGz := gz(plain)[:len(gz(plain))*3/4]
	var truncGzIDs []string
	{
		zr, _ := gzip.NewReader(bytes.NewReader(truncGz))
		partial, _ := io.ReadAll(zr)
		for i := range recs {
			end := len(plain)
			if i+1 < len(recs) {
				end = bytes.Index(plain, []byte("WARC-Record-ID: "+recs[i+1].id)) - len("WARC/1.0\r\n") + len("WARC/")
			}
			if end <= len(partial) {
				truncGzIDs = append(truncGzIDs, recs[i].id)
			}
		}
		if len(truncGzIDs) == 0 || len(truncGzIDs) == len(recs) {
			t.Fatalf("cut gzip keeps %d records; the case needs some but not all", len(truncGzIDs))
		}
	}
	cases := []struct {
		name     string
		data     []byte
		max      int64
		wantIDs  []string
		wantErrs []string // reasons, in order
	}{
		{"corrupt member", join(members[0], flip(members[1], 30), members[2], members[3]),
			0, []string{"<urn:uuid:1>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonCorruptGzip}},
		{"bad crc", join(members[0], flip(members[1], len(members[1])-8), members[2], members[3]),
			0, []string{"<urn:uuid:1>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonCorruptGzip}},
		{"damaged member header", join(members[0], members[1], flip(members[2], 0), members[3]),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:4>"}, []string{ReasonCorruptGzip}},
		{"garbage between members", join(members[0], []byte("garbage!"), members[1], members[2], members[3]),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonCorruptGzip}},
		{"truncated member", join(members[0], members[1], members[2][:len(members[2])/2]),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>"}, []string{ReasonTruncated}},
		{"truncated whole gzip", truncGz, 0, truncGzIDs, []string{ReasonTruncated}},
		{"truncated plain", plain[:len(plain)-100],
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:3>"}, []string{ReasonTruncated}},
		{"content-length too short", setLength(plain, "<urn:uuid:2>", 500),
			0, []string{"<urn:uuid:1>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonLengthMismatch}},
		{"content-length too long", setLength(plain, "<urn:uuid:2>", 1200),
			0, []string{"<urn:uuid:1>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonLengthMismatch}},
		{"content-length past the end", setLength(plain, "<urn:uuid:3>", 100000),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:4>"}, []string{ReasonTruncated}},
		{"content-length not a number", bytes.Replace(plain, []byte("Content-Length: 800"), []byte("Content-Length: lots"), 1),
			0, []string{"<urn:uuid:2>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonBadLength}},
		{"wrong length across members", join(members[0], gz(setLength(encode(l, recs[1:2]), "<urn:uuid:2>", 0)), members[2], members[3]),
			0, []string{"<urn:uuid:1>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonLengthMismatch}},
		{"garbage before first record", join([]byte("<html>not a warc</html>\n"), plain),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonBadHeader}},
		{"malformed header line", bytes.Replace(plain, []byte("WARC-Target-URI: http://a/3"), []byte("this line has no colon"), 1),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:4>"}, []string{ReasonBadHeader}},
		{"version line over the header limit", join([]byte("WARC/1.0"+strings.Repeat("A", MaxHeaderBytes+10)+"\r\n"), plain),
			0, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonBadHeader}},
		{"header line over the limit", bytes.Replace(plain, []byte("WARC-Target-URI: http://a/2"), []byte("X-Long: "+strings.Repeat("B", MaxHeaderBytes+10)), 1),
			0, []string{"<urn:uuid:1>", "<urn:uuid:3>", "<urn:uuid:4>"}, []string{ReasonBadHeader}},
		{"too large", plain, 1100, []string{"<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:4>"}, []string{ReasonTooLarge}},
	}
	for _, tc := range cases {
		for _, seekable := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/seek=%v", tc.name, seekable), func(t *testing.T) {
				if streamMembers {
					defer setVerifyLimit(256)()
				}
				var src io.Reader = bytes.NewReader(tc.data)
				if !seekable {
					src = noSeek{src}
				}
				r := NewReader(src)
				if tc.max > 0 {
					r.MaxRecordBytes = tc.max
				}
				got, errs := readAll(t, r)
				var ids, reasons []string
				for _, g := range got {
					ids = append(ids, g.id)
					if want := contentOf(recs, g.id); g.content != want {
						t.Errorf("record %s content damaged: %.40q...", g.id, g.content)
					}
				}
				for _, e := range errs {
					reasons = append(reasons, e.Reason)
					if !strings.Contains(e.Error(), "offset") {
						t.Errorf("error does not say where: %v", e)
					}
				}
				if fmt.Sprint(ids) != fmt.Sprint(tc.wantIDs) || fmt.Sprint(reasons) != fmt.Sprint(tc.wantErrs) {
					t.Errorf("got records %v errors %v, want %v and %v\nerrors: %v", ids, reasons, tc.wantIDs, tc.wantErrs, errs)
				}
			})
		}
	}
}

func contentOf(recs []testRecord, id string) string {
	for _, r := range recs {
		if r.id == id {
			return r.content
		}
	}
	return ""
}

// The wget fixture: every 200 response's payload must be byte-identical to
// the file wget fetched from site/.
func TestWgetFixture(t *testing.T) {
	checkWgetWARC(t, filepath.Join("testdata", "wget-site.warc.gz"))
}

func checkWgetWARC(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	types := map[string]int{}
	bodies := map[string][]byte{}
	var lastMember int64 = -1
	for rec, err := range r.All() {
		if err != nil {
			t.Fatalf("wget's WARC: %v", err)
		}
		types[rec.Type()]++
		if rec.MemberOffset <= lastMember {
			t.Errorf("member offsets not increasing: %d after %d", rec.MemberOffset, lastMember)
		}
		lastMember = rec.MemberOffset
		raw := rec.Header.Get("WARC-Target-URI")
		if rec.Type() != "warcinfo" && !strings.HasPrefix(raw, "<") || strings.HasPrefix(rec.TargetURI(), "<") {
			t.Errorf("wget writes <uri>; TargetURI() = %q from %q", rec.TargetURI(), raw)
		}
		if rec.Type() != "response" {
			continue
		}
		resp, err := ParseHTTPResponse(rec.Content, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", rec.TargetURI(), err)
		}
		if resp.StatusCode == 200 {
			bodies[filepath.Base(rec.TargetURI())] = bytes.Clone(resp.Body)
		}
	}
	if !r.Compressed() {
		t.Error("wget writes gzip")
	}
	if types["warcinfo"] != 1 || types["response"] < 8 || types["request"] < 8 || types["resource"] < 1 {
		t.Errorf("record types %v", types)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "site", "*"))
	if len(bodies) != len(files) {
		t.Errorf("got 200 responses for %d files, site has %d", len(bodies), len(files))
	}
	for _, p := range files {
		want, _ := os.ReadFile(p)
		if got, ok := bodies[filepath.Base(p)]; !ok || !bytes.Equal(got, want) {
			t.Errorf("%s: payload differs from the served file (got %d bytes, want %d)", filepath.Base(p), len(got), len(want))
		}
	}
}
