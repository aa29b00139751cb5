package torch_test

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// BenchmarkOpAddDrop measures the Go->libtorch overhead of one tiny op plus
// freeing its result: what every small op in a training step pays.
func BenchmarkOpAddDrop(b *testing.B) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	x := ts.MustOnes([]int64{8}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		y := x.MustAdd(x, false)
		y.MustDrop()
	}
}

// BenchmarkOpMatmul256 is a small matmul (256x256), where BLAS dominates.
func BenchmarkOpMatmul256(b *testing.B) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	x := ts.MustRandn([]int64{256, 256}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		y := x.MustMatmul(x, false)
		y.MustDrop()
	}
}
