package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/electra-go/electra/schemas"
)

// `electra ingest --format commoncrawl-warc` through the real command on
// wget's WARC of ingest/warc/testdata/site: one JSON line per HTML page
// answered 200, with its URL; nothing for the requests, 404s, stylesheet,
// text file, image or wget's log; no dead letters.
func TestIngestWARCCommand(t *testing.T) {
	in := filepath.Join("..", "..", "ingest", "warc", "testdata", "wget-site.warc.gz")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	var stdout, stderr bytes.Buffer
	if rc := realMain([]string{"ingest", "--format", "commoncrawl-warc", "--input", in, "--sink", "jsonl:" + out, "--progress=false"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for line := range strings.Lines(string(b)) {
		d, err := schemas.DecodeDocument([]byte(line))
		if err != nil {
			t.Fatalf("%v in %s", err, line)
		}
		if !strings.HasPrefix(d.URL, "http://127.0.0.1:") || d.Source != schemas.SourceCommonCrawl || d.ID == "" {
			t.Errorf("document %+v", d)
		}
		pages = append(pages, filepath.Base(d.URL))
	}
	slices.Sort(pages)
	if strings.Join(pages, " ") != "index.html lighthouse.html tides.html" {
		t.Errorf("documents for %v, want the three HTML pages", pages)
	}
	if dl, err := os.ReadFile(strings.TrimSuffix(out, ".jsonl") + ".dlq.jsonl"); err == nil && len(bytes.TrimSpace(dl)) > 0 {
		t.Errorf("dead letters on an intact file: %s", dl)
	}
}

// A WARC with one damaged gzip member: the command succeeds, the damaged
// record is a dead letter naming the file, offset and reason, and the
// other pages are documents.
func TestIngestWARCCommandDamaged(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "ingest", "warc", "testdata", "wget-site.warc.gz"))
	if err != nil {
		t.Fatal(err)
	}
	// Spoil the middle of the file: whichever member lies there is lost.
	for i := len(raw) / 2; i < len(raw)/2+16; i++ {
		raw[i] ^= 0x5a
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "damaged.warc.gz")
	os.WriteFile(in, raw, 0o644)
	out := filepath.Join(dir, "out.jsonl")
	var stdout, stderr bytes.Buffer
	if rc := realMain([]string{"ingest", "--format", "commoncrawl-warc", "--input", in, "--sink", "jsonl:" + out, "--progress=false"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	dl, err := os.ReadFile(filepath.Join(dir, "out.dlq.jsonl"))
	if err != nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("no dead-letter file (%v); dir has %v", err, entries)
	}
	var letters []schemas.DeadLetter
	for line := range strings.Lines(string(dl)) {
		var d schemas.DeadLetter
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		letters = append(letters, d)
	}
	if len(letters) != 1 || letters[0].Reason != "corrupt-gzip" || letters[0].SourceFile != in || letters[0].Offset <= 0 {
		t.Errorf("dead letters %+v", letters)
	}
	docs, _ := os.ReadFile(out)
	if n := strings.Count(string(docs), "\n"); n < 2 {
		t.Errorf("%d documents survived one damaged member", n)
	}
}
