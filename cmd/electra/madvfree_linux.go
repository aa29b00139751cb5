//go:build linux

package main

import (
	"log/slog"
	"os"
	"strings"
	"syscall"
)

// The streaming subcommands run with GODEBUG=madvdontneed=0: the Go
// runtime then hands the heap's free pages back to Linux with MADV_FREE
// instead of MADV_DONTNEED, so a page it reuses before the kernel needs it
// is still mapped. With MADV_DONTNEED every such reuse is a page fault,
// and on virtual machines a fault is dear: on the paravirtualized
// benchmark machine (transform/doc.go) a transform worker faulted 1,000 to
// 2,400 times per 10M tokens, 10.5 µs each, 2-4% of its CPU, and with
// MADV_FREE 1 to 400 times. The cost is the usual one of MADV_FREE: freed
// pages count in the resident size until the kernel reclaims them, under
// memory pressure, before it would OOM-kill anything.
//
// The runtime reads this setting once, at start-up, only from GODEBUG (it
// is not one that //go:debug or go.mod can set), so the process executes
// itself again with it: one more start of the binary, 0.6 s here, most of
// it loading libtorch, once for a worker that runs for hours. A GODEBUG
// that names madvdontneed already, as GODEBUG=madvdontneed=1 does to opt
// out, is left as it is.
var madvFreeCommands = map[string]bool{"transform": true, "run": true}

const madvFreeSetting = "madvdontneed=0"

// madvFreeGODEBUG returns the GODEBUG value to run with and whether it
// differs from godebug.
func madvFreeGODEBUG(godebug string) (string, bool) {
	for field := range strings.SplitSeq(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(field), "madvdontneed=") {
			return godebug, false
		}
	}
	if strings.TrimSpace(godebug) == "" {
		return madvFreeSetting, true
	}
	return godebug + "," + madvFreeSetting, true
}

// reexecForMADVFree executes the running binary again, with the same
// arguments and GODEBUG=madvdontneed=0 added, where the subcommand is one
// of madvFreeCommands. It returns only when it did not: the setting is
// there already, or the exec failed (then the run goes on as it is, a
// little slower).
func reexecForMADVFree(args []string) {
	if len(args) == 0 || !madvFreeCommands[args[0]] {
		return
	}
	godebug, changed := madvFreeGODEBUG(os.Getenv("GODEBUG"))
	if !changed {
		return
	}
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GODEBUG="+godebug)
	// /proc/self/exe is this very binary even if its path was replaced
	// or is relative to a directory since left.
	err := syscall.Exec("/proc/self/exe", os.Args, env)
	slog.Debug("electra: could not re-execute with GODEBUG="+madvFreeSetting+"; going on without it", "err", err)
}
