// Command gotchprep prepares a CPU (or CUDA) build of github.com/sugarme/gotch
// against the libtorch installed on this machine.
//
// Upstream gotch expects a libtorch it downloads itself and links CUDA
// unconditionally; neither works here. Instead of committing a fork, we copy
// the module out of the Go module cache, rewrite its cgo flags, and turn every
// generated ATen wrapper that this libtorch cannot compile into a function that
// raises a C++ exception (which gotch reports as a Go error). The list of such
// wrappers is derived by asking the compiler, so the same tool adapts to
// Debian's libtorch 1.13.1 and to a newer CUDA libtorch on a GPU machine.
//
// Usage: go run ./scripts/gotchprep -src DIR -dst DIR [-libtorch DIR]
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// prepVersion changes whenever the patching rules change, so a stale
// prepared copy is rebuilt rather than reused.
const prepVersion = "7"

func main() {
	src := flag.String("src", "", "gotch module directory in the Go module cache (go mod download -json)")
	dst := flag.String("dst", "", "where to write the prepared copy (gitignored)")
	libtorch := flag.String("libtorch", os.Getenv("GOTCH_LIBTORCH"), "libtorch root with include/ and lib/; empty means Debian's libtorch-dev in /usr")
	flag.Parse()
	if *src == "" || *dst == "" {
		fmt.Fprintln(os.Stderr, "gotchprep: -src and -dst are required")
		os.Exit(2)
	}
	if err := run(*src, *dst, *libtorch); err != nil {
		fmt.Fprintln(os.Stderr, "gotchprep:", err)
		os.Exit(1)
	}
}

type flavor struct {
	includes []string // -I flags
	ldflags  []string
	cxx11ABI int
	cuda     bool
	root     string
	std      string // -std= value: c++17, or c++20 for a libtorch whose headers require it
}

func detect(libtorch string) (flavor, error) {
	if libtorch == "" {
		f := flavor{
			root:     "/usr",
			includes: []string{"-I/usr/include/torch/csrc/api/include"},
			ldflags:  []string{"-lstdc++", "-ltorch", "-lc10", "-ltorch_cpu"},
			cxx11ABI: 1, // Debian builds everything with the new ABI
			std:      "c++17",
		}
		if _, err := os.Stat("/usr/include/torch/csrc/api/include/torch/torch.h"); err != nil {
			return f, fmt.Errorf("libtorch headers not found (install libtorch-dev, or set GOTCH_LIBTORCH to a libtorch root): %w", err)
		}
		return f, nil
	}
	lib := filepath.Join(libtorch, "lib")
	inc := filepath.Join(libtorch, "include")
	if _, err := os.Stat(filepath.Join(inc, "torch", "csrc", "api", "include", "torch", "torch.h")); err != nil {
		return flavor{}, fmt.Errorf("GOTCH_LIBTORCH=%s: no include/torch/csrc/api/include/torch/torch.h: %w", libtorch, err)
	}
	f := flavor{root: libtorch, std: "c++17", includes: []string{"-I" + inc, "-I" + filepath.Join(inc, "torch", "csrc", "api", "include")}}
	// Newer libtorch headers refuse anything older than C++20 with an #error.
	for _, h := range []string{filepath.Join(inc, "ATen", "ATen.h"), filepath.Join(inc, "c10", "macros", "Macros.h"), filepath.Join(inc, "torch", "csrc", "api", "include", "torch", "all.h")} {
		if b, err := os.ReadFile(h); err == nil && bytes.Contains(b, []byte("C++20 or later")) {
			f.std = "c++20"
		}
	}
	// --no-as-needed: nothing references torch_cuda directly, yet it must be
	// loaded for its static initialisers to register the CUDA backend.
	f.ldflags = []string{"-L" + lib, "-Wl,-rpath," + lib, "-Wl,--no-as-needed", "-lstdc++", "-ltorch", "-lc10", "-ltorch_cpu"}
	if _, err := os.Stat(filepath.Join(lib, "libtorch_cuda.so")); err == nil {
		f.cuda = true
		f.ldflags = append(f.ldflags, "-ltorch_cuda", "-lc10_cuda")
	}
	f.ldflags = append(f.ldflags, "-Wl,--as-needed")
	c10, err := os.ReadFile(filepath.Join(lib, "libc10.so"))
	if err != nil {
		return flavor{}, fmt.Errorf("GOTCH_LIBTORCH=%s: %w", libtorch, err)
	}
	if bytes.Contains(c10, []byte("St7__cxx11")) {
		f.cxx11ABI = 1
	}
	return f, nil
}

func run(src, dst, libtorch string) error {
	fl, err := detect(libtorch)
	if err != nil {
		return err
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return err
	}
	stamp := stampOf(src, fl)
	stampFile := filepath.Join(dst, ".electra-prep")
	if old, err := os.ReadFile(stampFile); err == nil && string(old) == stamp {
		fmt.Printf("gotchprep: %s is up to date\n", dst)
		return nil
	}
	// Rewrite files in place rather than deleting the tree: identical content
	// keeps Go's build cache valid, so the C++ is not compiled again.
	if err := copyTree(src, dst); err != nil {
		return err
	}
	if _, err := freeOutputBuffers(dst); err != nil {
		return err
	}
	libtch := filepath.Join(dst, "libtch")
	if err := writeIfChanged(filepath.Join(libtch, "lib.go"), []byte(cgoFlags(fl))); err != nil {
		return err
	}
	if err := writeIfChanged(filepath.Join(libtch, "electra_extras.cpp"), []byte(extrasCpp)); err != nil {
		return err
	}
	stubbed, err := stubUncompilable(libtch, fl)
	if err != nil {
		return err
	}
	fmt.Printf("gotchprep: prepared %s (libtorch %s, cuda=%v, cxx11abi=%d, -std=%s, %d wrappers stubbed)\n", dst, fl.root, fl.cuda, fl.cxx11ABI, fl.std, len(stubbed))
	if err := os.WriteFile(filepath.Join(dst, "STUBBED.txt"), []byte(strings.Join(stubbed, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(stampFile, []byte(stamp), 0o644)
}

func stampOf(src string, fl flavor) string {
	h := sha256.New()
	fmt.Fprintln(h, prepVersion, src, fl.root, fl.cuda, fl.cxx11ABI, fl.std, strings.Join(fl.includes, " "), strings.Join(fl.ldflags, " "))
	return hex.EncodeToString(h.Sum(nil))
}

func cgoFlags(fl flavor) string {
	abi := "-D_GLIBCXX_USE_CXX11_ABI=" + strconv.Itoa(fl.cxx11ABI)
	var b strings.Builder
	b.WriteString("// Code written by scripts/gotchprep for this machine's libtorch. DO NOT EDIT.\n\n")
	b.WriteString("package libtch\n\n")
	fmt.Fprintf(&b, "// #cgo LDFLAGS: %s\n", strings.Join(fl.ldflags, " "))
	fmt.Fprintf(&b, "// #cgo CFLAGS: -I${SRCDIR} -O1 -g0 -w %s\n", abi)
	// -O1 -g0: the generated wrappers are thin calls into libtorch; -O3 -g
	// doubles compile time and memory for no measurable runtime gain.
	fmt.Fprintf(&b, "// #cgo CXXFLAGS: -std=%s -I${SRCDIR} -O1 -g0 -w %s %s\n", fl.std, abi, strings.Join(fl.includes, " "))
	b.WriteString("import \"C\"\n")
	return b.String()
}

// extrasCpp adds the few entry points our torch boundary needs that gotch
// does not expose.
const extrasCpp = `// Written by scripts/gotchprep. DO NOT EDIT.
#include <torch/torch.h>
#include <torch/version.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

extern "C" {
const char *electra_torch_version() { return TORCH_VERSION; }
const char *electra_parallel_info() {
  static std::string s;
  s = at::get_parallel_info();
  return s.c_str();
}
void electra_set_deterministic(int on) { at::globalContext().setDeterministicAlgorithms(on != 0, true); }

// Autocast, as torch.autocast's __enter__/__exit__ do it: per thread,
// nested, and the cache of low-precision weight copies cleared when the
// outermost region ends (the weights change at the next optimizer step).
// device 0 is the CPU, 1 CUDA; dtype 0 bfloat16, 1 float16. enter returns
// the previous enabled state for exit to restore.
#if defined(TORCH_VERSION_MAJOR) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#define ELECTRA_AUTOCAST_BY_DEVICE 1
#endif
int electra_autocast_enter(int device, int dtype) {
  at::ScalarType t = dtype == 1 ? at::kHalf : at::kBFloat16;
  int prev;
#ifdef ELECTRA_AUTOCAST_BY_DEVICE
  at::DeviceType d = device == 1 ? at::kCUDA : at::kCPU;
  prev = at::autocast::is_autocast_enabled(d);
  at::autocast::set_autocast_dtype(d, t);
  at::autocast::set_autocast_enabled(d, true);
#else
  if (device == 1) {
    prev = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(t);
    at::autocast::set_enabled(true);
  } else {
    prev = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(t);
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
  return prev;
}
void electra_autocast_exit(int device, int prev) {
#ifdef ELECTRA_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(device == 1 ? at::kCUDA : at::kCPU, prev != 0);
#else
  if (device == 1) at::autocast::set_enabled(prev != 0);
  else at::autocast::set_cpu_enabled(prev != 0);
#endif
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}
}
`

var (
	errLine = regexp.MustCompile(`^([^:]+):(\d+):\d+: (?:fatal )?error:`)
	// An error inside a libtorch template names our call site only in the
	// instantiation trace above it.
	reqLine = regexp.MustCompile(`^([^:]+):(\d+):\d+:\s+required from`)
	funcHdr = regexp.MustCompile(`^[A-Za-z_][\w:<>\s\*,]*?\b(at[a-z]*_\w+)\s*\(`)
)

// stubUncompilable compiles the wrappers with -fsyntax-only and replaces the
// body of every function the compiler rejects with a throw. It repeats,
// because fixing one error can reveal another further on.
func stubUncompilable(dir string, fl flavor) ([]string, error) {
	var all []string
	for pass := 0; pass < 6; pass++ {
		start := time.Now()
		args := []string{"-fsyntax-only", "-std=" + fl.std, "-w", "-D_GLIBCXX_USE_CXX11_ABI=" + strconv.Itoa(fl.cxx11ABI), "-I" + dir}
		args = append(args, fl.includes...)
		if fl.root == "/usr" {
			args = append(args, "-I/usr/include/torch/csrc/api/include")
		}
		args = append(args, "-x", "c++", filepath.Join(dir, "torch_api.cpp"))
		cmd := exec.Command("g++", args...)
		out, err := cmd.CombinedOutput()
		// Each pass's compiler output stays beside the prepared copy for
		// whoever has to find out why a wrapper was stubbed; failing to
		// keep it must not fail the preparation.
		_ = os.WriteFile(filepath.Join(filepath.Dir(dir), fmt.Sprintf("gotchprep-pass%d.log", pass+1)), out, 0o644)
		if err == nil {
			fmt.Printf("gotchprep: syntax pass %d clean in %.1fs\n", pass+1, time.Since(start).Seconds())
			sort.Strings(all)
			return all, nil
		}
		bad := map[string]map[int]bool{}
		viaReq := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			m := errLine.FindStringSubmatch(sc.Text())
			if m == nil {
				if m = reqLine.FindStringSubmatch(sc.Text()); m == nil {
					continue
				}
				viaReq++
			}
			file := m[1]
			if !filepath.IsAbs(file) {
				file, _ = filepath.Abs(file)
			}
			if filepath.Dir(file) != filepath.Clean(dir) {
				continue // an error inside libtorch's own headers is reported again at our call site
			}
			n, _ := strconv.Atoi(m[2])
			if bad[file] == nil {
				bad[file] = map[int]bool{}
			}
			bad[file][n] = true
		}
		if len(bad) == 0 {
			return nil, fmt.Errorf("g++ failed without errors we can attribute to a wrapper:\n%s", tail(out, 4000))
		}
		nbad := 0
		for _, lines := range bad {
			nbad += len(lines)
		}
		fmt.Printf("gotchprep: syntax pass %d: %d error lines in our files (%d from instantiation traces) in %.1fs\n", pass+1, nbad, viaReq, time.Since(start).Seconds())
		for file, lines := range bad {
			names, err := stubFunctions(file, lines)
			if err != nil {
				return nil, err
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("g++ errors in %s outside any wrapper function:\n%s", file, tail(out, 4000))
			}
			all = append(all, names...)
		}
	}
	return nil, fmt.Errorf("wrappers still fail to compile after several stubbing passes")
}

// stubFunctions rewrites the top-level functions of file that contain any
// of the given 1-based lines. Functions start at a column-0 line ending in
// '{' and end at a line that is exactly '}'.
func stubFunctions(file string, badLines map[int]bool) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	var out []string
	var names []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if badLines[i+1] && strings.HasPrefix(strings.TrimSpace(l), "#include") {
			names = append(names, "include:"+strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#include")))
			out = append(out, "// removed by scripts/gotchprep (not in this libtorch): "+l)
			continue
		}
		// A function starts at a column-0 line with '(' and its body at the
		// first line ending in '{' (the signature may wrap over a few lines).
		hdrEnd := -1
		if len(l) > 0 && l[0] != ' ' && l[0] != '#' && l[0] != '/' && strings.Contains(l, "(") {
			for k := i; k < len(lines) && k < i+6; k++ {
				t := strings.TrimSpace(lines[k])
				if strings.HasSuffix(t, "{") {
					hdrEnd = k
					break
				}
				if strings.Contains(t, ";") || strings.HasSuffix(t, "}") || t == "" {
					break
				}
			}
		}
		if hdrEnd < 0 {
			out = append(out, l)
			continue
		}
		end := hdrEnd + 1
		for end < len(lines) && lines[end] != "}" {
			end++
		}
		if end >= len(lines) {
			out = append(out, lines[i:]...)
			break
		}
		hit := false
		for n := i + 1; n <= end+1; n++ {
			if badLines[n] {
				hit = true
				break
			}
		}
		if !hit {
			out = append(out, lines[i:end+1]...)
			i = end
			continue
		}
		m := funcHdr.FindStringSubmatch(l)
		name := "wrapper"
		if m != nil {
			name = m[1]
		}
		names = append(names, name)
		out = append(out, lines[i:hdrEnd+1]...)
		out = append(out, fmt.Sprintf("  PROTECT(throw std::runtime_error(\"gotch %s: not available in this libtorch build (stubbed by scripts/gotchprep)\");)", name))
		if !strings.HasPrefix(l, "void ") {
			out = append(out, "  return {};")
		}
		out = append(out, "}")
		i = end
	}
	return names, os.WriteFile(file, []byte(strings.Join(out, "\n")), 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return writeIfChanged(target, data)
	})
}

func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_ = os.Chmod(path, 0o644)
	return os.WriteFile(path, data, 0o644)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
