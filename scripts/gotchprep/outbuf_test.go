package main

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The three shapes of output slot in gotch v0.7.0, copied from its ts
// package: a single output, a multi-output op (five handles written one
// after another), and ts.RunBackward's slot that already frees itself.
func TestRewriteOutputSlotsShapes(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{
			name: "single",
			in: `  ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
  lib.AtgAbs(ptr, ts.ctensor)`,
			want: `  ptr := (*lib.Ctensor)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
  defer C.free(unsafe.Pointer(ptr))
  lib.AtgAbs(ptr, ts.ctensor)`,
		},
		{
			name: "five outputs",
			in: `  ctensorPtr0 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
  ctensorPtr1 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr0)) + unsafe.Sizeof(ctensorPtr0)))
  ctensorPtr2 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr1)) + unsafe.Sizeof(ctensorPtr0)))
  ctensorPtr3 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr2)) + unsafe.Sizeof(ctensorPtr0)))
  ctensorPtr4 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr3)) + unsafe.Sizeof(ctensorPtr0)))
  `,
			want: `  ctensorPtr0 := (*lib.Ctensor)(C.calloc(5, C.size_t(unsafe.Sizeof(uintptr(0)))))
  defer C.free(unsafe.Pointer(ctensorPtr0))
  ctensorPtr1 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr0)) + unsafe.Sizeof(ctensorPtr0)))
  ctensorPtr2 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr1)) + unsafe.Sizeof(ctensorPtr0)))
  ctensorPtr3 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr2)) + unsafe.Sizeof(ctensorPtr0)))
  ctensorPtr4 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr3)) + unsafe.Sizeof(ctensorPtr0)))
  `,
		},
		{
			name: "already freed",
			in: `		outputPtr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
		defer C.free(unsafe.Pointer(outputPtr))`,
			want: `		outputPtr := (*lib.Ctensor)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
		defer C.free(unsafe.Pointer(outputPtr))`,
		},
		{
			name: "comment left alone",
			in:   `// ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))`,
			want: `// ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := rewriteOutputSlots(c.in)
			if got != c.want {
				t.Fatalf("got\n%s\nwant\n%s", got, c.want)
			}
			if again, n := rewriteOutputSlots(got); again != got || n != 0 {
				t.Fatalf("second rewrite changed %d slots", n)
			}
		})
	}
}

// TestRewriteOutputSlotsGotch runs the rewrite on the gotch sources in the
// module cache: every slot in code is rewritten, each gets exactly one free,
// and the files still parse.
func TestRewriteOutputSlotsGotch(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "sugarme", "gotch@v0.7.0", "ts")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("gotch v0.7.0 is not in the module cache (run make setup): %v", err)
	}
	leaked := regexp.MustCompile(`(?m)^\s*\w+ := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)`)
	freed := regexp.MustCompile(`(?m)^\s*defer C\.free\(unsafe\.Pointer\(\w+\)\)`)
	total := 0
	for _, name := range outputSlotFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		src := string(data)
		got, n := rewriteOutputSlots(src)
		total += n
		if m := leaked.FindString(got); m != "" {
			t.Errorf("%s: slot left leaking: %q", name, m)
		}
		if want := len(leaked.FindAllString(src, -1)); n != want {
			t.Errorf("%s: rewrote %d slots, the file has %d", name, n, want)
		}
		// One new free per slot, except where gotch already freed it.
		if added := len(freed.FindAllString(got, -1)) - len(freed.FindAllString(src, -1)); added > n || added < n-1 {
			t.Errorf("%s: %d frees added for %d slots", name, added, n)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), name, got, parser.SkipObjectResolution); err != nil {
			t.Errorf("%s no longer parses: %v", name, err)
		}
	}
	// v0.7.0 has 1666 wrappers with one output and 154 with more.
	if total < 1800 {
		t.Fatalf("rewrote only %d output slots", total)
	}
}
