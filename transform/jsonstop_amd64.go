package transform

import "golang.org/x/sys/cpu"

// hasAVX2 gates the assembly scan; BMI1 is for its TZCNT.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasBMI1

// jsonStopAVX2 scans the whole 32-byte blocks of s, len(s)&^31 bytes. It
// returns the index of the first stop byte there, or len(s)&^31 if there
// is none, and whether a byte >= 0x80 comes before that index.
//
//go:noescape
func jsonStopAVX2(s []byte) (n int, high bool)

// jsonStopBlocks is jsonStopAVX2 where the CPU has it; elsewhere it scans
// nothing and jsonStopWords does it all.
func jsonStopBlocks(s []byte) (int, bool) {
	if !hasAVX2 {
		return 0, false
	}
	return jsonStopAVX2(s)
}
