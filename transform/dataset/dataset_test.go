package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/electra-go/electra/schemas"
)

func makeBatch(b, n, l int, source string) []schemas.Example {
	out := make([]schemas.Example, n)
	for i := range out {
		k := 3 + (b*31+i*7)%(l-2)
		e := schemas.Example{InputIDs: make([]int32, k), SegmentIDs: make([]int8, k), DocID: fmt.Sprintf("doc-%d-%d", b, i), Source: source}
		for j := range e.InputIDs {
			e.InputIDs[j] = int32(1 + (b*1000+i*10+j)%30000)
			if j > k/2 {
				e.SegmentIDs[j] = 1
			}
		}
		out[i] = e
	}
	return out
}

func TestWriterRoundTrip(t *testing.T) {
	meta := schemas.ExamplesMeta{MaxSeqLength: 32, VocabSHA256: "abc", Tokenizer: "wordpiece"}
	for _, tc := range []struct {
		name       string
		formats    []Format
		shardBytes int64
		wantShards int // per format
	}{
		// Sources appear at batches 0, 2 and 5: each new one starts a shard.
		{"arrow, rotation by new source", []Format{Arrow}, 1 << 30, 3},
		// 100 rows * 32 * 5 bytes = 16000 per batch: a shard per 2 batches,
		// plus the source rotations.
		{"arrow+parquet, rotation by size", []Format{Arrow, Parquet}, 30000, 5},
		{"parquet only", []Format{Parquet}, 1 << 30, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			w, err := Create(dir, meta, Options{Formats: tc.formats, ShardBytes: tc.shardBytes})
			if err != nil {
				t.Fatal(err)
			}
			sources := []string{"books", "books", "wikipedia", "books", "wikipedia", "gigaword", "books", "books"}
			var want []schemas.Example
			for b, src := range sources {
				ex := makeBatch(b, 100, 32, src)
				want = append(want, ex...)
				if err := w.Write(ex); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			m, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != int64(len(want)) || m.MaxSeqLength != 32 || m.VocabSHA256 != "abc" || m.Sources["books"] != 500 {
				t.Fatalf("manifest %+v", m)
			}
			per := map[Format]int{}
			for _, s := range m.Shards {
				per[s.Format]++
				b, err := os.ReadFile(filepath.Join(dir, s.File))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				if hex.EncodeToString(sum[:]) != s.SHA256 || int64(len(b)) != s.Bytes {
					t.Fatalf("shard %s: manifest sha256/bytes do not match the file", s.File)
				}
			}
			for _, f := range tc.formats {
				if per[f] != tc.wantShards {
					t.Fatalf("%s shards = %d, want %d (%+v)", f, per[f], tc.wantShards, m.Shards)
				}
			}
			// Read back through the format Batches picks and, separately,
			// the Parquet shards.
			check := func(name string, got []schemas.Example) {
				if len(got) != len(want) {
					t.Fatalf("%s: read %d rows, want %d", name, len(got), len(want))
				}
				for i := range want {
					g, w := got[i], want[i]
					if !slices.Equal(g.InputIDs, w.InputIDs) || !slices.Equal(g.SegmentIDs, w.SegmentIDs) || g.DocID != w.DocID || g.Source != w.Source {
						t.Fatalf("%s: row %d = %+v, want %+v", name, i, g, w)
					}
				}
			}
			var got []schemas.Example
			for b, err := range Batches(dir) {
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < b.Rows; i++ {
					got = append(got, b.Example(i))
				}
			}
			check("Batches", got)
			if slices.Contains(tc.formats, Parquet) {
				got = got[:0]
				for _, s := range m.Shards {
					if s.Format != Parquet {
						continue
					}
					for b, err := range readParquet(filepath.Join(dir, s.File)) {
						if err != nil {
							t.Fatal(err)
						}
						for i := 0; i < b.Rows; i++ {
							got = append(got, b.Example(i))
						}
					}
				}
				check("parquet", got)
			}
		})
	}
}

func TestCreateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if _, err := Create(dir, schemas.ExamplesMeta{MaxSeqLength: 8}, Options{}); err == nil {
		t.Fatal("Create wrote into a non-empty directory")
	}
	if _, err := ParseFormats("arrow,csv"); err == nil {
		t.Fatal("ParseFormats accepted csv")
	}
	if f, err := ParseFormats("parquet,arrow,parquet"); err != nil || !slices.Equal(f, []Format{Parquet, Arrow}) {
		t.Fatalf("ParseFormats = %v, %v", f, err)
	}
}
