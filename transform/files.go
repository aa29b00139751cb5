package transform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/dataset"
)

// JSONLInput reads the JSON-lines documents `electra ingest --sink jsonl:`
// writes, file after file. A record's position is (file, 0, line number),
// so batch ids name the file and line range they came from.
type JSONLInput struct {
	files []string
	i     int
	f     *os.File
	r     *bufio.Reader
	line  int64
}

// NewJSONLInput reads files in the order given.
func NewJSONLInput(files []string) *JSONLInput { return &JSONLInput{files: files} }

// Next returns the next non-empty line.
func (in *JSONLInput) Next(ctx context.Context) (Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		if in.r == nil {
			if in.i >= len(in.files) {
				return Record{}, io.EOF
			}
			f, err := os.Open(in.files[in.i])
			if err != nil {
				return Record{}, err
			}
			in.f, in.r, in.line = f, bufio.NewReaderSize(f, 1<<20), 0
		}
		b, err := in.r.ReadBytes('\n')
		if len(b) > 0 {
			in.line++
			b = bytes.TrimSpace(b)
			if len(b) > 0 {
				return Record{Position: Position{Topic: filepath.Base(in.files[in.i]), Offset: in.line}, Value: b}, nil
			}
		}
		if err != nil {
			in.f.Close()
			in.f, in.r = nil, nil
			if !errors.Is(err, io.EOF) {
				return Record{}, fmt.Errorf("%s line %d: %w", in.files[in.i], in.line+1, err)
			}
			in.i++
		}
	}
}

// Commit is a no-op: files are re-read from the start on a rerun.
func (in *JSONLInput) Commit(context.Context, Position) error { return nil }

// DatasetOutput writes chunks to a dataset directory; dead letters go to
// DIR/dead-letters.jsonl.
type DatasetOutput struct {
	w    *dataset.Writer
	dir  string
	dead *os.File
}

// NewDatasetOutput creates the dataset directory (which must be new or
// empty).
func NewDatasetOutput(dir string, meta schemas.ExamplesMeta, opts dataset.Options) (*DatasetOutput, error) {
	w, err := dataset.Create(dir, meta, opts)
	if err != nil {
		return nil, err
	}
	return &DatasetOutput{w: w, dir: dir}, nil
}

// Write appends the chunk's batches; a batch is acknowledged once written
// to the open shards (Close makes the dataset complete).
func (o *DatasetOutput) Write(_ context.Context, c *Chunk) error {
	for _, b := range c.Batches {
		if err := o.w.Write(b.Examples); err != nil {
			return fmt.Errorf("batch %s: %w", b.ID, err)
		}
	}
	if len(c.Dead) > 0 {
		if o.dead == nil {
			f, err := os.Create(filepath.Join(o.dir, "dead-letters.jsonl"))
			if err != nil {
				return err
			}
			o.dead = f
		}
		enc := json.NewEncoder(o.dead)
		for _, d := range c.Dead {
			if err := enc.Encode(d); err != nil {
				return fmt.Errorf("writing dead letter: %w", err)
			}
		}
	}
	return nil
}

// Close finishes the shards and writes the manifest.
func (o *DatasetOutput) Close() error {
	var err error
	if o.dead != nil {
		err = o.dead.Close()
	}
	return errors.Join(err, o.w.Close())
}

// Manifest returns what the dataset holds so far.
func (o *DatasetOutput) Manifest() dataset.Manifest { return o.w.Manifest() }
