package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkSchemaMessage guards the Arrow IPC reader against one corrupt-input
// failure it cannot recover from: arrow-go sizes slices from the vector
// lengths in the schema flatbuffer before reading them, so a flipped byte
// claiming 2^30 fields makes the runtime abort with "out of memory" (found
// by FuzzDecodeExamplesMessage). We walk the schema message's vectors (the
// fields, their children and key-value metadata) and refuse any vector whose
// claimed length does not fit in the bytes that are there.
//
// stream is the start of an IPC stream; the first message must be the
// schema.
func checkSchemaMessage(stream []byte) error {
	meta := stream
	if len(meta) < 8 {
		return errors.New("IPC stream shorter than a message prefix")
	}
	n := binary.LittleEndian.Uint32(meta)
	if n == 0xFFFFFFFF { // continuation marker, then the length
		n = binary.LittleEndian.Uint32(meta[4:])
		meta = meta[8:]
	} else {
		meta = meta[4:]
	}
	if uint64(n) > uint64(len(meta)) {
		return fmt.Errorf("IPC schema message claims %d metadata bytes, %d present", n, len(meta))
	}
	fb := flatbuf(meta[:n])
	msg, err := fb.root()
	if err != nil {
		return err
	}
	const headerSchema = 1 // MessageHeader union: Schema
	if t, _ := fb.scalarU8(msg, 1); t != headerSchema {
		return fmt.Errorf("first IPC message is not a schema (header type %d)", t)
	}
	schema, ok, err := fb.table(msg, 2)
	if err != nil || !ok {
		return fmt.Errorf("IPC schema message without a schema table: %v", err)
	}
	if err := fb.checkTableVector(schema, 1, 0); err != nil { // fields
		return err
	}
	return fb.checkKeyValues(schema, 2) // custom_metadata
}

// checkFileFooter does the same for an IPC file, whose schema sits in the
// footer at the end: ... footer, int32 footer length, "ARROW1".
//
// file is the end of the file: at least the footer and the trailer.
func checkFileFooter(file []byte) error {
	const magic = "ARROW1"
	if len(file) < len(magic)+4 || string(file[len(file)-len(magic):]) != magic {
		return errors.New("not an Arrow IPC file (no ARROW1 trailer)")
	}
	end := len(file) - len(magic) - 4
	n := int(int32(binary.LittleEndian.Uint32(file[end:])))
	if n <= 0 || n > end {
		return fmt.Errorf("IPC file footer of %d bytes does not fit in %d", n, end)
	}
	fb := flatbuf(file[end-n : end])
	footer, err := fb.root()
	if err != nil {
		return err
	}
	// Footer: version, schema, dictionaries [Block], recordBatches [Block],
	// custom_metadata; a Block is a 24-byte struct.
	for _, i := range []int{2, 3} {
		if _, _, err := fb.vectorOf(footer, i, 24); err != nil {
			return err
		}
	}
	schema, ok, err := fb.table(footer, 1)
	if err != nil || !ok {
		return fmt.Errorf("IPC file footer without a schema: %v", err)
	}
	if err := fb.checkTableVector(schema, 1, 0); err != nil {
		return err
	}
	if err := fb.checkKeyValues(schema, 2); err != nil {
		return err
	}
	return fb.checkKeyValues(footer, 4)
}

type flatbuf []byte

func (b flatbuf) u32(at int) (uint32, error) {
	if at < 0 || at+4 > len(b) {
		return 0, fmt.Errorf("flatbuffer offset %d outside %d bytes", at, len(b))
	}
	return binary.LittleEndian.Uint32(b[at:]), nil
}

func (b flatbuf) root() (int, error) {
	u, err := b.u32(0)
	if err != nil {
		return 0, err
	}
	return int(u), b.checkTable(int(u))
}

func (b flatbuf) checkTable(t int) error {
	s, err := b.u32(t)
	if err != nil {
		return err
	}
	vt := t - int(int32(s))
	if vt < 0 || vt+4 > len(b) {
		return fmt.Errorf("flatbuffer vtable at %d outside %d bytes", vt, len(b))
	}
	if vsize := int(binary.LittleEndian.Uint16(b[vt:])); vt+vsize > len(b) {
		return fmt.Errorf("flatbuffer vtable of %d bytes at %d outside %d bytes", vsize, vt, len(b))
	}
	return nil
}

// field returns the absolute position of table t's field i, or 0 if absent.
func (b flatbuf) field(t, i int) int {
	s := binary.LittleEndian.Uint32(b[t:])
	vt := t - int(int32(s))
	vsize := int(binary.LittleEndian.Uint16(b[vt:]))
	slot := 4 + 2*i
	// Same rule as the flatbuffers runtime (slot < vsize), which reads a
	// slot straddling an odd, corrupt vtable size.
	if slot >= vsize || vt+slot+2 > len(b) {
		return 0
	}
	o := int(binary.LittleEndian.Uint16(b[vt+slot:]))
	if o == 0 {
		return 0
	}
	return t + o
}

func (b flatbuf) scalarU8(t, i int) (uint8, bool) {
	p := b.field(t, i)
	if p == 0 || p >= len(b) {
		return 0, false
	}
	return b[p], true
}

// deref follows the uoffset stored in table t's field i.
func (b flatbuf) deref(t, i int) (int, bool, error) {
	p := b.field(t, i)
	if p == 0 {
		return 0, false, nil
	}
	u, err := b.u32(p)
	if err != nil {
		return 0, false, err
	}
	return p + int(u), true, nil
}

func (b flatbuf) table(t, i int) (int, bool, error) {
	p, ok, err := b.deref(t, i)
	if err != nil || !ok {
		return 0, ok, err
	}
	return p, true, b.checkTable(p)
}

// vector returns the element count and the position of the first element
// of the vector of 4-byte offsets in table t's field i, checking that the
// count fits.
func (b flatbuf) vector(t, i int) (int, int, error) { return b.vectorOf(t, i, 4) }

// vectorOf is vector for elements of size bytes.
func (b flatbuf) vectorOf(t, i, size int) (int, int, error) {
	p, ok, err := b.deref(t, i)
	if err != nil || !ok {
		return 0, 0, err
	}
	n, err := b.u32(p)
	if err != nil {
		return 0, 0, err
	}
	if uint64(n)*uint64(size) > uint64(len(b)-p-4) {
		return 0, 0, fmt.Errorf("flatbuffer vector claims %d elements, %d bytes present", n, len(b)-p-4)
	}
	return int(n), p + 4, nil
}

// checkTableVector checks a vector of Field tables (and, recursively, their
// children vectors and metadata).
func (b flatbuf) checkTableVector(t, i, depth int) error {
	if depth > 64 {
		return errors.New("IPC schema nests fields deeper than 64")
	}
	n, first, err := b.vector(t, i)
	if err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		at := first + 4*k
		u, _ := b.u32(at)
		f := at + int(u)
		if err := b.checkTable(f); err != nil {
			return err
		}
		if err := b.checkTableVector(f, 5, depth+1); err != nil { // children
			return err
		}
		if err := b.checkKeyValues(f, 6); err != nil { // custom_metadata
			return err
		}
	}
	return nil
}

func (b flatbuf) checkKeyValues(t, i int) error {
	n, first, err := b.vector(t, i)
	if err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		at := first + 4*k
		u, _ := b.u32(at)
		if err := b.checkTable(at + int(u)); err != nil {
			return err
		}
	}
	return nil
}
