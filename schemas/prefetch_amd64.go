package schemas

import "unsafe"

// prefetch asks the CPU to bring the n bytes at p into its caches
// (PREFETCHT0 per cache line; prefetch_amd64.s). Go has no prefetch of
// its own outside the runtime.
//
//go:noescape
func prefetch(p unsafe.Pointer, n int)
