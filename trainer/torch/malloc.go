package torch

/*
#include <malloc.h>
static void electra_fix_mmap_threshold(void) { mallopt(M_MMAP_THRESHOLD, 128 * 1024); }
*/
import "C"

import "os"

// glibc raises its mmap threshold each time a large block is freed, after
// which libtorch's per-step activations (freed and reallocated in a
// different order every step) come from the fragmenting heap: the resident
// set of an ELECTRA training loop grew ~6 MB per step and never came back.
// Pinning the threshold at its 128 KiB default keeps large tensors mmapped
// and returned on free; measured flat at 254 MB over 100 tiny steps.
// Setting MALLOC_MMAP_THRESHOLD_ in the environment overrides this.
func init() {
	if _, set := os.LookupEnv("MALLOC_MMAP_THRESHOLD_"); !set {
		C.electra_fix_mmap_threshold()
	}
}
