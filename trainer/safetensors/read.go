package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// File is an opened safetensors file. Tensor bytes are read on demand
// through an io.ReaderAt, so opening a multi-gigabyte model costs only its
// header.
type File struct {
	// Metadata is the "__metadata__" map, nil when the file has none.
	Metadata map[string]string

	r         io.ReaderAt
	closer    io.Closer
	name      string
	dataStart int64
	infos     []Info // in data order
	byName    map[string]int
}

// Open opens and validates the safetensors file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf.closer, sf.name = f, path
	return sf, nil
}

// NewReader validates the header of a safetensors file of size bytes read
// through r. Every check the reference implementation makes is made here:
// header length within the file and the limit, a JSON object, no duplicate
// names, known dtypes, offsets that match dtype x shape and tile the data
// section exactly (no gaps, no overlaps, nothing trailing).
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is shorter than the 8-byte header length", size)
	}
	var nb [8]byte
	if _, err := r.ReadAt(nb[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit (corrupt file or not safetensors)", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("safetensors: header length %d runs past the end of the %d-byte file (truncated?)", n, size)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("safetensors: read %d-byte header: %w", n, err)
	}
	f := &File{r: r, dataStart: 8 + int64(n), byName: map[string]int{}}
	if err := f.parseHeader(header, size-f.dataStart); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	return f, nil
}

type rawInfo struct {
	DType       *DType   `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

func (f *File) parseHeader(header []byte, dataLen int64) error {
	if len(header) == 0 || header[0] != '{' {
		return errors.New("does not start with '{' (not a safetensors file?)")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("at byte %d: %w", dec.InputOffset(), err)
		}
		name := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
		if name == MetadataKey {
			if f.Metadata != nil {
				return fmt.Errorf("%q given twice", MetadataKey)
			}
			f.Metadata = map[string]string{}
			if err := json.Unmarshal(raw, &f.Metadata); err != nil {
				return fmt.Errorf("%q must map strings to strings: %w", MetadataKey, err)
			}
			continue
		}
		if _, dup := f.byName[name]; dup {
			return fmt.Errorf("tensor %q given twice", name)
		}
		var ri rawInfo
		if err := json.Unmarshal(raw, &ri); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if ri.DType == nil || ri.Shape == nil || ri.DataOffsets == nil {
			return fmt.Errorf("tensor %q: needs dtype, shape and data_offsets", name)
		}
		if len(*ri.DataOffsets) != 2 {
			return fmt.Errorf("tensor %q: data_offsets has %d values, want [begin, end]", name, len(*ri.DataOffsets))
		}
		info := Info{Name: name, DType: *ri.DType, Shape: *ri.Shape, Begin: (*ri.DataOffsets)[0], End: (*ri.DataOffsets)[1]}
		want, err := byteSize(info.DType, info.Shape)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if info.Begin < 0 || info.End < info.Begin || info.End-info.Begin != want {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] but %s%v needs %d bytes", name, info.Begin, info.End, info.DType, info.Shape, want)
		}
		f.byName[name] = len(f.infos)
		f.infos = append(f.infos, info)
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if rest := bytes.TrimRight(header[dec.InputOffset():], " "); len(rest) != 0 {
		return fmt.Errorf("%d unexpected bytes after the JSON object", len(rest))
	}
	sort.SliceStable(f.infos, func(a, b int) bool { return f.infos[a].Begin < f.infos[b].Begin })
	var off int64
	for i, in := range f.infos {
		f.byName[in.Name] = i
		if in.Begin != off {
			if in.Begin < off {
				return fmt.Errorf("tensor %q at [%d, %d] overlaps the previous tensor ending at %d", in.Name, in.Begin, in.End, off)
			}
			return fmt.Errorf("gap in the data section before tensor %q: [%d, %d)", in.Name, off, in.Begin)
		}
		off = in.End
	}
	if off != dataLen {
		return fmt.Errorf("tensors cover %d data bytes but the file holds %d (truncated or trailing bytes)", off, dataLen)
	}
	return nil
}

// Tensors lists every tensor in data order. The slice is the caller's.
func (f *File) Tensors() []Info {
	out := make([]Info, len(f.infos))
	copy(out, f.infos)
	return out
}

// Info describes the named tensor.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Info{}, false
	}
	return f.infos[i], true
}

// Read returns the raw bytes of the named tensor.
func (f *File) Read(name string) ([]byte, error) {
	in, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: no tensor named %q", f.name, name)
	}
	buf := make([]byte, in.End-in.Begin)
	if _, err := f.r.ReadAt(buf, f.dataStart+in.Begin); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read tensor %q at offset %d: %w", f.name, name, f.dataStart+in.Begin, err)
	}
	return buf, nil
}

// DataOffset is where the data section starts in the file (8 + header
// length): the absolute position of a tensor is DataOffset()+Begin.
func (f *File) DataOffset() int64 { return f.dataStart }

// Close closes the underlying file when the File was opened by Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}
