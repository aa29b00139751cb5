package prefetch

import (
	"testing"
	"unsafe"
)

// TestRange: any range, even one past what the caller holds or empty,
// is only a hint and leaves memory as it was.
func TestRange(t *testing.T) {
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(i)
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	for _, tc := range []struct {
		addr uintptr
		n    int
	}{{p, 0}, {p, -64}, {p, 1}, {p, len(b)}, {p + 999, 1 << 20}, {0, 64}} {
		Range(tc.addr, tc.n)
	}
	for i := range b {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed", i)
		}
	}
}
