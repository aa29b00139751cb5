package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// gotch v0.7.0's wrappers get the slot for their output tensor handles
// from C.malloc(0) and never free it. glibc hands out a 32-byte chunk, so
// every op leaked 32 bytes (measured: 33 bytes per add+drop over 2M ops),
// ~50 KB per tiny ELECTRA step; worse, the leaked chunks sit between the
// freed activations and stop them coalescing, which is what made the heap
// grow by megabytes per step whenever large tensors were not mmapped. Ops
// with four or five outputs also wrote past the 24 usable bytes.
//
// freeOutputBuffers sizes each slot for the outputs the wrapper reads
// (ctensorPtr0..N) and frees it when the wrapper returns; the handles are
// copied out of it before that. ts/jit.go's list-valued call, whose length
// is only known at run time, is left as it is: the trainer does not use
// TorchScript.
var (
	outSlot   = regexp.MustCompile(`^(\s*)(\w+) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)\s*$`)
	nextSlot  = regexp.MustCompile(`^\s*\w+ := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(uintptr\(unsafe\.Pointer\(\w+\)\) \+ unsafe\.Sizeof\(\w+\)\)\)\s*$`)
	freedSlot = regexp.MustCompile(`^\s*defer C\.free\(unsafe\.Pointer\((\w+)\)\)\s*$`)
)

// outputSlotFiles are the files of gotch's ts package whose malloc(0)
// slots freeOutputBuffers rewrites.
var outputSlotFiles = []string{"tensor-generated.go", "tensor.go", "patch.go"}

func freeOutputBuffers(dst string) (int, error) {
	total := 0
	for _, name := range outputSlotFiles {
		path := filepath.Join(dst, "ts", name)
		data, err := os.ReadFile(path)
		if err != nil {
			return total, fmt.Errorf("freeing gotch output slots: %w", err)
		}
		out, n := rewriteOutputSlots(string(data))
		total += n
		if err := writeIfChanged(path, []byte(out)); err != nil {
			return total, err
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("freeing gotch output slots: no C.malloc(0) output slot found in %s/ts; gotch changed, review scripts/gotchprep/outbuf.go", dst)
	}
	return total, nil
}

// rewriteOutputSlots returns src with every leaked output slot allocated
// for its outputs and freed on return, and how many it rewrote.
func rewriteOutputSlots(src string) (string, int) {
	lines := strings.Split(src, "\n")
	out := make([]string, 0, len(lines)+len(lines)/8)
	n := 0
	for i := 0; i < len(lines); i++ {
		m := outSlot.FindStringSubmatch(lines[i])
		if m == nil {
			out = append(out, lines[i])
			continue
		}
		indent, name := m[1], m[2]
		slots := 1
		for j := i + 1; j < len(lines) && nextSlot.MatchString(lines[j]); j++ {
			slots++
		}
		if i+1 < len(lines) {
			if f := freedSlot.FindStringSubmatch(lines[i+1]); f != nil && f[1] == name {
				// Already freed by its caller (ts.RunBackward): only size it.
				out = append(out, fmt.Sprintf("%s%s := (*lib.Ctensor)(C.calloc(%d, C.size_t(unsafe.Sizeof(uintptr(0)))))", indent, name, slots))
				n++
				continue
			}
		}
		out = append(out,
			fmt.Sprintf("%s%s := (*lib.Ctensor)(C.calloc(%d, C.size_t(unsafe.Sizeof(uintptr(0)))))", indent, name, slots),
			fmt.Sprintf("%sdefer C.free(unsafe.Pointer(%s))", indent, name))
		n++
	}
	return strings.Join(out, "\n"), n
}
