package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stubFunctions on the shapes of gotch v0.7.0's wrapper files: a one-line
// signature, one that wraps over two lines (at_run_backward), a header
// this libtorch lacks, and wrappers without errors, which must stay as
// they are.
func TestStubFunctions(t *testing.T) {
	src := strings.Join([]string{
		`#include <torch/all.h>`,                         // 1
		`#include <ATen/gone.h>`,                         // 2
		`tensor atg_abs(tensor *out__, tensor self) {`,   // 3
		`  PROTECT(auto outputs__ = torch::abs(*self);)`, // 4
		`}`, // 5
		`void at_run_backward(tensor *tensors, int ntensors,`,     // 6
		`                     tensor *outputs, int keep_graph) {`, // 7
		`  PROTECT(`, // 8
		`      vector<torch::autograd::Edge> roots;`, // 9
		`  )`, // 10
		`}`,   // 11
		`void atg_eig(tensor *out__, tensor self, int eigenvectors) {`, // 12
		`  PROTECT(auto outputs__ = torch::eig(*self, eigenvectors);)`, // 13
		`}`, // 14
	}, "\n")
	cases := []struct {
		name      string
		bad       []int
		wantNames []string
		wantIn    []string // lines the result must hold
		wantOut   []string // lines it must no longer hold
	}{
		{
			name:      "one-line signature",
			bad:       []int{13},
			wantNames: []string{"atg_eig"},
			wantIn: []string{
				`void atg_eig(tensor *out__, tensor self, int eigenvectors) {`,
				`  PROTECT(throw std::runtime_error("gotch atg_eig: not available in this libtorch build (stubbed by scripts/gotchprep)");)`,
				`  PROTECT(auto outputs__ = torch::abs(*self);)`,
				`      vector<torch::autograd::Edge> roots;`,
			},
			wantOut: []string{`  PROTECT(auto outputs__ = torch::eig(*self, eigenvectors);)`},
		},
		{
			name:      "signature over two lines",
			bad:       []int{9},
			wantNames: []string{"at_run_backward"},
			wantIn: []string{
				`void at_run_backward(tensor *tensors, int ntensors,`,
				`                     tensor *outputs, int keep_graph) {`,
				`  PROTECT(throw std::runtime_error("gotch at_run_backward: not available in this libtorch build (stubbed by scripts/gotchprep)");)`,
			},
			wantOut: []string{`      vector<torch::autograd::Edge> roots;`},
		},
		{
			name:      "missing header",
			bad:       []int{2},
			wantNames: []string{"include:<ATen/gone.h>"},
			wantIn:    []string{`// removed by scripts/gotchprep (not in this libtorch): #include <ATen/gone.h>`, `#include <torch/all.h>`},
		},
		{
			name:      "returns a value",
			bad:       []int{4},
			wantNames: []string{"atg_abs"},
			wantIn:    []string{"  return {};"},
			wantOut:   []string{`  PROTECT(auto outputs__ = torch::abs(*self);)`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "torch_api.cpp")
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			bad := map[int]bool{}
			for _, n := range tc.bad {
				bad[n] = true
			}
			names, err := stubFunctions(file, bad)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, tc.wantNames) {
				t.Errorf("stubbed %q, want %q", names, tc.wantNames)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(string(b), "\n")
			for _, l := range tc.wantIn {
				if !slices.Contains(got, l) {
					t.Errorf("result lacks %q:\n%s", l, b)
				}
			}
			for _, l := range tc.wantOut {
				if slices.Contains(got, l) {
					t.Errorf("result still holds %q:\n%s", l, b)
				}
			}
		})
	}
}
