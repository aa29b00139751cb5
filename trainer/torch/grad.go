package torch

/*
extern int at_grad_set_enabled(int b);
*/
import "C"

// SetGradEnabled switches libtorch's grad mode for the calling thread and
// returns the previous mode. Use it instead of gotch v0.7.0's
// ts.GradSetEnabled, which reads the C int result as a Go int (8 bytes) and
// so reports the previous mode wrongly.
func SetGradEnabled(on bool) (prev bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	return C.at_grad_set_enabled(v) == 1
}

// NoGrad turns gradient tracking off until the returned function restores
// the previous mode: defer torch.NoGrad()().
func NoGrad() (restore func()) {
	prev := SetGradEnabled(false)
	return func() { SetGradEnabled(prev) }
}
