package torch

/*
#include <malloc.h>
static int electra_mallopt(int param, int value) { return mallopt(param, value); }
static void electra_malloc_trim(void) { malloc_trim(0); }
static size_t electra_malloc_in_use(void) {
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}
*/
import "C"

import (
	"os"
	"strings"
)

// The allocator policy for libtorch's CPU tensors, which come from glibc
// malloc. A training step frees and reallocates the same activations every
// step, so memory returned to the kernel after a step is only faulted back
// in during the next one:
//
//   - M_MMAP_THRESHOLD 32 MiB (glibc's maximum): blocks below it come from
//     the heap and are reused, not mmapped and munmapped per tensor. Larger
//     ones (ELECTRA-Small's [N, vocab] logits) are mmapped whatever we set.
//   - M_TRIM_THRESHOLD off (-1): free memory at the top of the main heap
//     is kept for the next step instead of being handed back after each.
//   - M_TOP_PAD 64 MiB: a thread's own arena (every thread but the
//     process's first has one) grows in 64 MiB heaps and unmaps a heap as
//     soon as it is empty, whatever the trim threshold, unless the heap
//     below has top_pad bytes to spare (glibc's heap_trim). With the
//     default pad the training thread's arena unmapped and remapped heaps
//     every step: 7.7k page faults a step in trainer.TestTrainingMemoryIsFlat
//     whenever its thread was not the main one (15k in CI), 30-60 with the
//     pad on either kind of arena. The pad also makes each heap, and each
//     growth of the main heap, reserve 64 MiB of address space; pages
//     become resident only when touched.
//
// Setting any of them also turns off glibc's dynamic thresholds, which raise the
// mmap threshold as large blocks are freed and start trimming at twice it.
//
// What a thread's arena keeps stays with that thread: when a goroutine's
// torch work ends and another goroutine (on another OS thread, so another
// arena) starts, both arenas would hold a step's worth. The benchmark's two
// runs in one process peaked at 6.1 GB instead of 3.5. So LockThread's
// unlock hands all free memory back (releaseFreeMemory). Per-thread arenas
// also serve large blocks from 64 MiB heaps, which fragment more than the
// main arena: ELECTRA-Small at batch 32 and two threads peaked at up to
// 5 GB when the training thread had one, 3.3 GB on the main arena.
// MALLOC_ARENA_MAX=1 in the environment avoids that; mallopt(M_ARENA_MAX)
// from here cannot, as glibc has made arenas before Go code runs.
//
// Measured with trainer.TestTrainingMemoryIsFlat (tiny model, batch 32 x
// seq 32, 1 thread, 200 steps), page faults a step after warm-up / system
// time / peak resident set:
//
//	this policy                 26 / 0.9 s / 454 MB, flat at 435 MB
//	glibc's dynamic thresholds  26.7k / 13.4 s / 439 MB
//	previous pin at 128 KiB     76.1k / 35.2 s / 377 MB
//
// The pin kept the resident set lowest, at the price of an mmap, munmap
// and fresh pages for every activation. It had been added because the
// resident set grew ~6 MB a step with large thresholds; that growth came
// from gotch's leaked 32-byte output slots splitting the heap, not from the
// thresholds (fixed in scripts/gotchprep; the same test grew 22.7 MB from
// steps 50-99 to 150-199 before the fix, 0.1 MB after).
//
// MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ in the
// environment, or the same glibc.malloc.* tunables in GLIBC_TUNABLES, win
// over this.
const (
	mmapThreshold = 32 << 20
	trimNever     = -1
	topPad        = 64 << 20
)

func init() {
	if !mallocEnvSet("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold") {
		C.electra_mallopt(C.M_MMAP_THRESHOLD, mmapThreshold)
	}
	if !mallocEnvSet("MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold") {
		C.electra_mallopt(C.M_TRIM_THRESHOLD, trimNever)
	}
	if !mallocEnvSet("MALLOC_TOP_PAD_", "glibc.malloc.top_pad") {
		C.electra_mallopt(C.M_TOP_PAD, topPad)
	}
}

// mallocEnvSet reports whether the user set a malloc parameter through its
// environment variable or its glibc tunable.
func mallocEnvSet(env, tunable string) bool {
	if _, ok := os.LookupEnv(env); ok {
		return true
	}
	for _, kv := range strings.Split(os.Getenv("GLIBC_TUNABLES"), ":") {
		if k, _, _ := strings.Cut(kv, "="); k == tunable {
			return true
		}
	}
	return false
}

// releaseFreeMemory returns the free memory of every malloc arena to the
// kernel (malloc_trim), for when a thread's torch work is over.
func releaseFreeMemory() { C.electra_malloc_trim() }

// HeapInUse is how many bytes the process holds from malloc right now,
// libtorch's CPU tensors included (mallinfo2: heap blocks in use plus
// mmapped blocks). Unlike the resident set it does not count free memory
// the allocator keeps, nor Go's heap.
func HeapInUse() int64 { return int64(C.electra_malloc_in_use()) }
