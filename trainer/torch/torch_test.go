package torch_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// TestMLPLearns is the proof that libtorch is linked and autograd works: a
// two-layer MLP fits y = sin(x0) + x1*x2 well below its starting loss.
func TestMLPLearns(t *testing.T) {
	defer torch.LockThread()()
	torch.Seed(7)
	torch.SetThreads(1)

	vs := nn.NewVarStore(gotch.CPU)
	root := vs.Root()
	l1 := nn.NewLinear(root.Sub("l1"), 3, 32, nn.DefaultLinearConfig())
	l2 := nn.NewLinear(root.Sub("l2"), 32, 1, nn.DefaultLinearConfig())
	opt, err := nn.DefaultAdamConfig().Build(vs, 1e-2)
	if err != nil {
		t.Fatal(err)
	}

	x := ts.MustRandn([]int64{256, 3}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	s := torch.NewScope()
	x0 := s.Keep(x.MustSelect(1, 0, false))
	x1 := s.Keep(x.MustSelect(1, 1, false))
	x2 := s.Keep(x.MustSelect(1, 2, false))
	y := s.Keep(s.Keep(x0.MustSin(false)).MustAdd(s.Keep(x1.MustMul(x2, false)), false)).MustUnsqueeze(1, false)
	s.Close()
	defer y.MustDrop()

	var first, last float64
	for step := 0; step < 300; step++ {
		s := torch.NewScope()
		h := s.Keep(s.Keep(l1.Forward(x)).MustRelu(false))
		pred := s.Keep(l2.Forward(h))
		loss := s.Keep(pred.MustMseLoss(y, int64(1), false)) // 1 = mean reduction
		opt.MustBackwardStep(loss)
		v := loss.Float64Values()[0]
		if step == 0 {
			first = v
		}
		last = v
		s.Close()
	}
	if !(last < first/5) {
		t.Fatalf("loss did not fall enough: first %.4f last %.4f", first, last)
	}
	t.Logf("loss %.4f -> %.4f", first, last)
}

func TestVersionAndDevice(t *testing.T) {
	if v := torch.Version(); v == "" {
		t.Fatal("empty libtorch version")
	}
	d, err := torch.Device("cpu")
	if err != nil || d != gotch.CPU {
		t.Fatalf("Device(cpu) = %v, %v", d, err)
	}
	if _, err := torch.Device("tpu"); err == nil {
		t.Fatal("Device(tpu) should fail")
	}
	auto, err := torch.Device("auto")
	if err != nil {
		t.Fatal(err)
	}
	if torch.CUDAAvailable() != (auto != gotch.CPU) {
		t.Fatalf("auto picked %v with CUDA available=%v", auto, torch.CUDAAvailable())
	}
	torch.SetThreads(2)
	if n := torch.Threads(); n != 2 {
		t.Fatalf("Threads() = %d after SetThreads(2)", n)
	}
}

func TestScopeDropsEverything(t *testing.T) {
	defer torch.LockThread()()
	s := torch.NewScope()
	a := s.Keep(ts.MustOnes([]int64{4}, gotch.Float, gotch.CPU))
	b := s.Keep(a.MustMulScalar(ts.FloatScalar(2), false))
	kept := s.Detach(s.Keep(b.MustAdd(a, false)))
	if s.Len() != 2 {
		t.Fatalf("scope owns %d, want 2", s.Len())
	}
	s.Close()
	defer kept.MustDrop()
	if got := kept.Float64Values(); got[0] != 3 {
		t.Fatalf("kept tensor = %v, want 3s", got)
	}
}

func TestNoGradRestores(t *testing.T) {
	defer torch.LockThread()()
	if prev := torch.SetGradEnabled(true); !prev {
		t.Log("grad mode was off at start")
	}
	restore := torch.NoGrad()
	if torch.SetGradEnabled(false) {
		t.Fatal("NoGrad left grad mode on")
	}
	inner := torch.NoGrad()
	inner()
	if torch.SetGradEnabled(false) {
		t.Fatal("nested NoGrad restore turned grad mode on")
	}
	restore()
	if !torch.SetGradEnabled(true) {
		t.Fatal("NoGrad did not restore grad mode")
	}
}

// TestInPlaceKeepsOneHandle: after InPlace the tensor is updated and the
// orphaned handle is gone, so dropping the tensor frees its storage (a
// weak check from Go: the value is right and a second drop is not needed).
func TestInPlaceKeepsOneHandle(t *testing.T) {
	defer torch.LockThread()()
	x := ts.MustOnes([]int64{3}, gotch.Float, gotch.CPU)
	before := *x
	two := ts.FloatScalar(2)
	defer two.MustDrop()
	torch.InPlace(x, func() { x.MustMulScalar_(two) })
	if *x == before {
		t.Log("gotch reused the handle (fixed upstream?)")
	}
	if got := x.Float64Values(); got[0] != 2 {
		t.Fatalf("in-place result %v, want 2s", got)
	}
	x.MustDrop()
}

// TestSetThreadsSizesOpenBLAS: SetThreads reaches OpenBLAS's own pool,
// which at::set_num_threads leaves at one thread per core. The count is read
// back from OpenBLAS itself, so it fails if the dlsym lookup finds nothing
// while OpenBLAS is loaded, or sets a different library.
func TestSetThreadsSizesOpenBLAS(t *testing.T) {
	if _, ok := torch.BLASThreads(); !ok {
		t.Skipf("no OpenBLAS in this process (%s)", torch.ParallelInfo())
	}
	for _, n := range []int{1, 3, 2, 1} {
		torch.SetThreads(n)
		if got, _ := torch.BLASThreads(); got != n {
			t.Fatalf("OpenBLAS threads = %d after SetThreads(%d)", got, n)
		}
		if got := torch.Threads(); got != n {
			t.Fatalf("libtorch threads = %d after SetThreads(%d)", got, n)
		}
	}
	before, _ := torch.BLASThreads()
	torch.SetThreads(0)
	if got, _ := torch.BLASThreads(); got != before {
		t.Fatalf("SetThreads(0) changed OpenBLAS threads %d -> %d; it should leave them", before, got)
	}
}

// TestOpsDoNotLeak: a few hundred thousand small ops, each result dropped,
// leave malloc's bytes in use where they were. gotch's wrappers used to
// leak a 32-byte output slot per op (fixed by scripts/gotchprep): 300k ops
// were ~10 MB.
func TestOpsDoNotLeak(t *testing.T) {
	defer torch.LockThread()()
	x := ts.MustOnes([]int64{8}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	ops := func(n int) {
		for range n {
			y := x.MustAdd(x, false)
			y.MustDrop()
		}
	}
	ops(20_000) // libtorch's caches at their working size
	before := torch.HeapInUse()
	ops(300_000)
	if grew := torch.HeapInUse() - before; grew > 1<<20 {
		t.Fatalf("malloc holds %.1f MB more after 300k add+drop ops (%.0f bytes/op): something leaks per op",
			float64(grew)/(1<<20), float64(grew)/300e3)
	}
}

// residentBytes is the process's current resident set (VmRSS).
func residentBytes(t *testing.T) int64 {
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

// TestUnlockReturnsMemory: memory a goroutine's torch work freed goes back
// to the kernel when it unlocks its thread. The malloc policy keeps freed
// activations in the thread's arena for the next step; without the release
// a later goroutine, on another thread and arena, would need its own copy.
func TestUnlockReturnsMemory(t *testing.T) {
	const tensors, mb = 64, 4 // 256 MB in blocks the heap serves
	before := residentBytes(t)
	var held int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		unlock := torch.LockThread()
		s := torch.NewScope()
		for range tensors {
			s.Keep(ts.MustOnes([]int64{mb << 18}, gotch.Float, gotch.CPU)) // 4 bytes each
		}
		s.Close()
		held = residentBytes(t) - before
		unlock()
	}()
	<-done
	after := residentBytes(t) - before
	t.Logf("freed tensors still resident: %.0f MB before unlock, %.0f MB after", float64(held)/(1<<20), float64(after)/(1<<20))
	if held < 100<<20 {
		t.Skipf("the freed tensors were already returned before unlock (%.0f MB resident): malloc policy overridden?", float64(held)/(1<<20))
	}
	if after > 64<<20 {
		t.Fatalf("%.0f MB of freed tensors still resident after unlock", float64(after)/(1<<20))
	}
}
