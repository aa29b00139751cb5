// Package dataset writes and reads example datasets on disk: a directory
// of Arrow IPC files and/or Parquet files in shards of about 128 MiB, plus
// a small JSON manifest that says what is there. The manifest is written
// last, so a directory with a manifest is a complete dataset.
//
// Loading elsewhere (both read the files as they are):
//
//	pyarrow:     pyarrow.dataset.dataset("DIR", format="arrow")   # or "parquet"
//	HF datasets: datasets.load_dataset("parquet", data_files="DIR/*.parquet")
//	             datasets.load_dataset("arrow", data_files="DIR/*.arrow")
//
// input_ids and segment_ids are fixed_size_list columns (width
// max_seq_length); the attention mask is position < length.
package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/electra-go/electra/schemas"
)

// ManifestName is the manifest file inside a dataset directory.
const ManifestName = "manifest.json"

// Format of a shard file.
type Format string

const (
	Arrow   Format = "arrow"   // Arrow IPC file ("Feather v2"), LZ4 buffers
	Parquet Format = "parquet" // Parquet via pqarrow, Snappy pages, Arrow schema stored
)

// ParseFormats parses "arrow", "parquet" or "arrow,parquet".
func ParseFormats(s string) ([]Format, error) {
	var out []Format
	for _, f := range splitComma(s) {
		switch Format(f) {
		case Arrow, Parquet:
			if !slices.Contains(out, Format(f)) {
				out = append(out, Format(f))
			}
		default:
			return nil, fmt.Errorf("dataset: unknown format %q (want arrow, parquet or arrow,parquet)", f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("dataset: no format given (want arrow, parquet or arrow,parquet)")
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// Options configure a Writer; the zero value writes Arrow shards of 128 MiB.
type Options struct {
	// Formats to write; every batch goes to each. Default [Arrow].
	Formats []Format
	// ShardBytes starts a new shard once the current one has this many
	// bytes (uncompressed batch size as an estimate). Default 128 MiB.
	ShardBytes int64
}

// Manifest describes a complete dataset.
type Manifest struct {
	Schema       string         `json:"schema"`
	MaxSeqLength int            `json:"max_seq_length"`
	VocabSHA256  string         `json:"vocab_sha256"`
	Tokenizer    string         `json:"tokenizer"`
	Rows         int64          `json:"rows"`
	Tokens       int64          `json:"tokens"` // non-padding tokens
	Sources      map[string]int `json:"sources"`
	Shards       []Shard        `json:"shards"`
}

// Shard is one file of the dataset.
type Shard struct {
	File    string `json:"file"`
	Format  Format `json:"format"`
	Rows    int64  `json:"rows"`
	Batches int    `json:"batches"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// Writer writes a dataset. It is not safe for concurrent use.
type Writer struct {
	dir   string
	meta  schemas.ExamplesMeta
	opts  Options
	man   Manifest
	seen  []string // sources in first-seen order: each shard's dictionary
	cur   []*shardWriter
	est   int64 // estimated bytes in the current shards
	index int
}

// Create makes dir (it must be empty or absent) and returns a Writer.
func Create(dir string, meta schemas.ExamplesMeta, opts Options) (*Writer, error) {
	if len(opts.Formats) == 0 {
		opts.Formats = []Format{Arrow}
	}
	if opts.ShardBytes <= 0 {
		opts.ShardBytes = 128 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	} else if len(ents) > 0 {
		return nil, fmt.Errorf("dataset: %s is not empty; choose a new directory or remove it", dir)
	}
	return &Writer{dir: dir, meta: meta, opts: opts, man: Manifest{
		Schema: schemas.ExamplesSchemaName, MaxSeqLength: meta.MaxSeqLength, VocabSHA256: meta.VocabSHA256,
		Tokenizer: meta.Tokenizer, Sources: map[string]int{},
	}}, nil
}

// Write appends examples as one record batch. It returns only after the
// batch is in the shard files' buffers; Close makes it durable.
func (w *Writer) Write(examples []schemas.Example) error {
	if len(examples) == 0 {
		return nil
	}
	// Arrow IPC files carry one dictionary per column for the whole file:
	// a source the open shards do not know starts new shards whose
	// dictionary lists every source seen so far.
	fresh := false
	for _, e := range examples {
		if !slices.Contains(w.seen, e.Source) {
			w.seen = append(w.seen, e.Source)
			fresh = true
		}
	}
	if w.cur != nil && (fresh || w.est >= w.opts.ShardBytes) {
		if err := w.closeShards(); err != nil {
			return err
		}
	}
	if w.cur == nil {
		if err := w.openShards(); err != nil {
			return err
		}
	}
	rec, err := schemas.NewExamplesRecordDict(memory.DefaultAllocator, w.meta, examples, w.seen)
	if err != nil {
		return err
	}
	defer rec.Release()
	for _, s := range w.cur {
		if err := s.write(rec); err != nil {
			return err
		}
	}
	w.est += int64(len(examples)) * int64(w.meta.MaxSeqLength) * 5
	for _, e := range examples {
		w.man.Rows++
		w.man.Tokens += int64(len(e.InputIDs))
		w.man.Sources[e.Source]++
	}
	return nil
}

func (w *Writer) openShards() error {
	schema := schemas.ExamplesSchema(w.meta)
	for _, f := range w.opts.Formats {
		name := fmt.Sprintf("examples-%05d.%s", w.index, f)
		s, err := newShardWriter(filepath.Join(w.dir, name), name, f, schema)
		if err != nil {
			return err
		}
		w.cur = append(w.cur, s)
	}
	w.index++
	w.est = 0
	return nil
}

func (w *Writer) closeShards() error {
	for _, s := range w.cur {
		sh, err := s.close()
		if err != nil {
			return err
		}
		w.man.Shards = append(w.man.Shards, sh)
	}
	w.cur = nil
	return nil
}

// Close finishes the open shards and writes the manifest.
func (w *Writer) Close() error {
	if err := w.closeShards(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(w.man, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(w.dir, ManifestName), append(b, '\n'))
}

// Manifest returns what has been written so far.
func (w *Writer) Manifest() Manifest { return w.man }

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("dataset: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("dataset: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dataset: close %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

// shardWriter writes one shard to path+".tmp", hashing as it goes, and
// renames it into place on close.
type shardWriter struct {
	path, name string
	format     Format
	f          *os.File
	h          hash.Hash
	n          int64
	rows       int64
	batches    int
	ipcw       *ipc.FileWriter
	pqw        *pqarrow.FileWriter
}

func (s *shardWriter) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

func newShardWriter(path, name string, format Format, schema *arrow.Schema) (*shardWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	s := &shardWriter{path: path, name: name, format: format, f: f, h: sha256.New()}
	switch format {
	case Arrow:
		s.ipcw, err = ipc.NewFileWriter(s, ipc.WithSchema(schema), ipc.WithLZ4())
	case Parquet:
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithDictionaryDefault(false))
		s.pqw, err = pqarrow.NewFileWriter(schema, s, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dataset: open %s shard %s: %w", format, path, err)
	}
	return s, nil
}

func (s *shardWriter) write(rec arrow.RecordBatch) error {
	var err error
	if s.ipcw != nil {
		err = s.ipcw.Write(rec)
	} else {
		// One row group per batch keeps the writer's memory to one batch.
		err = s.pqw.Write(rec)
	}
	if err != nil {
		return fmt.Errorf("dataset: write batch %d to %s: %w", s.batches, s.path, err)
	}
	s.rows += rec.NumRows()
	s.batches++
	return nil
}

func (s *shardWriter) close() (Shard, error) {
	var err error
	if s.ipcw != nil {
		err = s.ipcw.Close()
	} else {
		err = s.pqw.Close()
	}
	if err != nil {
		s.f.Close()
		return Shard{}, fmt.Errorf("dataset: finish %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return Shard{}, fmt.Errorf("dataset: sync %s: %w", s.path, err)
	}
	if err := s.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return Shard{}, fmt.Errorf("dataset: close %s: %w", s.path, err)
	}
	if err := os.Rename(s.path+".tmp", s.path); err != nil {
		return Shard{}, fmt.Errorf("dataset: %w", err)
	}
	return Shard{File: s.name, Format: s.format, Rows: s.rows, Batches: s.batches, Bytes: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil))}, nil
}

// ReadManifest reads DIR/manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, fmt.Errorf("dataset: %w (not a complete dataset directory?)", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("dataset: %s: %w", filepath.Join(dir, ManifestName), err)
	}
	if m.Schema != schemas.ExamplesSchemaName {
		return m, fmt.Errorf("dataset: %s: schema %q, want %q", filepath.Join(dir, ManifestName), m.Schema, schemas.ExamplesSchemaName)
	}
	return m, nil
}

// Batches yields the record batches of the dataset's Arrow shards in order
// (or, if it has none, of its Parquet shards).
func Batches(dir string) iter.Seq2[*schemas.ExampleBatch, error] {
	return func(yield func(*schemas.ExampleBatch, error) bool) {
		m, err := ReadManifest(dir)
		if err != nil {
			yield(nil, err)
			return
		}
		want := Arrow
		if !slices.ContainsFunc(m.Shards, func(s Shard) bool { return s.Format == Arrow }) {
			want = Parquet
		}
		for _, s := range m.Shards {
			if s.Format != want {
				continue
			}
			path := filepath.Join(dir, s.File)
			var seq iter.Seq2[*schemas.ExampleBatch, error]
			if want == Arrow {
				seq = schemas.ReadExamplesFile(path)
			} else {
				seq = readParquet(path)
			}
			for b, err := range seq {
				if !yield(b, err) || err != nil {
					return
				}
			}
		}
	}
}

func readParquet(path string) iter.Seq2[*schemas.ExampleBatch, error] {
	return func(yield func(*schemas.ExampleBatch, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(nil, fmt.Errorf("dataset: %w", err))
			return
		}
		defer f.Close()
		rdr, schema, err := pqarrowReader(f)
		if err != nil {
			yield(nil, fmt.Errorf("dataset: %s: %w", path, err))
			return
		}
		defer rdr.Release()
		meta, err := schemas.MetaFromSchema(schema)
		if err != nil {
			yield(nil, fmt.Errorf("dataset: %s: %w", path, err))
			return
		}
		for rdr.Next() {
			b, err := schemas.BatchFromRecord(meta, rdr.RecordBatch())
			if err != nil {
				err = fmt.Errorf("dataset: %s: %w", path, err)
			}
			if !yield(b, err) || err != nil {
				return
			}
		}
		if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
			yield(nil, fmt.Errorf("dataset: %s: %w", path, err))
		}
	}
}

// pqarrowReader opens a Parquet shard; the schema it returns carries the
// stored Arrow schema's metadata, which the record reader's schema drops.
func pqarrowReader(f *os.File) (pqarrow.RecordReader, *arrow.Schema, error) {
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, nil, err
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, nil, err
	}
	schema, err := fr.Schema()
	if err != nil {
		return nil, nil, err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	return rr, schema, err
}
