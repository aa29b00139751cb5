package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/electra-go/electra/schemas"
)

// TestForeignReaders reads our Arrow IPC shards with Apache Arrow's
// JavaScript implementation (LZ4 frames decoded by lz4js) and our Parquet
// shards with hyparquet (pure JS, its own Snappy), and compares a checksum
// of every row with the one computed from the examples we wrote.
func TestForeignReaders(t *testing.T) {
	modules, _ := filepath.Abs(filepath.Join("..", "..", ".cache", "npm-arrow", "node_modules"))
	if _, err := os.Stat(filepath.Join(modules, "apache-arrow")); err != nil {
		t.Fatalf("npm apache-arrow missing at %s (run scripts/setup.sh): %v", modules, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found (run scripts/setup.sh)")
	}
	meta := schemas.ExamplesMeta{MaxSeqLength: 48, VocabSHA256: "07eced37", Tokenizer: "wordpiece"}
	dir := filepath.Join(t.TempDir(), "ds")
	w, err := Create(dir, meta, Options{Formats: []Format{Arrow, Parquet}, ShardBytes: 40000})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	rows, tokens := 0, 0
	for b, src := range []string{"books", "wikipedia", "books", "gigaword", "wikipedia", "books"} {
		ex := makeBatch(b, 77, meta.MaxSeqLength, src)
		ex[0].DocID = "ünïcode id, with | and \"quotes\""
		for _, e := range ex {
			fmt.Fprintf(h, "%d|%s|%s|%s|%s\n", len(e.InputIDs), join(e.InputIDs), join(e.SegmentIDs), e.DocID, e.Source)
			rows++
			tokens += len(e.InputIDs)
		}
		if err := w.Write(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{Arrow, Parquet} {
		args := []string{filepath.Join("testdata", "foreign-reader.mjs"), modules}
		for _, s := range m.Shards {
			if s.Format == f {
				args = append(args, filepath.Join(dir, s.File))
			}
		}
		if len(args) < 4 {
			t.Fatalf("%s: want several shards, got %d", f, len(args)-2)
		}
		out, err := exec.Command(node, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: foreign reader failed: %v\n%s", f, err, out)
		}
		var got struct {
			Rows, Tokens int
			SHA256       string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v: %s", f, err, out)
		}
		if got.Rows != rows || got.Tokens != tokens || got.SHA256 != want {
			t.Fatalf("%s read by JS: %d rows, %d tokens, sha256 %s; wrote %d rows, %d tokens, sha256 %s", f, got.Rows, got.Tokens, got.SHA256, rows, tokens, want)
		}
	}
}

func join[T int32 | int8](v []T) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
