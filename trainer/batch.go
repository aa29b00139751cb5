package trainer

import (
	"context"
	"fmt"
)

// Batch is B fixed-length examples in row-major Go memory, the layout of
// schemas.ExampleBatch (electra.examples.v1): ids and segments are
// [Size*SeqLen], padded with the pad id past each example's length.
type Batch struct {
	Size, SeqLen int
	IDs          []int32 // [Size*SeqLen]
	Segments     []int8  // [Size*SeqLen], 0 or 1
	Lengths      []int16 // [Size], tokens before padding
}

// Tokens is the number of non-padding tokens.
func (b Batch) Tokens() int {
	n := 0
	for _, l := range b.Lengths {
		n += int(l)
	}
	return n
}

// Validate checks shapes and ranges against the model's configuration, so
// a bad batch fails with a message instead of a libtorch index error.
func (b Batch) Validate(c Config) error {
	n := b.Size * b.SeqLen
	switch {
	case b.Size <= 0 || b.SeqLen <= 0:
		return fmt.Errorf("batch: size %d x seq_len %d, both must be > 0", b.Size, b.SeqLen)
	case b.SeqLen > c.MaxPositions:
		return fmt.Errorf("batch: seq_len %d exceeds the model's %d positions", b.SeqLen, c.MaxPositions)
	case len(b.IDs) != n || len(b.Segments) != n || len(b.Lengths) != b.Size:
		return fmt.Errorf("batch: %d ids, %d segments, %d lengths for %d x %d", len(b.IDs), len(b.Segments), len(b.Lengths), b.Size, b.SeqLen)
	}
	for i, l := range b.Lengths {
		if l < 0 || int(l) > b.SeqLen {
			return fmt.Errorf("batch: example %d has length %d outside [0, %d]", i, l, b.SeqLen)
		}
	}
	for i, id := range b.IDs {
		if id < 0 || int(id) >= c.VocabSize {
			return fmt.Errorf("batch: example %d position %d has token id %d outside the vocabulary [0, %d)", i/b.SeqLen, i%b.SeqLen, id, c.VocabSize)
		}
	}
	for i, sg := range b.Segments {
		if sg < 0 || int(sg) >= c.TypeVocabSize {
			return fmt.Errorf("batch: example %d position %d has segment %d outside [0, %d)", i/b.SeqLen, i%b.SeqLen, sg, c.TypeVocabSize)
		}
	}
	return nil
}

// Position is where a Source stands, in the source's own words (a file and
// row, Kafka partition offsets, ...). The trainer stores the position of
// the last batch a checkpoint includes and hands it back to the source on
// resume; it never looks inside.
type Position string

// Source yields training batches. Next blocks until a batch is ready, the
// context ends, or the data does (io.EOF). The returned Position
// identifies the batch just returned: resuming from it yields the batch
// after it.
type Source interface {
	Next(ctx context.Context) (Batch, Position, error)
}
