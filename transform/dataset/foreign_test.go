package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
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
	modules, node := jsReader(t)
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
			hashRow(h, e)
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

// TestForeignReaderMessages reads Kafka message values as the transform
// produces them (schemas.ExamplesEncoder: its own IPC framing and LZ4
// frames, the token ids compressed by its pair search) with Apache Arrow's
// JavaScript implementation and lz4js, and compares every row.
func TestForeignReaderMessages(t *testing.T) {
	modules, node := jsReader(t)
	meta := schemas.ExamplesMeta{MaxSeqLength: 48, VocabSHA256: "07eced37", Tokenizer: "wordpiece"}
	enc, err := schemas.NewExamplesEncoder(meta)
	if err != nil {
		t.Fatal(err)
	}
	// Token ids drawn from a small vocabulary repeat in pairs at every
	// distance, as common words do: the compressor's matches, across its
	// 64 KiB blocks (1024 rows of 48 ids span three).
	rng := rand.New(rand.NewPCG(5, 6))
	words := func(n int) []schemas.Example {
		ex := makeBatch(9, n, meta.MaxSeqLength, "wikipedia")
		for i := range ex {
			for j := range ex[i].InputIDs {
				ex[i].InputIDs[j] = int32(1000 + rng.IntN(40))
			}
			if i%3 == 0 {
				ex[i].Source = "books"
			}
		}
		return ex
	}
	batches := [][]schemas.Example{makeBatch(0, 77, meta.MaxSeqLength, "books"), words(1024), makeBatch(2, 1, meta.MaxSeqLength, "gigaword"), words(300)}
	batches[0][0].DocID = "ünïcode id, with | and \"quotes\""
	dir := t.TempDir()
	h := sha256.New()
	rows, tokens := 0, 0
	args := []string{filepath.Join("testdata", "foreign-reader.mjs"), modules}
	var msg []byte
	for i, ex := range batches {
		for _, e := range ex {
			hashRow(h, e)
			rows++
			tokens += len(e.InputIDs)
		}
		if msg, err = enc.AppendEncode(msg[:0], ex); err != nil {
			t.Fatal(err)
		}
		// An IPC stream; tableFromIPC tells it from the file format.
		f := filepath.Join(dir, fmt.Sprintf("message-%d.arrow", i))
		if err := os.WriteFile(f, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	out, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("foreign reader failed: %v\n%s", err, out)
	}
	var got struct {
		Rows, Tokens int
		SHA256       string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := hex.EncodeToString(h.Sum(nil)); got.Rows != rows || got.Tokens != tokens || got.SHA256 != want {
		t.Fatalf("read by JS: %d rows, %d tokens, sha256 %s; encoded %d rows, %d tokens, sha256 %s", got.Rows, got.Tokens, got.SHA256, rows, tokens, want)
	}
}

// jsReader finds the npm apache-arrow install (scripts/setup.sh) and node.
func jsReader(t *testing.T) (modules, node string) {
	t.Helper()
	modules, _ = filepath.Abs(filepath.Join("..", "..", ".cache", "npm-arrow", "node_modules"))
	if _, err := os.Stat(filepath.Join(modules, "apache-arrow")); err != nil {
		t.Fatalf("npm apache-arrow missing at %s (run scripts/setup.sh): %v", modules, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found (run scripts/setup.sh)")
	}
	return modules, node
}

// hashRow adds one example to the row checksum, in the form
// testdata/foreign-reader.mjs hashes each row.
func hashRow(h io.Writer, e schemas.Example) {
	fmt.Fprintf(h, "%d|%s|%s|%s|%s\n", len(e.InputIDs), join(e.InputIDs), join(e.SegmentIDs), e.DocID, e.Source)
}
