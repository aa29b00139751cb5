package trainer

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// int64Tensor copies Go values to a new [shape] int64 tensor on device.
func int64Tensor(v []int64, shape []int64, device gotch.Device) *ts.Tensor {
	t := ts.MustOfSlice(v)
	t = t.MustView(shape, true)
	if device != gotch.CPU {
		t = t.MustTo(device, true)
	}
	return t
}

func float32Tensor(v []float32, shape []int64, device gotch.Device) *ts.Tensor {
	t := ts.MustOfSlice(v)
	t = t.MustView(shape, true)
	if device != gotch.CPU {
		t = t.MustTo(device, true)
	}
	return t
}

// widen converts ids to the int64 indices libtorch's embedding wants.
func widen[T int8 | int16 | int32](v []T) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// undefined is libtorch's "None" for optional tensor arguments.
func undefined() *ts.Tensor { return ts.NewTensor() }

// scalars reads a few scalar tensors in one device round trip.
func scalars(ts_ ...*ts.Tensor) []float64 {
	list := make([]ts.Tensor, len(ts_))
	for i, t := range ts_ {
		f := t.MustTotype(gotch.Double, false)
		list[i] = *f.MustReshape([]int64{1}, true)
	}
	all := ts.MustCat(list, 0)
	for i := range list {
		list[i].MustDrop()
	}
	defer all.MustDrop()
	cpu := all.MustTo(gotch.CPU, false)
	defer cpu.MustDrop()
	return cpu.Float64Values()
}
