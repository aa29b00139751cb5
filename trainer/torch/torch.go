// Package torch owns the boundary between Go and libtorch: which device a
// run uses, how many threads libtorch may take, seeding, the rule that torch
// work stays on one locked OS thread, and who frees a tensor.
//
// Everything above this package (model, objective, optimizer) may assume:
//   - the calling goroutine has called LockThread (grad mode and gotch's
//     last-error are per OS thread in libtorch; a goroutine that migrates
//     between threads sees random "does not require grad" failures);
//   - tensors it creates are owned by exactly one Scope or caller that drops
//     them (gotch v0.7.0 frees nothing on its own: libtorch memory lives
//     outside Go's GC, so a forgotten tensor is a leak, not garbage).
package torch

/*
#include <stdlib.h>
// Defined by gotch's libtch (upstream) and by electra_extras.cpp, which
// scripts/gotchprep adds to the prepared copy of gotch.
extern void at_manual_seed(long long seed);
extern void at_set_num_threads(int n);
extern int at_get_num_threads();
extern const char *electra_torch_version();
extern const char *electra_parallel_info();
extern void electra_set_deterministic(int on);
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/sugarme/gotch"
)

// Version is the libtorch version this binary was linked against.
func Version() string { return C.GoString(C.electra_torch_version()) }

// ParallelInfo is libtorch's own description of its thread pools and BLAS.
func ParallelInfo() string { return C.GoString(C.electra_parallel_info()) }

// CUDAAvailable reports whether libtorch sees a usable CUDA device.
func CUDAAvailable() bool { return gotch.CUDA.IsAvailable() }

// SetThreads caps libtorch's intra-op thread pool. n <= 0 leaves libtorch's
// default (one thread per core).
func SetThreads(n int) {
	if n > 0 {
		C.at_set_num_threads(C.int(n))
	}
}

// Threads is the current intra-op thread count.
func Threads() int { return int(C.at_get_num_threads()) }

// Seed seeds libtorch's global generators (CPU and, where present, CUDA).
func Seed(seed int64) { C.at_manual_seed(C.longlong(seed)) }

// SetDeterministic asks libtorch for deterministic kernels only (warn-only
// where none exists). CPU kernels are deterministic already at a fixed
// thread count; this matters on CUDA.
func SetDeterministic(on bool) {
	v := 0
	if on {
		v = 1
	}
	C.electra_set_deterministic(C.int(v))
}

// LockThread pins the calling goroutine to its OS thread for as long as it
// does torch work. Call it first thing in every goroutine (and test) that
// touches tensors and defer the returned function.
func LockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// Device parses a device name: "auto" (CUDA when available, else CPU),
// "cpu", "cuda" or "cuda:N".
func Device(name string) (gotch.Device, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); {
	case n == "" || n == "auto":
		return gotch.CudaIfAvailable(), nil
	case n == "cpu":
		return gotch.CPU, nil
	case n == "cuda" || strings.HasPrefix(n, "cuda:"):
		if !CUDAAvailable() {
			return gotch.CPU, fmt.Errorf("device %q: libtorch reports no CUDA device (this build links %s; see docs/gpu.md)", name, Version())
		}
		idx := 0
		if strings.HasPrefix(n, "cuda:") {
			if _, err := fmt.Sscanf(n, "cuda:%d", &idx); err != nil {
				return gotch.CPU, fmt.Errorf("device %q: want cuda:N", name)
			}
		}
		return gotch.CudaBuilder(uint(idx)), nil
	default:
		return gotch.CPU, fmt.Errorf("device %q: want auto, cpu, cuda or cuda:N", name)
	}
}
