package schemas

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func randomExamples(rng *rand.Rand, n, l int) []Example {
	sources := []string{"wikipedia", "books", "gigaword"}
	out := make([]Example, n)
	for i := range out {
		k := 3 + rng.IntN(l-2)
		e := Example{InputIDs: make([]int32, k), SegmentIDs: make([]int8, k), DocID: "doc-" + string(rune('a'+rng.IntN(26))), Source: sources[rng.IntN(len(sources))]}
		cut := rng.IntN(k)
		for j := range e.InputIDs {
			e.InputIDs[j] = 1 + rng.Int32N(30521)
			if j > cut {
				e.SegmentIDs[j] = 1
			}
		}
		out[i] = e
	}
	return out
}

func equalExamples(t *testing.T, b *ExampleBatch, want []Example) {
	t.Helper()
	if b.Rows != len(want) {
		t.Fatalf("rows = %d, want %d", b.Rows, len(want))
	}
	l := b.Meta.MaxSeqLength
	for i, w := range want {
		g := b.Example(i)
		if !slicesEqual(g.InputIDs, w.InputIDs) || !slicesEqual(g.SegmentIDs, w.SegmentIDs) || g.DocID != w.DocID || g.Source != w.Source {
			t.Fatalf("row %d = %+v, want %+v", i, g, w)
		}
		for j := len(w.InputIDs); j < l; j++ {
			if b.InputIDs[i*l+j] != PadID || b.SegmentIDs[i*l+j] != 0 {
				t.Fatalf("row %d position %d: padding (%d,%d), want (0,0)", i, j, b.InputIDs[i*l+j], b.SegmentIDs[i*l+j])
			}
		}
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExamplesMessageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows int
		l    int
	}{
		{"empty batch", 0, 128},
		{"one row", 1, 128},
		{"full batch L128", 1024, 128},
		{"L512", 37, 512},
		{"minimum L", 9, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.rows), uint64(tc.l)))
			meta := ExamplesMeta{MaxSeqLength: tc.l, VocabSHA256: "07eced37", Tokenizer: "wordpiece"}
			ex := randomExamples(rng, tc.rows, tc.l)
			if tc.rows > 0 {
				ex[0].InputIDs = ex[0].InputIDs[:0] // zero-length rows must survive too
				ex[0].SegmentIDs = ex[0].SegmentIDs[:0]
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			rec, err := NewExamplesRecord(mem, meta, ex)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := EncodeExamplesRecord(rec)
			rec.Release()
			mem.AssertSize(t, 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeExamplesMessage(msg)
			if err != nil {
				t.Fatal(err)
			}
			if b.Meta != meta {
				t.Fatalf("meta = %+v, want %+v", b.Meta, meta)
			}
			equalExamples(t, b, ex)
		})
	}
}

func TestExamplesMessageIsLZ4Stream(t *testing.T) {
	meta := ExamplesMeta{MaxSeqLength: 128, VocabSHA256: "x", Tokenizer: "t"}
	ex := randomExamples(rand.New(rand.NewPCG(1, 2)), 256, 128)
	msg, err := EncodeExamplesMessage(meta, ex)
	if err != nil {
		t.Fatal(err)
	}
	// An independent plain ipc.Reader must read it: schema, one batch, EOS.
	rd, err := ipc.NewReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	n := 0
	for rd.Next() {
		n++
	}
	if rd.Err() != nil || n != 1 {
		t.Fatalf("batches = %d, err = %v; want 1, nil", n, rd.Err())
	}
	// Random ids compress poorly; a compressed body still must not exceed
	// the plain body by much, while an uncompressed encode of padded rows is
	// strictly larger when rows are short.
	short := make([]Example, 512)
	for i := range short {
		short[i] = Example{InputIDs: []int32{101, 7, 102}, SegmentIDs: []int8{0, 0, 0}, DocID: "d", Source: "books"}
	}
	c, err := EncodeExamplesMessage(meta, short)
	if err != nil {
		t.Fatal(err)
	}
	if plain := 512 * 128 * 5; len(c) >= plain/4 {
		t.Fatalf("compressed message of padded rows is %d bytes, want < %d: LZ4 not applied?", len(c), plain/4)
	}
}

func TestExamplesRejects(t *testing.T) {
	meta := ExamplesMeta{MaxSeqLength: 8}
	for _, tc := range []struct {
		name string
		meta ExamplesMeta
		ex   []Example
		want string
	}{
		{"too long", meta, []Example{{InputIDs: make([]int32, 9), SegmentIDs: make([]int8, 9), DocID: "d7"}}, `(doc "d7") has 9 tokens`},
		{"segment mismatch", meta, []Example{{InputIDs: make([]int32, 3), SegmentIDs: make([]int8, 2)}}, "2 segment ids for 3 tokens"},
		{"tiny L", ExamplesMeta{MaxSeqLength: 4}, nil, "max_seq_length 4 out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeExamplesMessage(tc.meta, tc.ex)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeRejectsForeignStream(t *testing.T) {
	// A valid Arrow stream of another schema must be refused with a reason.
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, err := DecodeExamplesMessage(buf.Bytes())
	if err == nil || !strings.Contains(err.Error(), "not an electra examples batch") {
		t.Fatalf("err = %v", err)
	}
	if _, err := DecodeExamplesMessage([]byte("not arrow at all")); err == nil {
		t.Fatal("garbage decoded without error")
	}
}

func TestReadExamplesFile(t *testing.T) {
	meta := ExamplesMeta{MaxSeqLength: 64, VocabSHA256: "abc", Tokenizer: "wordpiece"}
	rng := rand.New(rand.NewPCG(3, 4))
	path := filepath.Join(t.TempDir(), "shard.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := ipc.NewFileWriter(f, ipc.WithSchema(ExamplesSchema(meta)), ipc.WithLZ4())
	if err != nil {
		t.Fatal(err)
	}
	var want [][]Example
	for i := 0; i < 3; i++ {
		ex := randomExamples(rng, 10+i, 64)
		want = append(want, ex)
		rec, err := NewExamplesRecordDict(nil, meta, ex, []string{"wikipedia", "books", "gigaword"})
		if err != nil {
			t.Fatal(err)
		}
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	i := 0
	for b, err := range ReadExamplesFile(path) {
		if err != nil {
			t.Fatal(err)
		}
		equalExamples(t, b, want[i])
		i++
	}
	if i != 3 {
		t.Fatalf("read %d batches, want 3", i)
	}
	_, err = NewExamplesRecordDict(nil, meta, []Example{{DocID: "d", Source: "web"}}, []string{"books"})
	if err == nil || !strings.Contains(err.Error(), `source "web" outside the fixed dictionary`) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodeExamplesMessage(f *testing.F) {
	meta := ExamplesMeta{MaxSeqLength: 8, VocabSHA256: "v", Tokenizer: "t"}
	ex := []Example{{InputIDs: []int32{101, 5, 102}, SegmentIDs: []int8{0, 0, 0}, DocID: "d", Source: "s"}}
	msg, err := EncodeExamplesMessage(meta, ex)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(msg[:len(msg)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeExamplesMessage(data)
		if err != nil {
			return
		}
		// Whatever decodes must satisfy the contract's invariants.
		l := b.Meta.MaxSeqLength
		if len(b.InputIDs) != b.Rows*l || len(b.SegmentIDs) != b.Rows*l || len(b.Lengths) != b.Rows {
			t.Fatalf("inconsistent batch: rows %d L %d ids %d", b.Rows, l, len(b.InputIDs))
		}
		for _, n := range b.Lengths {
			if n < 0 || int(n) > l {
				t.Fatalf("length %d outside [0,%d]", n, l)
			}
		}
	})
}

func FuzzReadExamplesFile(f *testing.F) {
	meta := ExamplesMeta{MaxSeqLength: 8, VocabSHA256: "v", Tokenizer: "t"}
	var buf bytes.Buffer
	fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(ExamplesSchema(meta)), ipc.WithLZ4())
	if err != nil {
		f.Fatal(err)
	}
	rec, err := NewExamplesRecordDict(nil, meta, []Example{{InputIDs: []int32{101, 5, 102}, SegmentIDs: []int8{0, 0, 0}, DocID: "d", Source: "s"}}, []string{"s"})
	if err != nil {
		f.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		f.Fatal(err)
	}
	rec.Release()
	fw.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-10])
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "x.arrow")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for b, err := range ReadExamplesFile(path) {
			if err != nil {
				return
			}
			if len(b.InputIDs) != b.Rows*b.Meta.MaxSeqLength || len(b.Lengths) != b.Rows {
				t.Fatalf("inconsistent batch: rows %d", b.Rows)
			}
		}
	})
}
