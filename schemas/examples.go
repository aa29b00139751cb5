package schemas

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The example contract, electra.examples.v1: fixed-length pre-training
// examples as Arrow record batches. One Kafka message on the examples topic
// is a self-contained Arrow IPC stream (schema, one record batch,
// end-of-stream) with LZ4_FRAME buffer compression and no Kafka-level
// compression, so any Arrow reader can open a message on its own.
const (
	// ExamplesSchemaName names the contract; it is the value of the
	// "schema" header and of the schema metadata key MetaSchema.
	ExamplesSchemaName = "electra.examples.v1"
	// ExamplesContentType is the content-type header of an examples message.
	ExamplesContentType = "application/vnd.apache.arrow.stream"

	// Kafka header keys of an examples message.
	ExamplesHeaderSchema      = "schema"
	ExamplesHeaderContentType = "content-type"
	// ExamplesHeaderBatchID carries a deterministic id derived from the
	// consumed partition and offset range (see transform). A redelivered
	// batch carries the same id, so consumers drop duplicates by it.
	ExamplesHeaderBatchID = "batch-id"

	// TopicExamples is the default examples topic; TopicTransformDLQ gets
	// the documents transform could not use, as DeadLetter JSON.
	TopicExamples     = "electra.examples.v1"
	TopicTransformDLQ = "electra.transform.dlq.v1"

	// Schema metadata keys.
	MetaSchema       = "electra.schema"
	MetaMaxSeqLength = "electra.max_seq_length"
	MetaVocabSHA256  = "electra.vocab_sha256"
	MetaTokenizer    = "electra.tokenizer"

	// Column names, in schema order.
	ColInputIDs   = "input_ids"
	ColSegmentIDs = "segment_ids"
	ColLength     = "length"
	ColDocID      = "doc_id"
	ColSource     = "source"

	// PadID pads input_ids past Length; segment_ids are 0 there too. The
	// input mask is position < Length.
	PadID = 0
)

// Example is one packed pre-training example:
// [CLS] A [SEP] (B [SEP]), without padding.
type Example struct {
	// InputIDs holds Length token ids; len(InputIDs) <= MaxSeqLength.
	InputIDs []int32
	// SegmentIDs is 0 for [CLS] A [SEP] and 1 for B [SEP]; same length as
	// InputIDs.
	SegmentIDs []int8
	// DocID is the id of the document the example was cut from.
	DocID string
	// Source is the document's source (wikipedia, books, ...).
	Source string
}

// ExamplesMeta is the schema-level metadata every batch carries.
type ExamplesMeta struct {
	// MaxSeqLength is L, the fixed width of input_ids and segment_ids.
	MaxSeqLength int
	// VocabSHA256 is the hex sha256 of the vocabulary file the ids index.
	VocabSHA256 string
	// Tokenizer names the tokenizer, e.g. "wordpiece-bert-uncased".
	Tokenizer string
}

func (m ExamplesMeta) validate() error {
	if m.MaxSeqLength < 5 || m.MaxSeqLength > 32767 {
		return fmt.Errorf("examples: max_seq_length %d out of range [5, 32767]", m.MaxSeqLength)
	}
	return nil
}

// ExamplesSchema returns the Arrow schema of electra.examples.v1 for meta.
func ExamplesSchema(meta ExamplesMeta) *arrow.Schema {
	l := int32(meta.MaxSeqLength)
	md := arrow.NewMetadata(
		[]string{MetaSchema, MetaMaxSeqLength, MetaVocabSHA256, MetaTokenizer},
		[]string{ExamplesSchemaName, strconv.Itoa(meta.MaxSeqLength), meta.VocabSHA256, meta.Tokenizer},
	)
	return arrow.NewSchema([]arrow.Field{
		{Name: ColInputIDs, Type: arrow.FixedSizeListOfNonNullable(l, arrow.PrimitiveTypes.Int32)},
		{Name: ColSegmentIDs, Type: arrow.FixedSizeListOfNonNullable(l, arrow.PrimitiveTypes.Int8)},
		{Name: ColLength, Type: arrow.PrimitiveTypes.Int16},
		{Name: ColDocID, Type: arrow.BinaryTypes.String},
		{Name: ColSource, Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}},
	}, &md)
}

// MetaFromSchema reads ExamplesMeta back from a schema and checks that the
// schema is electra.examples.v1 with consistent column widths.
func MetaFromSchema(s *arrow.Schema) (ExamplesMeta, error) {
	md := s.Metadata()
	get := func(k string) string {
		if i := md.FindKey(k); i >= 0 {
			return md.Values()[i]
		}
		return ""
	}
	if got := get(MetaSchema); got != ExamplesSchemaName {
		return ExamplesMeta{}, fmt.Errorf("examples: schema metadata %s=%q, want %q (not an electra examples batch?)", MetaSchema, got, ExamplesSchemaName)
	}
	l, err := strconv.Atoi(get(MetaMaxSeqLength))
	if err != nil {
		return ExamplesMeta{}, fmt.Errorf("examples: schema metadata %s=%q is not an integer", MetaMaxSeqLength, get(MetaMaxSeqLength))
	}
	meta := ExamplesMeta{MaxSeqLength: l, VocabSHA256: get(MetaVocabSHA256), Tokenizer: get(MetaTokenizer)}
	if err := meta.validate(); err != nil {
		return ExamplesMeta{}, err
	}
	want := ExamplesSchema(meta)
	if len(s.Fields()) != len(want.Fields()) {
		return ExamplesMeta{}, fmt.Errorf("examples: schema has %d columns, want %d (%s)", len(s.Fields()), len(want.Fields()), want)
	}
	for i, f := range want.Fields() {
		g := s.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return ExamplesMeta{}, fmt.Errorf("examples: column %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return meta, nil
}

// ExampleBatch is a decoded record batch in plain Go memory, laid out for
// the trainer: InputIDs and SegmentIDs are row-major [Rows][MaxSeqLength]
// with padding, ready to become tensors without another copy.
type ExampleBatch struct {
	Meta       ExamplesMeta
	Rows       int
	InputIDs   []int32 // Rows*MaxSeqLength, PadID past Lengths[i]
	SegmentIDs []int8  // Rows*MaxSeqLength, 0 past Lengths[i]
	Lengths    []int16 // tokens before padding
	DocIDs     []string
	Sources    []string
}

// Example returns row i as an Example (slices alias the batch).
func (b *ExampleBatch) Example(i int) Example {
	l := b.Meta.MaxSeqLength
	n := int(b.Lengths[i])
	return Example{
		InputIDs:   b.InputIDs[i*l : i*l+n],
		SegmentIDs: b.SegmentIDs[i*l : i*l+n],
		DocID:      b.DocIDs[i],
		Source:     b.Sources[i],
	}
}

// Tokens is the number of non-padding tokens in the batch.
func (b *ExampleBatch) Tokens() int64 {
	var n int64
	for _, l := range b.Lengths {
		n += int64(l)
	}
	return n
}

// NewExamplesRecord builds one record batch from examples. The caller owns
// the result and must Release it. Examples longer than MaxSeqLength or with
// mismatched segment ids are an error, never silently cut.
func NewExamplesRecord(mem memory.Allocator, meta ExamplesMeta, examples []Example) (arrow.RecordBatch, error) {
	return newExamplesRecord(mem, meta, examples, nil)
}

// NewExamplesRecordDict is NewExamplesRecord with the source column's
// dictionary fixed to dict, in that order. Arrow IPC files allow one
// dictionary per column for the whole file, so every batch of a file shard
// is built against the same dict; a source outside it is an error.
func NewExamplesRecordDict(mem memory.Allocator, meta ExamplesMeta, examples []Example, dict []string) (arrow.RecordBatch, error) {
	if dict == nil {
		dict = []string{}
	}
	return newExamplesRecord(mem, meta, examples, dict)
}

func newExamplesRecord(mem memory.Allocator, meta ExamplesMeta, examples []Example, dict []string) (arrow.RecordBatch, error) {
	if err := meta.validate(); err != nil {
		return nil, err
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	l := meta.MaxSeqLength
	n := len(examples)
	schema := ExamplesSchema(meta)

	// The fixed-width columns are laid out in Go slices and wrapped as Arrow
	// buffers: one copy per token, where per-row builder calls cost as much
	// as the LZ4 compression after them.
	ids := make([]int32, n*l)
	segs := make([]int8, n*l)
	lens := make([]int16, n)
	for i, e := range examples {
		if len(e.InputIDs) > l {
			return nil, fmt.Errorf("examples: example %d (doc %q) has %d tokens, max_seq_length is %d", i, e.DocID, len(e.InputIDs), l)
		}
		if len(e.SegmentIDs) != len(e.InputIDs) {
			return nil, fmt.Errorf("examples: example %d (doc %q) has %d segment ids for %d tokens", i, e.DocID, len(e.SegmentIDs), len(e.InputIDs))
		}
		copy(ids[i*l:], e.InputIDs)
		copy(segs[i*l:], e.SegmentIDs)
		lens[i] = int16(len(e.InputIDs))
	}
	fixedList := func(t arrow.DataType, values arrow.DataType, b []byte) arrow.Array {
		vd := array.NewData(values, n*l, []*memory.Buffer{nil, memory.NewBufferBytes(b)}, nil, 0, 0)
		defer vd.Release()
		ld := array.NewData(t, n, []*memory.Buffer{nil}, []arrow.ArrayData{vd}, 0, 0)
		defer ld.Release()
		return array.MakeFromData(ld)
	}
	idArr := fixedList(schema.Field(0).Type, arrow.PrimitiveTypes.Int32, arrow.Int32Traits.CastToBytes(ids))
	defer idArr.Release()
	segArr := fixedList(schema.Field(1).Type, arrow.PrimitiveTypes.Int8, arrow.Int8Traits.CastToBytes(segs))
	defer segArr.Release()
	ld := array.NewData(arrow.PrimitiveTypes.Int16, n, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int16Traits.CastToBytes(lens))}, nil, 0, 0)
	lenArr := array.MakeFromData(ld)
	ld.Release()
	defer lenArr.Release()

	docs := array.NewStringBuilder(mem)
	defer docs.Release()
	srcs := array.NewDictionaryBuilder(mem, schema.Field(4).Type.(*arrow.DictionaryType)).(*array.BinaryDictionaryBuilder)
	defer srcs.Release()
	var known map[string]bool
	if dict != nil {
		known = make(map[string]bool, len(dict))
		sb := array.NewStringBuilder(mem)
		for _, v := range dict {
			known[v] = true
			sb.Append(v)
		}
		d := sb.NewStringArray()
		sb.Release()
		err := srcs.InsertStringDictValues(d)
		d.Release()
		if err != nil {
			return nil, fmt.Errorf("examples: seed source dictionary: %w", err)
		}
	}
	docs.Reserve(n)
	srcs.Reserve(n)
	for i, e := range examples {
		docs.Append(e.DocID)
		if known != nil && !known[e.Source] {
			return nil, fmt.Errorf("examples: example %d (doc %q) has source %q outside the fixed dictionary %q", i, e.DocID, e.Source, dict)
		}
		if err := srcs.AppendString(e.Source); err != nil {
			return nil, fmt.Errorf("examples: example %d source %q: %w", i, e.Source, err)
		}
	}
	docArr := docs.NewArray()
	defer docArr.Release()
	srcArr := srcs.NewArray()
	defer srcArr.Release()
	return array.NewRecordBatch(schema, []arrow.Array{idArr, segArr, lenArr, docArr, srcArr}, int64(n)), nil
}

// EncodeExamplesMessage encodes examples as one Kafka message value: an
// Arrow IPC stream with the schema, one record batch and end-of-stream,
// buffers LZ4_FRAME-compressed. Encoding many batches, an ExamplesEncoder
// reuses its buffers.
func EncodeExamplesMessage(meta ExamplesMeta, examples []Example) ([]byte, error) {
	e, err := NewExamplesEncoder(meta)
	if err != nil {
		return nil, err
	}
	return e.AppendEncode(nil, examples)
}

// EncodeExamplesRecord writes rec as a self-contained LZ4-compressed IPC
// stream with arrow-go's writer.
func EncodeExamplesRecord(rec arrow.RecordBatch) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithLZ4())
	if err := w.Write(rec); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("examples: encode IPC batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("examples: close IPC stream: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeExamplesMessage decodes one examples message value (an IPC stream
// holding exactly one record batch) into Go memory.
func DecodeExamplesMessage(value []byte) (*ExampleBatch, error) {
	if err := checkSchemaMessage(value); err != nil {
		return nil, fmt.Errorf("examples: corrupt message: %w", err)
	}
	var out *ExampleBatch
	n := 0
	// No message in a stream of len(value) bytes can be larger than that;
	// without the limits a corrupt length field makes the reader allocate
	// whatever it claims.
	limit := int64(len(value)) + 1
	// LZ4 expands at most ~255x, so no honest buffer exceeds 256x the
	// message.
	alloc := boundedAllocator{max: min(maxDecodedBuffer, 256*len(value)+64<<10)}
	opts := []ipc.Option{ipc.WithBodySizeLimit(limit), ipc.WithMetadataSizeLimit(limit), ipc.WithAllocator(alloc)}
	for b, err := range readExamplesStream(bytes.NewReader(value), opts...) {
		if err != nil {
			return nil, err
		}
		out = b
		n++
	}
	if n != 1 {
		return nil, fmt.Errorf("examples: message holds %d record batches, want exactly 1", n)
	}
	return out, nil
}

// ReadExamplesStream yields the record batches of an Arrow IPC stream of
// electra.examples.v1, decoded into Go memory. It stops at the first error.
func ReadExamplesStream(r io.Reader) iter.Seq2[*ExampleBatch, error] {
	return readExamplesStream(r)
}

func readExamplesStream(r io.Reader, opts ...ipc.Option) iter.Seq2[*ExampleBatch, error] {
	return func(yield func(*ExampleBatch, error) bool) {
		rd, err := newStreamReader(r, opts...)
		if err != nil {
			yield(nil, fmt.Errorf("examples: open IPC stream: %w", err))
			return
		}
		defer rd.Release()
		meta, err := MetaFromSchema(rd.Schema())
		if err != nil {
			yield(nil, err)
			return
		}
		for i := 0; ; i++ {
			rec, ok, err := nextRecord(rd)
			if err != nil {
				yield(nil, fmt.Errorf("examples: IPC stream batch %d: %w", i, err))
				return
			}
			if !ok {
				return
			}
			b, err := BatchFromRecord(meta, rec)
			if err != nil {
				yield(nil, fmt.Errorf("examples: IPC stream batch %d: %w", i, err))
				return
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// newStreamReader and nextRecord turn panics of the IPC reader on corrupt
// input into errors: a malformed message is bad input, not a crash.
func newStreamReader(r io.Reader, opts ...ipc.Option) (rd *ipc.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("corrupt IPC stream: %v", p)
		}
	}()
	// ipc.NewReader ignores the size limits; only a MessageReader honours
	// them.
	return ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, opts...), opts...)
}

// maxDecodedBuffer bounds one decompressed buffer. A real batch of 1024 rows
// at L=512 needs 2 MiB per column; a corrupt LZ4 header can claim hundreds
// of GiB, which the reader would try to allocate.
const maxDecodedBuffer = 256 << 20

// boundedAllocator panics (recovered into an error by nextRecord) instead
// of attempting an absurd allocation.
type boundedAllocator struct{ max int }

func (a boundedAllocator) Allocate(n int) []byte {
	if n > a.max {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the %d-byte bound", n, a.max))
	}
	return memory.DefaultAllocator.Allocate(n)
}

func (a boundedAllocator) Reallocate(n int, b []byte) []byte {
	if n > a.max {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the %d-byte bound", n, a.max))
	}
	return memory.DefaultAllocator.Reallocate(n, b)
}

func (boundedAllocator) Free(b []byte) { memory.DefaultAllocator.Free(b) }

func nextRecord(rd *ipc.Reader) (rec arrow.RecordBatch, ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, ok, err = nil, false, fmt.Errorf("corrupt IPC batch: %v", p)
		}
	}()
	if !rd.Next() {
		return nil, false, rd.Err()
	}
	return rd.RecordBatch(), true, nil
}

// ReadExamplesFile yields the record batches of an Arrow IPC file (the
// dataset shard format, magic "ARROW1") decoded into Go memory.
func ReadExamplesFile(path string) iter.Seq2[*ExampleBatch, error] {
	return func(yield func(*ExampleBatch, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(nil, fmt.Errorf("examples: %w", err))
			return
		}
		defer f.Close()
		fr, err := openFileReader(f)
		if err != nil {
			yield(nil, fmt.Errorf("examples: %s: open IPC file: %w", path, err))
			return
		}
		defer fr.Close()
		meta, err := MetaFromSchema(fr.Schema())
		if err != nil {
			yield(nil, fmt.Errorf("%s: %w", path, err))
			return
		}
		for i := 0; i < fr.NumRecords(); i++ {
			b, err := fileBatch(fr, meta, i)
			if err != nil {
				yield(nil, fmt.Errorf("examples: %s: batch %d: %w", path, i, err))
				return
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

func openFileReader(f *os.File) (fr *ipc.FileReader, err error) {
	defer func() {
		if p := recover(); p != nil {
			fr, err = nil, fmt.Errorf("corrupt IPC file: %v", p)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// The footer's length sits just before the 6-byte trailer.
	trailer := make([]byte, min(fi.Size(), 10))
	if _, err := f.ReadAt(trailer, fi.Size()-int64(len(trailer))); err != nil {
		return nil, err
	}
	n := int64(0)
	if len(trailer) == 10 {
		n = int64(int32(binary.LittleEndian.Uint32(trailer)))
	}
	if n <= 0 || n+10 > fi.Size() {
		return nil, fmt.Errorf("IPC file footer length %d does not fit a %d-byte file", n, fi.Size())
	}
	tail := make([]byte, n+10)
	if _, err := f.ReadAt(tail, fi.Size()-int64(len(tail))); err != nil {
		return nil, err
	}
	if err := checkFileFooter(tail); err != nil {
		return nil, err
	}
	// As for messages: nothing in a file is larger than the file, and no
	// decompressed buffer larger than LZ4's 255x ceiling.
	limit := fi.Size() + 1
	alloc := boundedAllocator{max: int(min(int64(maxDecodedBuffer), 256*fi.Size()+64<<10))}
	return ipc.NewFileReader(f, ipc.WithBodySizeLimit(limit), ipc.WithMetadataSizeLimit(limit), ipc.WithAllocator(alloc))
}

func fileBatch(fr *ipc.FileReader, meta ExamplesMeta, i int) (b *ExampleBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("corrupt IPC batch: %v", p)
		}
	}()
	rec, err := fr.RecordBatch(i)
	if err != nil {
		return nil, err
	}
	// FileReader.RecordBatch returns a batch the reader owns and releases.
	return BatchFromRecord(meta, rec)
}

// BatchFromRecord copies an electra.examples.v1 record into Go memory and
// checks its invariants (lengths within [0, L], no nulls). It does not
// release rec.
func BatchFromRecord(meta ExamplesMeta, rec arrow.RecordBatch) (b *ExampleBatch, err error) {
	// IPC readers do not validate buffers against offsets; a corrupt batch
	// surfaces as an index panic here, which is bad input, not a crash.
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("corrupt record batch: %v", p)
		}
	}()
	if rec.NumCols() != 5 {
		return nil, fmt.Errorf("record has %d columns, want 5", rec.NumCols())
	}
	l := meta.MaxSeqLength
	rows := int(rec.NumRows())
	ids, ok1 := rec.Column(0).(*array.FixedSizeList)
	segs, ok2 := rec.Column(1).(*array.FixedSizeList)
	lens, ok3 := rec.Column(2).(*array.Int16)
	docs, ok4 := rec.Column(3).(*array.String)
	srcs, ok5 := rec.Column(4).(*array.Dictionary)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return nil, errors.New("record columns do not have the electra.examples.v1 types")
	}
	for i := 0; i < 5; i++ {
		if c := rec.Column(i); c.NullN() != 0 || c.Len() != rows {
			return nil, fmt.Errorf("column %s: %d nulls, %d rows (want 0 nulls, %d rows)", rec.ColumnName(i), c.NullN(), c.Len(), rows)
		}
	}
	idv, ok1 := ids.ListValues().(*array.Int32)
	segv, ok2 := segs.ListValues().(*array.Int8)
	dict, ok3 := srcs.Dictionary().(*array.String)
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("record list or dictionary values do not have the electra.examples.v1 types")
	}
	if err := docs.ValidateFull(); err != nil {
		return nil, fmt.Errorf("column %s: %w", ColDocID, err)
	}
	if err := dict.ValidateFull(); err != nil {
		return nil, fmt.Errorf("column %s dictionary: %w", ColSource, err)
	}
	idOff, segOff := ids.Offset()*l, segs.Offset()*l
	if idv.Len() < idOff+rows*l || segv.Len() < segOff+rows*l {
		return nil, fmt.Errorf("list values too short for %d rows of %d", rows, l)
	}
	b = &ExampleBatch{
		Meta:       meta,
		Rows:       rows,
		InputIDs:   make([]int32, rows*l),
		SegmentIDs: make([]int8, rows*l),
		Lengths:    make([]int16, rows),
		DocIDs:     make([]string, rows),
		Sources:    make([]string, rows),
	}
	copy(b.InputIDs, idv.Int32Values()[idOff:idOff+rows*l])
	copy(b.SegmentIDs, segv.Int8Values()[segOff:segOff+rows*l])
	for i := 0; i < rows; i++ {
		n := lens.Value(i)
		if n < 0 || int(n) > l {
			return nil, fmt.Errorf("row %d: length %d outside [0, %d]", i, n, l)
		}
		b.Lengths[i] = n
		b.DocIDs[i] = docs.Value(i)
		k := srcs.GetValueIndex(i)
		if k < 0 || k >= dict.Len() {
			return nil, fmt.Errorf("row %d: source dictionary index %d outside [0, %d)", i, k, dict.Len())
		}
		b.Sources[i] = dict.Value(k)
	}
	return b, nil
}
