// Package prefetch asks the CPU to bring memory into its caches ahead of
// use, where its own prefetcher cannot foresee the access: rows read in
// shuffled order, text across page boundaries. Go has no prefetch outside
// its runtime. It is a hint only: where there is no assembly for the
// CPU, it does nothing.
package prefetch

// Range issues a prefetch (PREFETCHT0 on amd64) for each 64-byte cache
// line of the n bytes from addr. addr is a uintptr, not a pointer: it may
// lie past the end of what the caller holds (a prefetch never faults),
// where a pointer would confuse the garbage collector.
func Range(addr uintptr, n int) { prefetchRange(addr, n) }
