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
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
// Defined by gotch's libtch (upstream) and by electra_extras.cpp, which
// scripts/gotchprep adds to the prepared copy of gotch.
extern void at_manual_seed(long long seed);
extern void at_set_num_threads(int n);
extern int at_get_num_threads();
extern const char *electra_torch_version();
extern const char *electra_parallel_info();
extern void electra_set_deterministic(int on);

// OpenBLAS is looked up at run time, not linked: a libtorch built with MKL
// (pip, CUDA) has no OpenBLAS, and at::set_num_threads already sets MKL's
// count. goto_set_num_threads is the GotoBLAS-era name OpenBLAS still
// exports.
static int electra_blas_set_threads(int n) {
	void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
	if (!set) set = (void (*)(int))dlsym(RTLD_DEFAULT, "goto_set_num_threads");
	if (!set) return 0;
	set(n);
	return 1;
}
static int electra_blas_threads(void) {
	int (*get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
	return get ? get() : -1;
}
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

// SetThreads caps libtorch's intra-op thread pool, and OpenBLAS's pool when
// libtorch's BLAS is OpenBLAS. n <= 0 leaves both at their defaults (one
// thread per core).
//
// at::set_num_threads sizes OpenMP and MKL but not OpenBLAS, whose pthread
// build keeps one worker per core: at SetThreads(1) every large matmul still
// ran on two threads, and between matmuls the idle worker spun in
// sched_yield (the tiny learning test at one thread: 43 s user + 68 s system
// time, 31 + 22 s with OpenBLAS at one thread too). The OpenBLAS count is
// process-wide, so this covers every thread that calls BLAS. The inter-op
// pool (at::set_num_interop_threads) runs only TorchScript forks, which the
// trainer does not use, and is left alone.
func SetThreads(n int) {
	if n > 0 {
		C.at_set_num_threads(C.int(n))
		C.electra_blas_set_threads(C.int(n))
	}
}

// BLASThreads is OpenBLAS's current thread count; ok is false when the
// process has no OpenBLAS (MKL, or reference BLAS).
func BLASThreads() (n int, ok bool) {
	n = int(C.electra_blas_threads())
	return n, n >= 0
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
// touches tensors and defer the returned function, which also gives the
// memory the work freed back to the kernel (see malloc.go).
func LockThread() (unlock func()) {
	runtime.LockOSThread()
	return func() {
		releaseFreeMemory()
		runtime.UnlockOSThread()
	}
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
