package trainer

import (
	"bufio"
	"cmp"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/electra-go/electra/trainer/torch"
)

// BenchmarkTrainStepSmall is one full training step (mask, generator,
// sampling, discriminator, backward, Adam) of ELECTRA-Small at batch 32,
// sequence 128, every example full length: the figure scripts/bench.d/
// trainer.sh sets beside PyTorch eager running the same model. Threads come
// from ELECTRA_BENCH_THREADS (default 1).
func BenchmarkTrainStepSmall(b *testing.B) {
	defer torch.LockThread()()
	threads := 1
	if v, err := strconv.Atoi(os.Getenv("ELECTRA_BENCH_THREADS")); err == nil && v > 0 {
		threads = v
	}
	torch.SetThreads(threads)
	// ELECTRA_BENCH_DEVICE, _BATCH, _PRECISION and _PRESET time the same
	// step on a GPU, or another model at its own sequence length (docs/gpu.md
	// has the figures beside PyTorch eager's).
	size := 32
	if v, err := strconv.Atoi(os.Getenv("ELECTRA_BENCH_BATCH")); err == nil && v > 0 {
		size = v
	}
	dev, err := torch.Device(cmp.Or(os.Getenv("ELECTRA_BENCH_DEVICE"), "cpu"))
	if err != nil {
		b.Fatal(err)
	}
	prec, err := torch.ParsePrecision(cmp.Or(os.Getenv("ELECTRA_BENCH_PRECISION"), "fp32"), dev)
	if err != nil {
		b.Fatal(err)
	}
	c, err := Preset(cmp.Or(os.Getenv("ELECTRA_BENCH_PRESET"), "small"))
	if err != nil {
		b.Fatal(err)
	}
	seq := c.SeqLen
	rng := rand.New(rand.NewPCG(1, 1))
	batch := Batch{Size: size, SeqLen: seq, IDs: make([]int32, size*seq), Segments: make([]int8, size*seq), Lengths: make([]int16, size)}
	for e := range size {
		batch.Lengths[e] = int16(seq)
		for i := range seq {
			batch.IDs[e*seq+i] = int32(1000 + rng.IntN(c.VocabSize-1000))
		}
		batch.IDs[e*seq], batch.IDs[e*seq+seq-1] = c.Tokens.CLS, c.Tokens.SEP
	}
	tr, err := NewTrainer(c, dev, 1, Schedule{Peak: 1e-4, Total: 1 << 30}, DefaultAdam())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	tr.Model.Precision = prec
	if _, err := tr.Step(batch, ""); err != nil { // warm-up: allocator, thread pool
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	steps := make([]float64, b.N)
	for i := range b.N {
		t0 := time.Now()
		if _, err := tr.Step(batch, ""); err != nil {
			b.Fatal(err)
		}
		steps[i] = time.Since(t0).Seconds()
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*size*seq)/el, "tokens/s")
	// The median, as the reference reports it: on a shared machine one
	// step slowed by a neighbour should not move the ratio.
	slices.Sort(steps)
	b.ReportMetric((steps[(len(steps)-1)/2]+steps[len(steps)/2])/2, "median_s/step")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak_rss_MB")
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
