//go:build !amd64

package schemas

import "unsafe"

// prefetch is a hint only; elsewhere than amd64 there is none.
func prefetch(unsafe.Pointer, int) {}
