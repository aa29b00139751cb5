package ingest

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/electra-go/electra/ingest/htmltext"
	"github.com/electra-go/electra/schemas"
)

// Record is one unit a Reader yields: a document, a record to skip (with a
// countable reason) or a dead letter. Exactly one of the three holds.
type Record struct {
	// Doc is the document. Its Text holds paragraphs separated by blank
	// lines; single newlines inside a paragraph are soft wraps. The
	// pipeline splits sentences, so readers must not.
	Doc schemas.Document
	// File is the input path the record came from.
	File string
	// Offset is the byte offset of the record's start in the decompressed
	// input. Offsets strictly increase within a file: the resume file
	// stores the last acknowledged one and a re-run skips records at or
	// before it.
	Offset int64
	// Skip, when non-empty, is why this record is deliberately not
	// produced ("redirect", "namespace", "gigaword-type") — counted in the
	// summary, not dead-lettered.
	Skip string
	// Dead, when non-nil, means the record could not be parsed; it goes to
	// the dead-letter sink. Its Reason is a short countable token.
	Dead *schemas.DeadLetter
	// Repaired, when non-empty, says the reader fixed the record to make
	// it usable ("invalid-utf8"); it is produced and the repair counted.
	Repaired string
}

// Reader reads one input file. Records yields in increasing Offset order
// and stops at the first error it returns; an error means the rest of the
// file cannot be read (corrupt compression, I/O failure), while problems
// with one record are reported as a Record with Dead set and reading goes
// on. Records is called once.
type Reader interface {
	Records() iter.Seq2[Record, error]
	// BytesRead is how many bytes of the file (as stored, compressed or
	// not) have been consumed, for progress; safe to call concurrently
	// with Records.
	BytesRead() int64
	Close() error
}

// Options are what the CLI and pipeline files pass to every format. The
// zero value is usable.
type Options struct {
	// Source overrides the format's Document.Source.
	Source string
	// Lang is copied into Document.Lang; default "en".
	Lang string
	// Index is the multistream index of a Wikipedia .bz2 dump
	// (…-index.txt or …-index.txt.bz2); empty looks for the sibling file.
	Index string
	// Workers decompress/parse in parallel where the format allows it
	// (multistream bz2); default 1.
	Workers int
	// KeepAllTypes keeps every Gigaword DOC type, not only "story".
	KeepAllTypes bool
	// MaxRecordBytes caps the raw bytes of one record (a <page>, a <DOC>);
	// larger ones are dead-lettered as "too-large" without being held in
	// memory. Default 64 MiB.
	MaxRecordBytes int
	// ChunkBytes is where a streamed book is cut into parts (at a
	// paragraph boundary); default 1 MiB.
	ChunkBytes int
	// Quality filters web documents (commoncrawl-wet, commoncrawl-warc,
	// clueweb); nil means htmltext.DefaultQuality().
	Quality *htmltext.Quality
}

func (o Options) lang() string {
	if o.Lang == "" {
		return "en"
	}
	return o.Lang
}

func (o Options) maxRecord() int {
	if o.MaxRecordBytes <= 0 {
		return 64 << 20
	}
	return o.MaxRecordBytes
}

func (o Options) source(def string) string {
	if o.Source != "" {
		return o.Source
	}
	return def
}

// OpenFunc opens one input file of a format.
type OpenFunc func(path string, opts Options) (Reader, error)

var (
	formatsMu sync.RWMutex
	formats   = map[string]OpenFunc{}
)

// Register makes a format available to Open and `electra ingest --format`.
// Each format file registers itself from init.
func Register(format string, open OpenFunc) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	if _, dup := formats[format]; dup {
		panic("ingest: format registered twice: " + format)
	}
	formats[format] = open
}

// Formats lists the registered format names, sorted.
func Formats() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens path with the named format's reader.
func Open(format, path string, opts Options) (Reader, error) {
	formatsMu.RLock()
	open, ok := formats[format]
	formatsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown input format %q; known formats: %v", format, Formats())
	}
	return open(path, opts)
}

// Collect reads a whole Reader into memory: for tests and small inputs.
func Collect(r Reader) ([]Record, error) {
	var out []Record
	for rec, err := range r.Records() {
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return slices.Clip(out), nil
}

// counter counts bytes consumed from the underlying file.
type counter struct{ n atomic.Int64 }

func (c *counter) BytesRead() int64 { return c.n.Load() }
