package transform

import "golang.org/x/sys/cpu"

// hasAVX2 gates the assembly scan; BMI1 is for its TZCNT. Tests turn it
// off to run the portable path too.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasBMI1

// jsonStopAVX2 scans the whole 32-byte blocks of s, len(s)&^31 bytes. It
// returns the index of the first stop byte there, or len(s)&^31 if there
// is none, and whether a byte >= 0x80 comes before that index.
//
//go:noescape
func jsonStopAVX2(s []byte) (n int, high bool)

// jsonStopBlocks scans the whole 32-byte blocks of s where the CPU has
// AVX2, and none elsewhere. It returns how far it got (the stop byte's
// index if stopped), whether a byte >= 0x80 came before, and whether it
// stopped at a stop byte.
func jsonStopBlocks(s []byte) (n int, high, stopped bool) {
	if !hasAVX2 {
		return 0, false, false
	}
	n, high = jsonStopAVX2(s)
	return n, high, n < len(s)&^31
}
