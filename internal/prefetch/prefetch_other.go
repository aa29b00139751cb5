//go:build !amd64

package prefetch

func prefetchRange(uintptr, int) {}
