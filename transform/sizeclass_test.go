package transform

import "testing"

func TestSizeClasses(t *testing.T) {
	s := newSizeClasses[[]byte](10, 3, func(int) int { return 1 }) // 1, 2, 4 KiB
	for _, tc := range []struct {
		n       int
		fit     int
		fits    bool
		isExact bool
	}{
		{0, 0, true, false},
		{1, 0, true, false},
		{1024, 0, true, true},
		{1025, 1, true, false},
		{2048, 1, true, true},
		{3000, 2, true, false},
		{4096, 2, true, true},
		{4097, 3, false, false},
	} {
		c, ok := s.fit(tc.n)
		if ok != tc.fits || (ok && c != tc.fit) {
			t.Errorf("fit(%d) = %d, %v; want %d, %v", tc.n, c, ok, tc.fit, tc.fits)
		}
		if _, ok := s.exact(tc.n); ok != tc.isExact {
			t.Errorf("exact(%d) = %v, want %v", tc.n, ok, tc.isExact)
		}
	}
	// A class keeps what keep allows and hands it back.
	a, b := make([]byte, 2048), make([]byte, 2048)
	s.put(1, a)
	s.put(1, b) // over the class's keep of 1: dropped
	if got, ok := s.get(1); !ok || &got[0] != &a[0] {
		t.Fatal("get(1) did not return the buffer put")
	}
	if _, ok := s.get(1); ok {
		t.Fatal("a class kept more than keep allows")
	}
	if n := len(recordBuf(5000)); n != 5000 || cap(recordBuf(5000)) != 8192 {
		t.Fatalf("recordBuf(5000): len %d cap %d, want 5000 in an 8 KiB buffer", n, cap(recordBuf(5000)))
	}
}
