// Package safetensors reads and writes the safetensors file format
// (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON describing every tensor (dtype, shape, [begin, end) byte offsets
// into the data section) plus an optional "__metadata__" string map, then
// the raw little-endian tensor bytes.
//
// The package is pure Go: it moves bytes and shapes, not tensors. Callers
// that hold libtorch tensors convert at their own boundary (trainer/hf).
package safetensors

import (
	"fmt"
	"math"
)

// DType is a safetensors element type, spelled as in the header.
type DType string

// The element types safetensors defines that a model file can carry.
const (
	BOOL DType = "BOOL"
	U8   DType = "U8"
	I8   DType = "I8"
	I16  DType = "I16"
	U16  DType = "U16"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I32  DType = "I32"
	U32  DType = "U32"
	F32  DType = "F32"
	F64  DType = "F64"
	I64  DType = "I64"
	U64  DType = "U64"
)

// Size is the element size in bytes, 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// MaxHeaderSize bounds the JSON header (the reference implementation's
// limit), so a corrupt length cannot make a reader allocate gigabytes.
const MaxHeaderSize = 100 << 20

// MetadataKey is the reserved header key holding free-form string metadata.
const MetadataKey = "__metadata__"

// Info describes one tensor in a file. Begin and End are byte offsets into
// the data section (after the header), End exclusive.
type Info struct {
	Name       string
	DType      DType
	Shape      []int64
	Begin, End int64
}

// Numel is the number of elements the shape holds (1 for a scalar).
func Numel(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows int64 elements", shape)
		}
		n *= d
	}
	return n, nil
}

// byteSize is the data size a dtype and shape need.
func byteSize(d DType, shape []int64) (int64, error) {
	sz := int64(d.Size())
	if sz == 0 {
		return 0, fmt.Errorf("unknown dtype %q (want one of BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64)", d)
	}
	n, err := Numel(shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64/sz {
		return 0, fmt.Errorf("shape %v of %s overflows int64 bytes", shape, d)
	}
	return n * sz, nil
}
