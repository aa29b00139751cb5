package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Tensor is one named tensor to write: raw little-endian, row-major bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

// Write writes tensors and metadata to w in the safetensors format.
//
// Tensors are laid out by element size, largest first, then by name: with
// the data section starting at a multiple of 8 (the header is padded with
// spaces to get there) every tensor starts at a multiple of its own element
// size, so a reader can map it in place. The output depends only on the
// input, never on map order.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order := make([]int, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		order[i] = i
		if t.Name == "" || t.Name == MetadataKey {
			return fmt.Errorf("safetensors: tensor %d has reserved or empty name %q", i, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		seen[t.Name] = true
		want, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		if int64(len(t.Data)) != want {
			return fmt.Errorf("safetensors: tensor %q: %d data bytes, but %s%v needs %d", t.Name, len(t.Data), t.DType, t.Shape, want)
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := tensors[order[a]], tensors[order[b]]
		if sa, sb := ta.DType.Size(), tb.DType.Size(); sa != sb {
			return sa > sb
		}
		return ta.Name < tb.Name
	})

	header, err := encodeHeader(tensors, order, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := bw.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: write header length: %w", err)
	}
	if _, err := bw.Write(header); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	for _, i := range order {
		if _, err := bw.Write(tensors[i].Data); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", tensors[i].Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

func encodeHeader(tensors []Tensor, order []int, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // sorted keys
		if err != nil {
			return nil, fmt.Errorf("safetensors: encode metadata: %w", err)
		}
		b.WriteString(`"` + MetadataKey + `":`)
		b.Write(m)
	}
	var off int64
	for k, i := range order {
		t := tensors[i]
		if k > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, fmt.Errorf("safetensors: encode name %q: %w", t.Name, err)
		}
		b.Write(name)
		b.WriteString(`:{"dtype":"` + string(t.DType) + `","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
		end := off + int64(len(t.Data))
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b.WriteByte('}')
	for (8+b.Len())%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit readers enforce", b.Len(), MaxHeaderSize)
	}
	return b.Bytes(), nil
}

// WriteFile writes the file atomically: a temporary file in the same
// directory, synced, then renamed over path, so a reader never sees half a
// model.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: create temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = Write(f, tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("safetensors: sync %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("safetensors: close %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("safetensors: rename to %s: %w", path, err)
	}
	return nil
}
