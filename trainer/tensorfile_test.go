package trainer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

func TestTensorFileRoundTrip(t *testing.T) {
	defer torch.LockThread()()
	path := filepath.Join(t.TempDir(), "x.safetensors")
	f := float32Tensor([]float32{1.5, -2, 3.25, 0, 5, 6}, []int64{2, 3}, gotch.CPU)
	i := int64Tensor([]int64{7, -8, 1 << 40}, []int64{3}, gotch.CPU)
	defer f.MustDrop()
	defer i.MustDrop()
	if err := writeTensorFile(path, []ts.NamedTensor{{Name: "f", Tensor: f}, {Name: "i", Tensor: i}}, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := readTensorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, nt := range got {
			nt.Tensor.MustDrop()
		}
	}()
	if meta["k"] != "v" || len(got) != 2 || got[0].Name != "f" || got[1].Name != "i" {
		t.Fatalf("read back %v %v", got, meta)
	}
	if !slices.Equal(got[0].Tensor.MustSize(), []int64{2, 3}) || !slices.Equal(got[0].Tensor.Float64Values(), f.Float64Values()) {
		t.Fatalf("float tensor changed: %v", got[0].Tensor.Float64Values())
	}
	if !slices.Equal(got[1].Tensor.Int64Values(), []int64{7, -8, 1 << 40}) {
		t.Fatalf("int tensor changed: %v", got[1].Tensor.Int64Values())
	}
	// Truncation is an error that says so, not a short tensor.
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:len(raw)-3], 0o644)
	if _, _, err := readTensorFile(path); err == nil {
		t.Fatal("truncated file read without error")
	}
}

// FuzzReadTensorFile: arbitrary bytes never crash the checkpoint reader.
func FuzzReadTensorFile(f *testing.F) {
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              "))
	f.Add([]byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}      \x00\x00\x80\x3f"))
	f.Add([]byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"I64\",\"shape\":[-1],\"data_offsets\":[0,8]}}     \x00\x00\x80\x3f"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		defer torch.LockThread()()
		path := filepath.Join(dir, "f.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, _, err := readTensorFile(path)
		if err != nil {
			return
		}
		for _, nt := range got {
			nt.Tensor.MustDrop()
		}
	})
}

func TestBatchValidate(t *testing.T) {
	c, _ := Preset("tiny")
	good := func() Batch {
		return Batch{Size: 1, SeqLen: 4, IDs: []int32{101, 2000, 102, 0}, Segments: []int8{0, 0, 0, 0}, Lengths: []int16{3}}
	}
	tests := []struct {
		name   string
		break_ func(*Batch)
	}{
		{"ok", func(*Batch) {}},
		{"short ids", func(b *Batch) { b.IDs = b.IDs[:3] }},
		{"id outside vocabulary", func(b *Batch) { b.IDs[1] = int32(c.VocabSize) }},
		{"negative id", func(b *Batch) { b.IDs[1] = -1 }},
		{"segment 2", func(b *Batch) { b.Segments[1] = 2 }},
		{"length past seq", func(b *Batch) { b.Lengths[0] = 5 }},
		{"seq past positions", func(b *Batch) { b.SeqLen = c.MaxPositions + 1 }},
		{"empty", func(b *Batch) { b.Size = 0 }},
	}
	for _, tc := range tests {
		b := good()
		tc.break_(&b)
		err := b.Validate(c)
		if (err == nil) != (tc.name == "ok") {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}
}
