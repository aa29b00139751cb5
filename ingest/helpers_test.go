package ingest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/electra-go/electra/schemas"
)

// repoRoot is the module root, where ../shared/data and .cache live.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// realWikiDump is the Wikipedia export excerpt every engineer's checkout
// sees at ../shared/data/wikipedia.
func realWikiDump(t testing.TB) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(repoRoot(t), "..", "shared", "data", "wikipedia", "*.bz2"))
	if len(m) == 0 {
		t.Fatalf("the real Wikipedia excerpt is missing from ../shared/data/wikipedia; it is part of the test setup")
	}
	return m[0]
}

// readAll opens path with format and returns every record, failing the
// test on a read error; offsets must strictly increase.
func readAll(t testing.TB, format, path string, opts Options) []Record {
	t.Helper()
	r, err := Open(format, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := Collect(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	checkOffsets(t, recs)
	return recs
}

func checkOffsets(t testing.TB, recs []Record) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if recs[i].Offset <= recs[i-1].Offset {
			t.Fatalf("offsets do not increase: record %d at %d after %d", i, recs[i].Offset, recs[i-1].Offset)
		}
	}
}

// laidOut returns the documents of recs with sentences split as the
// pipeline does, keyed by id.
func laidOut(t testing.TB, recs []Record) map[string]schemas.Document {
	t.Helper()
	sp, err := NewSplitter()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]schemas.Document{}
	for _, r := range recs {
		if r.Dead != nil || r.Skip != "" {
			continue
		}
		d := r.Doc
		d.Text, _ = sp.Split(d.Text)
		if _, dup := out[d.ID]; dup {
			t.Fatalf("id %s twice", d.ID)
		}
		out[d.ID] = d
	}
	return out
}

func countBy(recs []Record) (skipped, dead map[string]int) {
	skipped, dead = map[string]int{}, map[string]int{}
	for _, r := range recs {
		if r.Skip != "" {
			skipped[r.Skip]++
		}
		if r.Dead != nil {
			dead[r.Dead.Reason]++
		}
	}
	return
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func slicesSorted[K ~string](seq func(func(K) bool)) []K {
	var out []K
	for k := range seq {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
