package torch

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestParsePrecision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		dev  gotch.Device
		want Precision
		err  bool
	}{
		{"fp32", gotch.CPU, FP32, false},
		{"bf16", gotch.CPU, BF16, false},
		{"auto", gotch.CPU, FP32, false},
		{"", gotch.CPU, FP32, false},
		{"auto", gotch.CudaBuilder(0), BF16, false},
		{"fp16", gotch.CPU, "", true},
	} {
		got, err := ParsePrecision(tc.in, tc.dev)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePrecision(%q, %v) = %q, %v; want %q, error %v", tc.in, tc.dev, got, err, tc.want, tc.err)
		}
	}
}

// TestAutocast checks that the region really switches libtorch's dispatch:
// a float32 matmul comes out bfloat16 inside it and float32 again after,
// nested regions keep it on until the outermost ends, and ops autocast
// keeps in float32 (softmax) do so.
func TestAutocast(t *testing.T) {
	defer LockThread()()
	s := NewScope()
	defer s.Close()
	a := s.Keep(ts.MustOnes([]int64{4, 4}, gotch.Float, gotch.CPU))
	mm := func() bool { return IsBFloat16(s.Keep(a.MustMm(a, false))) }

	if mm() {
		t.Fatal("before autocast: matmul gave bfloat16")
	}
	end := Autocast(gotch.CPU, BF16)
	if !mm() {
		t.Error("inside autocast: matmul did not give bfloat16")
	}
	inner := Autocast(gotch.CPU, BF16)
	inner()
	if !mm() {
		t.Error("after a nested region ended: matmul no longer bfloat16")
	}
	h := s.Keep(a.MustMm(a, false))
	if sm := s.Keep(h.MustSoftmax(-1, gotch.Float, false)); IsBFloat16(sm) || sm.DType() != gotch.Float {
		t.Error("softmax asked for float32 did not give float32")
	}
	end()
	if mm() {
		t.Error("after autocast: matmul still bfloat16")
	}
	noop := Autocast(gotch.CPU, FP32)
	if mm() {
		t.Error("fp32 region: matmul gave bfloat16")
	}
	noop()
}
