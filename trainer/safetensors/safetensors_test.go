package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func f32bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func f64bytes(vs ...float64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return b
}

func i64bytes(vs ...int64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

func seq32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)*0.5 - 3
	}
	return v
}

// sample is a mix that exercises alignment: 1-, 2-, 4- and 8-byte types
// given in an order where naive concatenation would misalign.
func sample() []Tensor {
	return []Tensor{
		{Name: "u8", DType: U8, Shape: []int64{3}, Data: []byte{1, 2, 255}},
		{Name: "layer.0.weight", DType: F32, Shape: []int64{2, 3}, Data: f32bytes(seq32(6)...)},
		{Name: "bf16", DType: BF16, Shape: []int64{1}, Data: []byte{0x80, 0x3f}},
		{Name: "ids", DType: I64, Shape: []int64{3}, Data: i64bytes(-3, 0, 1<<40)},
		{Name: "scalar", DType: F64, Shape: []int64{}, Data: f64bytes(2.5)},
		{Name: "empty", DType: F32, Shape: []int64{0, 4}, Data: nil},
	}
}

func encode(t *testing.T, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
	}{
		{"mixed dtypes with metadata", sample(), map[string]string{"format": "pt", "step": "12"}},
		{"mixed dtypes without metadata", sample(), nil},
		{"no tensors", nil, map[string]string{"format": "pt"}},
		{"nothing at all", nil, nil},
		{"odd name characters", []Tensor{{Name: "a \"quoted\"/é", DType: I32, Shape: []int64{1}, Data: []byte{1, 0, 0, 0}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := encode(t, tc.tensors, tc.meta)
			f, err := NewReader(bytes.NewReader(blob), int64(len(blob)))
			if err != nil {
				t.Fatal(err)
			}
			if f.DataOffset()%8 != 0 {
				t.Errorf("data section starts at %d, not a multiple of 8", f.DataOffset())
			}
			if !reflect.DeepEqual(f.Metadata, tc.meta) && !(len(f.Metadata) == 0 && len(tc.meta) == 0) {
				t.Errorf("metadata %v, want %v", f.Metadata, tc.meta)
			}
			if got := len(f.Tensors()); got != len(tc.tensors) {
				t.Fatalf("%d tensors read back, wrote %d", got, len(tc.tensors))
			}
			for _, want := range tc.tensors {
				in, ok := f.Info(want.Name)
				if !ok {
					t.Fatalf("tensor %q missing", want.Name)
				}
				if in.DType != want.DType || !reflect.DeepEqual(in.Shape, want.Shape) {
					t.Errorf("%q: %s%v, want %s%v", want.Name, in.DType, in.Shape, want.DType, want.Shape)
				}
				if (f.DataOffset()+in.Begin)%int64(want.DType.Size()) != 0 {
					t.Errorf("%q starts at %d, not aligned to its %d-byte elements", want.Name, f.DataOffset()+in.Begin, want.DType.Size())
				}
				got, err := f.Read(want.Name)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Data) {
					t.Errorf("%q: bytes %v, want %v", want.Name, got, want.Data)
				}
			}
			if again := encode(t, tc.tensors, tc.meta); !bytes.Equal(again, blob) {
				t.Error("writing the same tensors twice gave different files")
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int64{2}, Data: make([]byte, 7)}}, "7 data bytes"},
		{"duplicate", []Tensor{{Name: "a", DType: U8, Shape: []int64{1}, Data: []byte{1}}, {Name: "a", DType: U8, Shape: []int64{1}, Data: []byte{1}}}, "given twice"},
		{"unknown dtype", []Tensor{{Name: "a", DType: "F8", Shape: []int64{1}, Data: []byte{1}}}, "unknown dtype"},
		{"reserved name", []Tensor{{Name: MetadataKey, DType: U8, Shape: []int64{1}, Data: []byte{1}}}, "reserved"},
		{"negative dim", []Tensor{{Name: "a", DType: U8, Shape: []int64{-1}}}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tc.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// withHeader builds a file from a literal header and data section.
func withHeader(h string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func TestReadRejects(t *testing.T) {
	good := encode(t, sample(), nil)
	for _, tc := range []struct {
		name string
		blob []byte
		want string
	}{
		{"too short", []byte{1, 2, 3}, "shorter than"},
		{"header past end", append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0}, '{', '}'), "runs past the end"},
		{"huge header length", []byte{0, 0, 0, 0, 0, 0, 0, 1}, "exceeds"},
		{"truncated data", good[:len(good)-1], "truncated"},
		{"trailing bytes", append(append([]byte{}, good...), 0), "trailing"},
		{"not json", withHeader("[1,2]   ", nil), "does not start with"},
		{"bad json", withHeader(`{"a":`, nil), "header"},
		{"garbage after object", withHeader(`{} x`, nil), "unexpected bytes"},
		{"duplicate tensor", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2}), "given twice"},
		{"unknown dtype", withHeader(`{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), "unknown dtype"},
		{"size mismatch", withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		{"gap", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), "gap"},
		{"overlap", withHeader(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), "overlaps"},
		{"missing field", withHeader(`{"a":{"dtype":"U8","shape":[1]}}`, make([]byte, 1)), "data_offsets"},
		{"three offsets", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, make([]byte, 1)), "3 values"},
		{"metadata not strings", withHeader(`{"__metadata__":{"a":1}}`, nil), "strings to strings"},
		{"negative shape", withHeader(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil), "negative"},
		{"overflowing shape", withHeader(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.blob), int64(len(tc.blob)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// python is Debian's interpreter, the one that sees python3-torch (a pyenv
// python3 may come first on PATH and cannot import it).
const python = "/usr/bin/python3"

func runPython(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(python, append([]string{filepath.Join("testdata", "independent.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s(python3-torch is installed by scripts/setup.sh)", python, args, err, stderr.String())
	}
	return out
}

// TestPythonReadsOurFile has an independent reader (struct + json + torch)
// check the layout rules and decode every tensor we wrote.
func TestPythonReadsOurFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	meta := map[string]string{"format": "pt"}
	if err := WriteFile(path, sample(), meta); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Metadata map[string]string `json:"__metadata__"`
		Tensors  map[string]struct {
			DType  string    `json:"dtype"`
			Shape  []int64   `json:"shape"`
			Sum    float64   `json:"sum"`
			Values []float64 `json:"values"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(runPython(t, "read", path), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Metadata, meta) {
		t.Errorf("python saw metadata %v", got.Metadata)
	}
	w := seq32(6)
	want := map[string][]float64{
		"u8":             {1, 2, 255},
		"layer.0.weight": {float64(w[0]), float64(w[1]), float64(w[2]), float64(w[3]), float64(w[4]), float64(w[5])},
		"bf16":           {1}, // 0x3f80 is 1.0 in bfloat16
		"ids":            {-3, 0, 1 << 40},
		"scalar":         {2.5},
		"empty":          {},
	}
	if len(got.Tensors) != len(want) {
		t.Fatalf("python saw %d tensors, want %d", len(got.Tensors), len(want))
	}
	for _, in := range sample() {
		pt, ok := got.Tensors[in.Name]
		if !ok {
			t.Fatalf("python did not see %q", in.Name)
		}
		if pt.DType != string(in.DType) || !reflect.DeepEqual(append([]int64{}, pt.Shape...), append([]int64{}, in.Shape...)) {
			t.Errorf("%q: python saw %s%v, want %s%v", in.Name, pt.DType, pt.Shape, in.DType, in.Shape)
		}
		if !reflect.DeepEqual(append([]float64{}, pt.Values...), want[in.Name]) {
			t.Errorf("%q: python decoded %v, want %v", in.Name, pt.Values, want[in.Name])
		}
	}
}

// TestWeReadPythonFile reads a file laid out by the independent writer,
// in an order ours never produces.
func TestWeReadPythonFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "py.safetensors")
	runPython(t, "write", path)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["writer"] != "python" {
		t.Errorf("metadata %v", f.Metadata)
	}
	wantZ := make([]float32, 12)
	for i := range wantZ {
		wantZ[i] = float32(i) / 4
	}
	for _, want := range []Tensor{
		{Name: "z.f32", DType: F32, Shape: []int64{3, 4}, Data: f32bytes(wantZ...)},
		{Name: "y.i64", DType: I64, Shape: []int64{3}, Data: i64bytes(-3, 0, 1<<40)},
		{Name: "x.u8", DType: U8, Shape: []int64{3}, Data: []byte{1, 2, 255}},
		{Name: "w.scalar", DType: F64, Shape: []int64{}, Data: f64bytes(2.5)},
	} {
		in, ok := f.Info(want.Name)
		if !ok {
			t.Fatalf("%q missing", want.Name)
		}
		if in.DType != want.DType || len(in.Shape) != len(want.Shape) || (len(in.Shape) > 0 && !reflect.DeepEqual(in.Shape, want.Shape)) {
			t.Errorf("%q: %s%v, want %s%v", want.Name, in.DType, in.Shape, want.DType, want.Shape)
		}
		got, err := f.Read(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Data) {
			t.Errorf("%q: %v, want %v", want.Name, got, want.Data)
		}
	}
	if _, err := f.Read("nope"); err == nil || !strings.Contains(err.Error(), `no tensor named "nope"`) {
		t.Errorf("reading a missing tensor: %v", err)
	}
}

func TestWriteFileLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := WriteFile(path, sample(), nil); err != nil {
		t.Fatal(err)
	}
	bad := []Tensor{{Name: "a", DType: F32, Shape: []int64{2}, Data: nil}}
	if err := WriteFile(filepath.Join(dir, "bad.safetensors"), bad, nil); err == nil {
		t.Fatal("writing a tensor without its data succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "m.safetensors" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only m.safetensors", names)
	}
}

// FuzzNewReader: whatever the bytes, the reader either rejects them or
// returns tensors that can all be read and written back to an equivalent
// file.
func FuzzNewReader(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, sample(), map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(withHeader(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add(withHeader(`{}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		r, err := NewReader(bytes.NewReader(blob), int64(len(blob)))
		if err != nil {
			return
		}
		var ts []Tensor
		for _, in := range r.Tensors() {
			data, err := r.Read(in.Name)
			if err != nil {
				t.Fatalf("validated tensor %q unreadable: %v", in.Name, err)
			}
			ts = append(ts, Tensor{Name: in.Name, DType: in.DType, Shape: in.Shape, Data: data})
		}
		var out bytes.Buffer
		if err := Write(&out, ts, r.Metadata); err != nil {
			t.Fatalf("rewriting a valid file: %v", err)
		}
		r2, err := NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("our own output rejected: %v", err)
		}
		for _, in := range ts {
			got, err := r2.Read(in.Name)
			if err != nil || !bytes.Equal(got, in.Data) {
				t.Fatalf("%q changed in the round trip", in.Name)
			}
		}
	})
}
