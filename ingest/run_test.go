package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/electra-go/electra/schemas"
)

// readJSONL decodes and validates every line of a documents file.
func readJSONL(t testing.TB, path string) []schemas.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []schemas.Document
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		d, err := schemas.DecodeDocument(sc.Bytes())
		if err != nil {
			t.Fatalf("%s line %d: %v", path, len(docs)+1, err)
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return docs
}

func readDLQ(t testing.TB, path string) []schemas.DeadLetter {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []schemas.DeadLetter
	for line := range strings.Lines(string(b)) {
		var d schemas.DeadLetter
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, d)
	}
	return out
}

func TestRunJSONL(t *testing.T) {
	dir := t.TempDir()
	books := filepath.Join(dir, "books")
	os.MkdirAll(filepath.Join(books, "nested"), 0o755)
	raw, _ := os.ReadFile("testdata/pg-book.txt")
	writeFile(t, books, "a-lighthouse.txt", raw)
	// The same text again under another name: a duplicate to count, not produce.
	writeFile(t, filepath.Join(books, "nested"), "b-copy.txt.gz", gzipBytes(t, raw))
	writeFile(t, books, "c-other.txt", []byte("Another book. It is short.\n\nTwo paragraphs.\n"))
	writeFile(t, books, ".hidden.txt", []byte("not read"))

	for _, tc := range []struct {
		format, input string
		wantDocs      int
		wantSkipped   map[string]int64
		wantDead      map[string]int64
		wantDups      int64
	}{
		{"wikipedia", "testdata/export-0.11.xml", 2, map[string]int64{"redirect": 1, "namespace": 1, "content-model": 1}, map[string]int64{}, 0},
		{"books", books, 2, map[string]int64{}, map[string]int64{}, 1},
		{"gigaword", "testdata/gigaword.sgml", 2, map[string]int64{"gigaword-type": 2}, map[string]int64{"malformed-sgml": 1}, 0},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out := filepath.Join(dir, tc.format+".jsonl")
			sink := NewJSONLSink(out)
			var progress strings.Builder
			sum, err := Run(context.Background(), Config{Format: tc.format, Inputs: []string{tc.input}, Sink: sink, Workers: 2, BatchDocs: 1, Progress: &progress})
			if cerr := sink.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			docs := readJSONL(t, out)
			// The bar ends at 100% of the input with the document count.
			if p := progress.String(); !strings.Contains(p, "100.0%") || !strings.Contains(p, fmt.Sprintf(" %d docs ", tc.wantDocs)) {
				t.Errorf("progress output %q", p)
			}
			if len(docs) != tc.wantDocs || sum.Docs != int64(tc.wantDocs) {
				t.Errorf("%d docs in file, summary says %d, want %d", len(docs), sum.Docs, tc.wantDocs)
			}
			if !maps.Equal(sum.Skipped, tc.wantSkipped) || !maps.Equal(sum.Dead, tc.wantDead) || sum.Duplicates != tc.wantDups {
				t.Errorf("summary %s", sum)
			}
			var sentences int64
			for _, d := range docs {
				for range d.Sentences() {
					sentences++
				}
			}
			if sentences != sum.Sentences {
				t.Errorf("summary counts %d sentences, the file holds %d", sum.Sentences, sentences)
			}
			dl := readDLQ(t, DLQPath(out))
			if int64(len(dl)) != sumCounts(tc.wantDead) {
				t.Errorf("%d dead letters in %s, want %d", len(dl), DLQPath(out), sumCounts(tc.wantDead))
			}
			for _, d := range dl {
				if d.SourceFile != tc.input || d.Offset <= 0 || d.Reason == "" || d.Excerpt == "" || d.Stage != "ingest" {
					t.Errorf("dead letter without location: %+v", d)
				}
			}
		})
	}
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func TestRunOversize(t *testing.T) {
	dir := t.TempDir()
	chapters, _ := filepath.Glob(filepath.Join(repoRoot(t), ".cache", "corpora", "moby-dick", "chapter-00*.txt"))
	if len(chapters) < 3 {
		t.Fatal("Moby-Dick chapters missing from .cache/corpora (run make setup)")
	}
	chapters = chapters[:3]
	for _, policy := range []string{"split", "deadletter"} {
		t.Run(policy, func(t *testing.T) {
			out := filepath.Join(dir, policy+".jsonl")
			sink := NewJSONLSink(out)
			sum, err := Run(context.Background(), Config{Format: "books", Inputs: chapters, Sink: sink, MaxDocBytes: 2000, Oversize: policy})
			sink.Close()
			if err != nil {
				t.Fatal(err)
			}
			docs := readJSONL(t, out)
			dead := readDLQ(t, DLQPath(out))
			switch policy {
			case "split":
				if len(dead) != 0 || len(docs) <= len(chapters) {
					t.Fatalf("%d docs, %d dead from %d chapters", len(docs), len(dead), len(chapters))
				}
				for _, d := range docs {
					if len(d.Text) > 2000 || !strings.Contains(d.ID, "#s") {
						t.Errorf("%s: %d bytes", d.ID, len(d.Text))
					}
				}
			case "deadletter":
				if sum.Dead["too-large"] == 0 || int64(len(dead)) != sum.Dead["too-large"] {
					t.Fatalf("summary %s, %d dead letters", sum, len(dead))
				}
				for _, d := range docs {
					if len(d.Text) > 2000 {
						t.Errorf("%s: %d bytes over the cap", d.ID, len(d.Text))
					}
				}
			}
		})
	}
}

// crashingSink writes like the real sink, then fails after a number of
// writes, as a process killed between a write and its checkpoint would.
type crashingSink struct {
	*JSONLSink
	left int
}

var errCrash = errors.New("simulated crash after a write")

func (c *crashingSink) Write(ctx context.Context, docs []schemas.Document, dead []schemas.DeadLetter) error {
	if err := c.JSONLSink.Write(ctx, docs, dead); err != nil {
		return err
	}
	if c.left--; c.left == 0 {
		return errCrash
	}
	return nil
}

// TestRunResumeJSONL: a run that dies after a write but before its
// checkpoint, resumed (twice), produces the same file byte for byte as a
// run that never died.
func TestRunResumeJSONL(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{"testdata/export-0.11.xml", smallRealDump(t, 15)}
	cleanOut := filepath.Join(dir, "clean.jsonl")
	clean := NewJSONLSink(cleanOut)
	if _, err := Run(context.Background(), Config{Format: "wikipedia", Inputs: inputs, Sink: clean, BatchDocs: 4}); err != nil {
		t.Fatal(err)
	}
	clean.Close()

	out := filepath.Join(dir, "resumed.jsonl")
	resume := filepath.Join(dir, "resume.json")
	for _, crashAfter := range []int{2, 3} {
		s := &crashingSink{JSONLSink: NewJSONLSink(out), left: crashAfter}
		_, err := Run(context.Background(), Config{Format: "wikipedia", Inputs: inputs, Sink: s, BatchDocs: 4, Resume: resume})
		s.Close()
		if !errors.Is(err, errCrash) {
			t.Fatalf("run did not crash: %v", err)
		}
	}
	s := NewJSONLSink(out)
	sum, err := Run(context.Background(), Config{Format: "wikipedia", Inputs: inputs, Sink: s, BatchDocs: 4, Resume: resume})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Resumed == 0 {
		t.Errorf("the last run resumed nothing: %s", sum)
	}
	a, _ := os.ReadFile(cleanOut)
	b, _ := os.ReadFile(out)
	if string(a) != string(b) {
		t.Fatalf("resumed output (%d bytes, %d docs) differs from the clean run (%d bytes, %d docs)", len(b), len(readJSONL(t, out)), len(a), len(readJSONL(t, cleanOut)))
	}
	// A finished resume file makes a re-run a no-op.
	s = NewJSONLSink(out)
	sum, err = Run(context.Background(), Config{Format: "wikipedia", Inputs: inputs, Sink: s, BatchDocs: 4, Resume: resume})
	s.Close()
	if err != nil || sum.Docs != 0 {
		t.Fatalf("re-run after completion: %s, %v", sum, err)
	}
	if b2, _ := os.ReadFile(out); string(b2) != string(a) {
		t.Fatal("re-run after completion changed the output")
	}
}
