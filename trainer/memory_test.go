package trainer

import (
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer/torch"
)

// TestTrainingMemoryIsFlat trains the tiny model on real text (batches
// whose lengths and masked counts vary, so tensor sizes change from step to
// step) and checks the two ways the allocator has gone wrong before:
//
//   - memory keeps growing (gotch's leaked output slots split the heap:
//     the resident set grew 22.7 MB from steps 50-99 to steps 150-199);
//     checked on malloc's bytes in use, with the resident set as a
//     coarse bound;
//   - every step gives its activations back to the kernel and faults them
//     in again (mmap threshold pinned at 128 KiB: 76k page faults a step;
//     glibc's dynamic thresholds: 27k; a per-thread arena unmapping its
//     empty heaps: 7.7-15k). trainer/torch's policy keeps them: 26-74 a
//     step on the main or a per-thread arena, mostly Go's heap coming back
//     after debug.FreeOSMemory.
//
// Page faults are counted for the training thread only (RUSAGE_THREAD),
// not timed.
func TestTrainingMemoryIsFlat(t *testing.T) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	c, _ := Preset("tiny")
	c.SeqLen, c.BatchSize = 32, 32
	c.MaxPredictions = maxPredictions(c.MaskProb, c.SeqLen)
	const steps = 200
	batches := corpusBatches(t, c, c.BatchSize, 50)
	tr, err := NewTrainer(c, gotch.CPU, 1, Schedule{Peak: 2e-4, Warmup: 10, Total: steps}, DefaultAdam())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	rss := make([]int64, steps)
	inUse := make([]int64, steps)
	var faults0 int64
	for i := range steps {
		if i == 50 {
			faults0 = threadMinorFaults(t)
		}
		if _, err := tr.Step(batches[i%len(batches)], ""); err != nil {
			t.Fatal(err)
		}
		if i >= 50 && i < 100 || i >= steps-50 {
			// Go's own garbage comes and goes with its GC; return it so
			// the resident set does not swing with Go's collections.
			debug.FreeOSMemory()
		}
		rss[i] = residentBytes(t)
		inUse[i] = torch.HeapInUse()
	}
	faults := float64(threadMinorFaults(t)-faults0) / (steps - 50)
	early, late := median(rss[50:100]), median(rss[steps-50:])
	usedEarly, usedLate := median(inUse[50:100]), median(inUse[steps-50:])
	t.Logf("malloc in use %.1f MB (steps 50-99) -> %.1f MB (last 50); resident set %.1f MB -> %.1f MB; %.0f page faults a step on the training thread",
		float64(usedEarly)/(1<<20), float64(usedLate)/(1<<20), float64(early)/(1<<20), float64(late)/(1<<20), faults)
	// The leak check counts what malloc has handed out and not had back:
	// the same batches come round every 50 steps, so after a step it is
	// the same (81.3 MB both times here; gotch's leaked output slots were
	// 32 bytes an op, every step). The resident set is only a coarse
	// bound: it holds Go's heap and the race detector's shadow too, and a
	// heap's high-water mark, which fragmentation moves; in CI it grew
	// 15-20 MB in two of four runs (with and without M_TOP_PAD), 0.1-2.5
	// MB in eight runs here.
	if grew := usedLate - usedEarly; grew > 1<<20 {
		t.Errorf("malloc in use grew %.1f MB from steps 50-99 to the last 50: libtorch memory leaks", float64(grew)/(1<<20))
	}
	if grew := late - early; grew > 64<<20 {
		t.Errorf("resident set grew %.1f MB from steps 50-99 to the last 50: memory leaks or the heap fragments", float64(grew)/(1<<20))
	}
	for _, env := range []string{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"} {
		if _, set := os.LookupEnv(env); set {
			t.Logf("%s is set: no page-fault check (it is for trainer/torch's own malloc policy)", env)
			return
		}
	}
	if strings.Contains(os.Getenv("GLIBC_TUNABLES"), "glibc.malloc.") {
		t.Log("GLIBC_TUNABLES sets malloc parameters: no page-fault check")
		return
	}
	// 500 pages a step is 2 MB.
	if faults > 500 {
		t.Errorf("%.0f page faults a step after warm-up: activations are returned to the kernel and faulted back every step (see trainer/torch/malloc.go)", faults)
	}
}

func median(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// residentBytes is the process's current resident set (VmRSS).
func residentBytes(t testing.TB) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// threadMinorFaults counts the page faults of the calling OS thread
// (RUSAGE_THREAD, Linux), which the caller has locked.
func threadMinorFaults(t testing.TB) int64 {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		t.Fatalf("getrusage(RUSAGE_THREAD): %v", err)
	}
	return ru.Minflt
}
