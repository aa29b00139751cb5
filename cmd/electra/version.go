package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/electra-go/electra/trainer/torch"
)

// buildVersion is set by the Makefile with -ldflags "-X main.buildVersion=…".
var buildVersion = "dev"

func init() {
	register(&command{
		name:    "version",
		summary: "print the electra, Go and libtorch versions and whether CUDA is available",
		run:     runVersion,
	})
}

func runVersion(ctx context.Context, args []string) error {
	fs := newFlags("version", "", "Prints the electra build, the Go toolchain, the libtorch it linked, and whether libtorch sees CUDA.")
	verbose := fs.Bool("v", false, "also print libtorch's parallel/BLAS configuration and module versions")
	if err := parse(fs, args); err != nil {
		return err
	}
	w := os.Stdout
	fmt.Fprintf(w, "electra  %s\n", buildVersion)
	fmt.Fprintf(w, "go       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "libtorch %s\n", torch.Version())
	fmt.Fprintf(w, "cuda     %v\n", torch.CUDAAvailable())
	if *verbose {
		fmt.Fprintf(w, "\n%s\n", torch.ParallelInfo())
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, d := range bi.Deps {
				v := d.Version
				if d.Replace != nil {
					v += " => " + d.Replace.Path
				}
				fmt.Fprintf(w, "dep      %s %s\n", d.Path, v)
			}
		}
	}
	return nil
}
