// Package dataset feeds the trainer from an Arrow dataset directory: the
// electra.examples.v1 IPC files (*.arrow) that `electra transform --sink
// dataset:DIR` writes. Files are read in name order, rows regrouped into
// batches of the requested size, epochs repeat, and a Position says exactly
// where to pick up after a restart.
package dataset

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
)

// Source implements trainer.Source over a dataset directory.
type Source struct {
	dir       string
	files     []string // base names, sorted
	batchSize int
	seqLen    int // from the first file's schema

	// Next row to read: epoch, file index, row within the file.
	epoch, file, row int

	next    func() (*schemas.ExampleBatch, error, bool)
	stop    func()
	cur     *schemas.ExampleBatch
	curRow  int  // next row within cur
	yielded bool // a row was read in this epoch (guards empty datasets)
}

// Open lists dir's *.arrow files and positions the source after from (""
// = the beginning), a Position this package returned earlier.
func Open(dir string, batchSize int, from trainer.Position) (*Source, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("dataset %s: batch size %d must be > 0", dir, batchSize)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	s := &Source{dir: dir, batchSize: batchSize}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".arrow") {
			s.files = append(s.files, e.Name())
		}
	}
	slices.Sort(s.files)
	if len(s.files) == 0 {
		return nil, fmt.Errorf("dataset %s: no *.arrow files (write a dataset with `electra transform --sink dataset:%s`)", dir, dir)
	}
	if from != "" {
		var name string
		if _, err := fmt.Sscanf(string(from), "epoch=%d file=%s row=%d", &s.epoch, &name, &s.row); err != nil {
			return nil, fmt.Errorf("dataset %s: position %q is not one of ours (epoch=E file=NAME row=R): %v", dir, from, err)
		}
		s.file = slices.Index(s.files, name)
		if s.file < 0 {
			return nil, fmt.Errorf("dataset %s: position %q names file %s, which is no longer in the directory", dir, from, name)
		}
	}
	if err := s.openFile(); err != nil {
		return nil, err
	}
	// Skip the rows already consumed in the resume file.
	for skip := s.row; skip > 0; {
		if s.cur == nil || s.curRow == s.cur.Rows {
			b, err, ok := s.next()
			if err != nil {
				return nil, fmt.Errorf("dataset %s: resuming in %s: %w", dir, s.files[s.file], err)
			}
			if !ok {
				return nil, fmt.Errorf("dataset %s: position %q is past the end of %s", dir, from, s.files[s.file])
			}
			if err := s.load(b); err != nil {
				return nil, err
			}
		}
		n := min(skip, s.cur.Rows-s.curRow)
		s.curRow += n
		skip -= n
	}
	return s, nil
}

func (s *Source) openFile() error {
	if s.stop != nil {
		s.stop()
	}
	path := filepath.Join(s.dir, s.files[s.file])
	s.next, s.stop = pull(schemas.ReadExamplesFile(path))
	s.cur, s.curRow = nil, 0
	return nil
}

// load makes eb the current record batch; all batches must share one
// sequence length.
func (s *Source) load(eb *schemas.ExampleBatch) error {
	if s.seqLen == 0 {
		s.seqLen = eb.Meta.MaxSeqLength
	} else if eb.Meta.MaxSeqLength != s.seqLen {
		return fmt.Errorf("dataset %s: file %s has max_seq_length %d, earlier files %d; one dataset must have one length", s.dir, s.files[s.file], eb.Meta.MaxSeqLength, s.seqLen)
	}
	s.cur, s.curRow = eb, 0
	return nil
}

// pull is iter.Pull2 on a plain goroutine and channels. iter.Pull2's
// coroutine must be resumed with the thread-lock state it was created with,
// and the trainer opens sources on its locked torch thread but reads them
// from an unlocked prefetch goroutine.
func pull(seq iter.Seq2[*schemas.ExampleBatch, error]) (next func() (*schemas.ExampleBatch, error, bool), stop func()) {
	type item struct {
		b   *schemas.ExampleBatch
		err error
	}
	ch := make(chan item)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for b, err := range seq {
			select {
			case ch <- item{b, err}:
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	next = func() (*schemas.ExampleBatch, error, bool) {
		it, ok := <-ch
		return it.b, it.err, ok
	}
	stop = func() {
		once.Do(func() {
			close(done)
			for range ch { // let the reader goroutine finish and close its file
			}
		})
	}
	return next, stop
}

// Close releases the open file.
func (s *Source) Close() {
	if s.stop != nil {
		s.stop()
	}
}

// Next returns the next batchSize rows. The dataset repeats, so Next only
// fails on unreadable data or a cancelled context.
func (s *Source) Next(ctx context.Context) (trainer.Batch, trainer.Position, error) {
	var b trainer.Batch
	for filled := 0; filled < s.batchSize; {
		if err := ctx.Err(); err != nil {
			return b, "", err
		}
		if s.cur == nil || s.curRow == s.cur.Rows {
			eb, err, ok := s.next()
			if err != nil {
				return b, "", fmt.Errorf("dataset %s: file %s after row %d: %w", s.dir, s.files[s.file], s.row, err)
			}
			if !ok { // end of file: next file, or the next epoch
				s.file, s.row = s.file+1, 0
				if s.file == len(s.files) {
					if !s.yielded {
						return b, "", fmt.Errorf("dataset %s: no rows in any file: %w", s.dir, io.ErrUnexpectedEOF)
					}
					s.epoch, s.file, s.yielded = s.epoch+1, 0, false
				}
				if err := s.openFile(); err != nil {
					return b, "", err
				}
				continue
			}
			if err := s.load(eb); err != nil {
				return b, "", err
			}
			continue
		}
		if b.Size == 0 {
			b = trainer.Batch{Size: s.batchSize, SeqLen: s.seqLen,
				IDs: make([]int32, s.batchSize*s.seqLen), Segments: make([]int8, s.batchSize*s.seqLen), Lengths: make([]int16, s.batchSize)}
		}
		n := min(s.batchSize-filled, s.cur.Rows-s.curRow)
		l := s.seqLen
		copy(b.IDs[filled*l:], s.cur.InputIDs[s.curRow*l:(s.curRow+n)*l])
		copy(b.Segments[filled*l:], s.cur.SegmentIDs[s.curRow*l:(s.curRow+n)*l])
		copy(b.Lengths[filled:], s.cur.Lengths[s.curRow:s.curRow+n])
		filled += n
		s.curRow += n
		s.row += n
		s.yielded = true
	}
	return b, trainer.Position(fmt.Sprintf("epoch=%d file=%s row=%d", s.epoch, s.files[s.file], s.row)), nil
}
