//go:build linux

package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestMADVFreeGODEBUG(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		changed  bool
	}{
		{"", "madvdontneed=0", true},
		{"  ", "madvdontneed=0", true},
		{"gctrace=1", "gctrace=1,madvdontneed=0", true},
		{"madvdontneed=1", "madvdontneed=1", false}, // the user's opt-out stands
		{"gctrace=1,madvdontneed=0", "gctrace=1,madvdontneed=0", false},
		{"gctrace=1, madvdontneed=1", "gctrace=1, madvdontneed=1", false},
		{"xmadvdontneed=1", "xmadvdontneed=1,madvdontneed=0", true},
	} {
		got, changed := madvFreeGODEBUG(tc.in)
		if got != tc.want || changed != tc.changed {
			t.Errorf("madvFreeGODEBUG(%q) = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
	}
}

const madvFreeChildEnv = "ELECTRA_TEST_MADVFREE_CHILD"

// TestMADVFreeReexec runs a child that calls reexecForMADVFree as main
// does: the child must come back executed again, with the same arguments,
// the same process id and GODEBUG set, and a subcommand not in the list
// must not be re-executed.
func TestMADVFreeReexec(t *testing.T) {
	for _, tc := range []struct {
		sub, godebug, want string
	}{
		{"transform", "", "GODEBUG=madvdontneed=0"},
		{"run", "gctrace=0", "GODEBUG=gctrace=0,madvdontneed=0"},
		{"transform", "madvdontneed=1", "GODEBUG=madvdontneed=1"},
		{"inspect", "", "GODEBUG="},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMADVFreeChild$", "-test.v")
		cmd.Env = append(os.Environ(), madvFreeChildEnv+"="+tc.sub, "GODEBUG="+tc.godebug)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: child failed: %v\n%s", tc.sub, err, out)
		}
		if !strings.Contains(string(out), "\n"+tc.want+"\n") {
			t.Errorf("%s with GODEBUG=%q: want %q in the child's output:\n%s", tc.sub, tc.godebug, tc.want, out)
		}
		if tc.want != "GODEBUG="+tc.godebug && !strings.Contains(string(out), "re-executed as the same process") {
			t.Errorf("%s: the child did not report re-executing in place:\n%s", tc.sub, out)
		}
	}
}

func TestMADVFreeChild(t *testing.T) {
	sub := os.Getenv(madvFreeChildEnv)
	if sub == "" {
		t.Skip("helper process for TestMADVFreeReexec")
	}
	// The first execution records its pid; the re-executed one finds it.
	if first := os.Getenv("ELECTRA_TEST_MADVFREE_PID"); first != "" && first == strconv.Itoa(os.Getpid()) {
		os.Stdout.WriteString("re-executed as the same process\n")
	}
	os.Setenv("ELECTRA_TEST_MADVFREE_PID", strconv.Itoa(os.Getpid()))
	reexecForMADVFree([]string{sub, "--flag"})
	os.Stdout.WriteString("\nGODEBUG=" + os.Getenv("GODEBUG") + "\n")
}
