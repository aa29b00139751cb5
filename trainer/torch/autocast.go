package torch

/*
extern int electra_autocast_enter(int device, int dtype);
extern void electra_autocast_exit(int device, int prev);
extern int at_scalar_type(void *t);
*/
import "C"

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Precision is the arithmetic a model's forward pass runs in.
type Precision string

const (
	FP32 Precision = "fp32"
	// BF16 runs matmuls, linear layers and convolutions in bfloat16 under
	// libtorch's autocast, as torch.autocast does: the weights, their
	// gradients and the optimizer state stay float32, and ops autocast
	// keeps in float32 (softmax, layer norm, losses) stay there.
	BF16 Precision = "bf16"
)

// ParsePrecision reads fp32, bf16 or auto. auto is bf16 on CUDA, where
// tensor cores make it about twice as fast, and fp32 on the CPU, where few
// processors have bfloat16 arithmetic and emulating it is slower than fp32.
func ParsePrecision(s string, dev gotch.Device) (Precision, error) {
	switch Precision(s) {
	case FP32, BF16:
		return Precision(s), nil
	case "auto", "":
		if dev.IsCuda() {
			return BF16, nil
		}
		return FP32, nil
	}
	return "", fmt.Errorf("precision %q: want fp32, bf16 or auto", s)
}

// Autocast enters a region in which ops on dev run in precision p, until
// the returned function ends it: defer torch.Autocast(dev, p)(). Regions
// nest; the outermost one's end frees the low-precision copies of the
// weights autocast cached, which go stale at the next optimizer step. Like
// grad mode, autocast is per OS thread (see LockThread). For FP32 it does
// nothing. Backward runs outside the region, as PyTorch recommends: the
// gradients come back in the dtypes the forward used.
func Autocast(dev gotch.Device, p Precision) (end func()) {
	if p != BF16 {
		return func() {}
	}
	d := C.int(0)
	if dev.IsCuda() {
		d = 1
	}
	prev := C.electra_autocast_enter(d, 0)
	return func() { C.electra_autocast_exit(d, prev) }
}

// IsBFloat16 reports whether t holds bfloat16 numbers. gotch v0.7.0's
// DType has no bfloat16: Tensor.DType exits the process on such a tensor,
// so code that may run under BF16 autocast must not call it.
func IsBFloat16(t *ts.Tensor) bool {
	const bfloat16 = 15 // c10::ScalarType::BFloat16
	return C.at_scalar_type(t.Ctensor()) == bfloat16
}
