package trainer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Checkpoints and parity fixtures use the safetensors layout: an 8-byte
// little-endian header length, a JSON header mapping each name to dtype,
// shape and byte range (plus "__metadata__", string to string), then the raw
// little-endian data. Any safetensors reader, or twenty lines of Python,
// opens them; nothing is pickled.

type tensorEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

var dtypeNames = map[gotch.DType]string{gotch.Float: "F32", gotch.Int64: "I64", gotch.Int: "I32", gotch.Double: "F64"}

func dtypeByName(s string) (gotch.DType, int, bool) {
	switch s {
	case "F32":
		return gotch.Float, 4, true
	case "I64":
		return gotch.Int64, 8, true
	case "I32":
		return gotch.Int, 4, true
	case "F64":
		return gotch.Double, 8, true
	}
	return gotch.Float, 0, false
}

// writeTensorFile writes tensors and metadata to path atomically: a
// temporary file in the same directory, fsynced, then renamed over path.
// A crash leaves either the old file or the new one, never half of one.
func writeTensorFile(path string, tensors []ts.NamedTensor, meta map[string]string) (err error) {
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, nt := range tensors {
		name, ok := dtypeNames[nt.Tensor.DType()]
		if !ok {
			return fmt.Errorf("write %s: tensor %s has dtype %v; want float32, float64, int32 or int64", path, nt.Name, nt.Tensor.DType())
		}
		_, size, _ := dtypeByName(name)
		n := int64(nt.Tensor.Numel()) * int64(size)
		header[nt.Name] = tensorEntry{DType: name, Shape: nt.Tensor.MustSize(), Offsets: [2]int64{off, off + n}}
		off += n
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write %s: header: %w", path, err)
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}

	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = binary.Write(w, binary.LittleEndian, uint64(len(hdr))); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = w.Write(hdr); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for _, nt := range tensors {
		if err = writeTensorData(w, nt.Tensor); err != nil {
			return fmt.Errorf("write %s: tensor %s: %w", path, nt.Name, err)
		}
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: rename: %w", path, err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return nil
}

// writeTensorData copies t to host memory (detached, contiguous) and writes
// its bytes.
func writeTensorData(w io.Writer, t *ts.Tensor) error {
	n := t.Numel()
	if n == 0 {
		return nil
	}
	d := t.MustDetach(false)
	defer d.MustDrop()
	c := d.MustTo(gotch.CPU, false)
	defer c.MustDrop()
	c = c.MustContiguous(false)
	defer c.MustDrop()
	var raw []byte
	switch t.DType() {
	case gotch.Float:
		buf := make([]float32, n)
		c.MustCopyData(buf, n)
		raw = unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 4*n)
	case gotch.Double:
		buf := make([]float64, n)
		c.MustCopyData(buf, n)
		raw = unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 8*n)
	case gotch.Int64:
		buf := make([]int64, n)
		c.MustCopyData(buf, n)
		raw = unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 8*n)
	case gotch.Int:
		buf := make([]int32, n)
		c.MustCopyData(buf, n)
		raw = unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 4*n)
	}
	_, err := w.Write(raw)
	return err
}

// readTensorFile reads a file written by writeTensorFile into CPU tensors
// the caller owns, in file order.
func readTensorFile(path string) ([]ts.NamedTensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hlen uint64
	if err := binary.Read(r, binary.LittleEndian, &hlen); err != nil {
		return nil, nil, fmt.Errorf("read %s: header length: %w", path, err)
	}
	if hlen > 100<<20 {
		return nil, nil, fmt.Errorf("read %s: header of %d bytes; not a tensor file?", path, hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, fmt.Errorf("read %s: header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, fmt.Errorf("read %s: header is not JSON: %w", path, err)
	}
	meta := map[string]string{}
	type named struct {
		name string
		e    tensorEntry
	}
	var list []named
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, nil, fmt.Errorf("read %s: __metadata__: %w", path, err)
			}
			continue
		}
		var e tensorEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, fmt.Errorf("read %s: entry %s: %w", path, k, err)
		}
		list = append(list, named{k, e})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].e.Offsets[0] < list[j].e.Offsets[0] })
	var out []ts.NamedTensor
	var pos int64
	for _, nt := range list {
		dt, size, ok := dtypeByName(nt.e.DType)
		if !ok {
			return nil, nil, fmt.Errorf("read %s: tensor %s has unsupported dtype %s", path, nt.name, nt.e.DType)
		}
		numel := int64(1)
		for _, d := range nt.e.Shape {
			if d < 0 || (d > 0 && numel > (1<<40)/d) {
				return nil, nil, fmt.Errorf("read %s: tensor %s has impossible shape %v", path, nt.name, nt.e.Shape)
			}
			numel *= d
		}
		if nt.e.Offsets[0] != pos || nt.e.Offsets[1]-nt.e.Offsets[0] != numel*int64(size) {
			return nil, nil, fmt.Errorf("read %s: tensor %s: byte range %v does not follow %d or fit shape %v", path, nt.name, nt.e.Offsets, pos, nt.e.Shape)
		}
		buf := make([]byte, numel*int64(size))
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, nil, fmt.Errorf("read %s: tensor %s at byte %d: %w (truncated file?)", path, nt.name, 8+int64(hlen)+pos, err)
		}
		pos = nt.e.Offsets[1]
		t, err := ts.OfDataSize(buf, nt.e.Shape, dt)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: tensor %s: %w", path, nt.name, err)
		}
		out = append(out, ts.NamedTensor{Name: nt.name, Tensor: t})
	}
	return out, meta, nil
}
