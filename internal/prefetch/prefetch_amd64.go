package prefetch

func prefetchRange(addr uintptr, n int)
