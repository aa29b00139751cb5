package schemas

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/electra-go/electra/internal/prefetch"
)

// ExamplesEncoder writes batches of examples as examples messages: the
// bytes EncodeExamplesMessage returns. It lays the columns out in buffers
// it keeps from one batch to the next and writes the Arrow IPC framing
// itself, because on the transform's hot path building a record with
// arrow-go and handing it to ipc.Writer cost more than tokenizing the text
// (fresh buffers per batch, a new LZ4 writer per batch, and a general LZ4
// search on the token ids; see lz4.go). The schema message is arrow-go's.
//
// The stream is what arrow-go's ipc.Writer with ipc.WithLZ4() writes for
// the same record: the schema, the source dictionary (id 0), the record
// batch, end-of-stream; every non-empty body buffer is an LZ4 frame after
// its uncompressed length. TestExamplesEncoderMatchesArrow compares the
// two decoded, buffer by buffer.
//
// An ExamplesEncoder is not safe for concurrent use.
type ExamplesEncoder struct {
	meta   ExamplesMeta
	schema []byte // the framed schema message, the same for every batch

	ids   []int32
	segs  []int8
	lens  []int16
	offs  []int32 // doc_id offsets
	docs  []byte  // doc_id bytes
	idx   []int32 // source dictionary indices
	dict  []string
	doffs []int32 // source dictionary offsets
	dtext []byte  // source dictionary bytes

	body  []byte
	bufs  []ipcBuffer
	nodes []ipcNode
	fb    *flatbuffers.Builder
	ints  int32Compressor
	gen   generalCompressor
}

type ipcBuffer struct{ offset, length int64 }
type ipcNode struct{ length, nulls int64 }

// Arrow IPC constants (format/Message.fbs, Schema.fbs).
const (
	ipcContinuation         = 0xFFFFFFFF
	ipcMetadataV5           = 4
	ipcHeaderDictionary     = 2
	ipcHeaderRecordBatch    = 3
	ipcSourceDictionaryID   = 0 // the schema's only dictionary
	ipcAlignment            = 8
	ipcUncompressedLenBytes = 8
)

// NewExamplesEncoder returns an encoder for batches labelled with meta.
func NewExamplesEncoder(meta ExamplesMeta) (*ExamplesEncoder, error) {
	if err := meta.validate(); err != nil {
		return nil, err
	}
	// A stream writer closed before any batch writes the schema message
	// and end-of-stream.
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(ExamplesSchema(meta)))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("examples: encode schema: %w", err)
	}
	s := buf.Bytes()
	if len(s) < 16 || !bytes.Equal(s[len(s)-8:], ipcEndOfStream[:]) {
		return nil, fmt.Errorf("examples: arrow-go wrote an unexpected %d-byte schema stream", len(s))
	}
	return &ExamplesEncoder{meta: meta, schema: bytes.Clone(s[:len(s)-8]), fb: flatbuffers.NewBuilder(1024)}, nil
}

var ipcEndOfStream = [8]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}

// AppendEncode appends the message for examples to dst. Examples longer
// than MaxSeqLength or with mismatched segment ids are an error, never
// silently cut.
func (e *ExamplesEncoder) AppendEncode(dst []byte, examples []Example) ([]byte, error) {
	if err := e.columns(examples); err != nil {
		return dst, err
	}
	n := len(examples)
	l := e.meta.MaxSeqLength
	dst = append(dst, e.schema...)

	// The source dictionary: one string column.
	e.startBody()
	e.node(len(e.dict))
	e.buffer(nil, nil)
	e.buffer(int32Bytes(e.doffs), &e.gen)
	e.buffer(e.dtext, &e.gen)
	dst = e.appendMessage(dst, ipcHeaderDictionary, int64(len(e.dict)))

	// The record batch, fields depth first, buffers as the IPC format
	// orders them: validity (absent: no nulls), then offsets or values.
	e.startBody()
	e.node(n) // input_ids
	e.buffer(nil, nil)
	e.node(n * l)
	e.buffer(nil, nil)
	e.buffer(int32Bytes(e.ids), &e.ints)
	e.node(n) // segment_ids
	e.buffer(nil, nil)
	e.node(n * l)
	e.buffer(nil, nil)
	e.buffer(int8Bytes(e.segs), runCompressor{})
	e.node(n) // length
	e.buffer(nil, nil)
	e.buffer(int16Bytes(e.lens), &e.gen)
	e.node(n) // doc_id
	e.buffer(nil, nil)
	e.buffer(int32Bytes(e.offs), &e.gen)
	e.buffer(e.docs, &e.gen)
	e.node(n) // source: the dictionary indices
	e.buffer(nil, nil)
	e.buffer(int32Bytes(e.idx), &e.gen)
	dst = e.appendMessage(dst, ipcHeaderRecordBatch, int64(n))
	return append(dst, ipcEndOfStream[:]...), nil
}

// columns lays examples out in the encoder's column buffers.
func (e *ExamplesEncoder) columns(examples []Example) error {
	l := e.meta.MaxSeqLength
	n := len(examples)
	e.ids = resize(e.ids, n*l)
	e.segs = resize(e.segs, n*l)
	e.lens = resize(e.lens, n)
	e.offs = resize(e.offs, n+1)
	e.idx = resize(e.idx, n)
	e.docs = e.docs[:0]
	e.dict = e.dict[:0]
	e.offs[0] = 0
	last := -1
	for i := range examples {
		ex := &examples[i]
		// The examples' ids lie in the packer's arena in the order they
		// were packed, long ago, and are read here shuffled: each row
		// starts with a cache miss that the CPU cannot foresee. Asking
		// for the rows a few examples ahead took the gather from 3% of a
		// transform worker's CPU to 2% (perf samples of the end-to-end
		// benchmark).
		if i+prefetchAhead < n {
			if ids := examples[i+prefetchAhead].InputIDs; len(ids) > 0 {
				prefetch.Range(uintptr(unsafe.Pointer(unsafe.SliceData(ids))), 4*len(ids))
			}
		}
		k := len(ex.InputIDs)
		if k > l {
			return fmt.Errorf("examples: example %d (doc %q) has %d tokens, max_seq_length is %d", i, ex.DocID, k, l)
		}
		if len(ex.SegmentIDs) != k {
			return fmt.Errorf("examples: example %d (doc %q) has %d segment ids for %d tokens", i, ex.DocID, len(ex.SegmentIDs), k)
		}
		// The buffers are reused: padding must be cleared, not assumed.
		row := e.ids[i*l : (i+1)*l]
		copy(row, ex.InputIDs)
		clear(row[k:])
		srow := e.segs[i*l : (i+1)*l]
		copy(srow, ex.SegmentIDs)
		clear(srow[k:])
		e.lens[i] = int16(k)
		e.docs = append(e.docs, ex.DocID...)
		if len(e.docs) > 1<<31-1 {
			return fmt.Errorf("examples: doc ids of %d examples exceed 2 GiB", n)
		}
		e.offs[i+1] = int32(len(e.docs))
		// A batch holds few sources, mostly runs of one; the dictionary
		// lists them in order of first appearance, as arrow-go's
		// dictionary builder does.
		if last < 0 || e.dict[last] != ex.Source {
			last = -1
			for j, s := range e.dict {
				if s == ex.Source {
					last = j
					break
				}
			}
			if last < 0 {
				last = len(e.dict)
				e.dict = append(e.dict, ex.Source)
			}
		}
		e.idx[i] = int32(last)
	}
	e.doffs = resize(e.doffs, len(e.dict)+1)
	e.dtext = e.dtext[:0]
	e.doffs[0] = 0
	for j, s := range e.dict {
		e.dtext = append(e.dtext, s...)
		e.doffs[j+1] = int32(len(e.dtext))
	}
	return nil
}

// prefetchAhead is how many examples ahead columns asks for their ids.
const prefetchAhead = 8

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func (e *ExamplesEncoder) startBody() {
	e.body = e.body[:0]
	e.bufs = e.bufs[:0]
	e.nodes = e.nodes[:0]
}

func (e *ExamplesEncoder) node(length int) {
	e.nodes = append(e.nodes, ipcNode{length: int64(length)})
}

// buffer appends b to the body as its uncompressed length and an LZ4
// frame, padded to 8 bytes; an empty b takes no body bytes.
func (e *ExamplesEncoder) buffer(b []byte, c blockCompressor) {
	at := len(e.body)
	if len(b) == 0 {
		e.bufs = append(e.bufs, ipcBuffer{offset: int64(at)})
		return
	}
	e.body = binary.LittleEndian.AppendUint64(e.body, uint64(len(b)))
	e.body = appendLZ4Frame(e.body, b, c)
	e.bufs = append(e.bufs, ipcBuffer{offset: int64(at), length: int64(len(e.body) - at)})
	for len(e.body)%ipcAlignment != 0 {
		e.body = append(e.body, 0)
	}
}

// appendMessage appends an encapsulated IPC message (continuation marker,
// metadata length, Message flatbuffer, padding) and the body built since
// startBody. header is a RecordBatch, or a DictionaryBatch wrapping one,
// of length rows.
func (e *ExamplesEncoder) appendMessage(dst []byte, header byte, length int64) []byte {
	b := e.fb
	b.Reset()
	b.StartVector(16, len(e.nodes), 8)
	for i := len(e.nodes) - 1; i >= 0; i-- {
		b.Prep(8, 16)
		b.PrependInt64(e.nodes[i].nulls)
		b.PrependInt64(e.nodes[i].length)
	}
	nodes := b.EndVector(len(e.nodes))
	b.StartVector(16, len(e.bufs), 8)
	for i := len(e.bufs) - 1; i >= 0; i-- {
		b.Prep(8, 16)
		b.PrependInt64(e.bufs[i].length)
		b.PrependInt64(e.bufs[i].offset)
	}
	buffers := b.EndVector(len(e.bufs))
	// BodyCompression: codec LZ4_FRAME and method BUFFER are both the
	// defaults (0), which flatbuffers leave out.
	b.StartObject(2)
	compression := b.EndObject()

	b.StartObject(5) // RecordBatch
	b.PrependInt64Slot(0, length, 0)
	b.PrependUOffsetTSlot(1, nodes, 0)
	b.PrependUOffsetTSlot(2, buffers, 0)
	b.PrependUOffsetTSlot(3, compression, 0)
	hdr := b.EndObject()
	if header == ipcHeaderDictionary {
		b.StartObject(3) // DictionaryBatch
		b.PrependInt64Slot(0, ipcSourceDictionaryID, 0)
		b.PrependUOffsetTSlot(1, hdr, 0)
		b.PrependBoolSlot(2, false, false)
		hdr = b.EndObject()
	}
	b.StartObject(5) // Message
	b.PrependInt16Slot(0, ipcMetadataV5, 0)
	b.PrependByteSlot(1, header, 0)
	b.PrependUOffsetTSlot(2, hdr, 0)
	b.PrependInt64Slot(3, int64(len(e.body)), 0)
	b.Finish(b.EndObject())
	meta := b.FinishedBytes()

	padded := (len(meta) + 8 + ipcAlignment - 1) / ipcAlignment * ipcAlignment
	dst = growBytes(dst, padded+len(e.body))
	dst = binary.LittleEndian.AppendUint32(dst, ipcContinuation)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(padded-8))
	dst = append(dst, meta...)
	for i := len(meta) + 8; i < padded; i++ {
		dst = append(dst, 0)
	}
	return append(dst, e.body...)
}

// The IPC format is little-endian, as are the machines we build for
// (amd64, arm64); arrow-go's casts view the memory as it is.
func int32Bytes(s []int32) []byte { return arrow.Int32Traits.CastToBytes(s) }
func int16Bytes(s []int16) []byte { return arrow.Int16Traits.CastToBytes(s) }
func int8Bytes(s []int8) []byte   { return arrow.Int8Traits.CastToBytes(s) }
