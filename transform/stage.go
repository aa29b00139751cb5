package transform

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/pack"
	"github.com/electra-go/electra/transform/wordpiece"
)

// Position locates one input record: a Kafka topic/partition/offset, or a
// file (Topic), 0, line number.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
	// Generation is the consumer-group generation the record was fetched
	// in (0 for files). It is not part of batch ids.
	Generation int32
}

// Record is one input document message and where it came from.
type Record struct {
	Position
	Key   []byte
	Value []byte // electra.doc.v1 JSON
	// Cut, on the first record of a chunk, is where an earlier run ended
	// that chunk on idle (see CutRecorder): the stage ends it there again,
	// whatever the timing now, so its batches get the same ids.
	Cut Cut
	// fetched is the KafkaInput response that Key and Value lie in, if
	// they do (Recycle releases it).
	fetched *fetchBuf
}

// Cut is the recorded end of a chunk that was sealed on idle.
type Cut struct {
	Through  int64 // offset of the chunk's last record
	Recorded bool
}

// Input is where documents come from. Like a Benthos input, it learns that
// records are done only through Commit, which the stage calls after the
// output has acknowledged everything built from them.
type Input interface {
	// Next returns the next record, or io.EOF when a finite input ends.
	Next(ctx context.Context) (Record, error)
	// Commit marks every record of through.Topic/Partition up to and
	// including through.Offset as done.
	Commit(ctx context.Context, through Position) error
}

// CutRecorder is an Input that can make an idle seal reproducible. A chunk
// sealed by size ends at the same record on every replay; one sealed on
// idle ends wherever the data paused, which a replay after a crash (with
// more data behind it and no pause) would not repeat, publishing the same
// examples under new batch ids. So before such a chunk is written, the
// stage calls RecordCut, which must store the chunk's end durably with
// the partition's progress; when the partition is delivered again from
// first, the input sets Record.Cut on the record at first.Offset, and the
// stage seals the chunk at that end again.
type CutRecorder interface {
	// RecordCut records that the chunk starting at first ends at through.
	// Every record before first must already be done. It returns an error
	// wrapping ErrFenced when the partition no longer belongs to
	// first.Generation.
	RecordCut(ctx context.Context, first, through Position) error
}

// Recycler is an Input that reuses the memory of its records: the stage
// calls Recycle once it is done with a record's Key and Value (after
// decoding and tokenizing it), and does not touch them afterwards.
type Recycler interface {
	Recycle(Record)
}

// ErrFenced means a consumer-group generation has lost its partitions: its
// commits are refused, and whatever it has not committed will be
// delivered to the partitions' new owner.
var ErrFenced = errors.New("the consumer-group generation no longer owns the partition")

// Batch is one output message: up to BatchRows examples under a
// deterministic id.
type Batch struct {
	ID       string
	Examples []schemas.Example
}

// Chunk is the unit of delivery: the examples built from a contiguous run
// of records of one partition, shuffled and cut into batches, plus the dead
// letters of that run. Through is the last record it covers.
type Chunk struct {
	First, Through Position
	Batches        []Batch
	Dead           []schemas.DeadLetter
	Documents      int
	Stats          pack.Stats
	// Idle is set when timing, not size, decided where the chunk ends: the
	// partition went idle, or an earlier run's idle seal was recorded
	// there. Its end is recorded (CutRecorder) before it is written.
	Idle bool

	// The memory of the batches' examples, reused once the chunk is
	// written.
	arena    *pack.Arena
	examples []schemas.Example
}

// Output is where chunks go. Write returns nil only once every batch and
// dead letter of the chunk is acknowledged (by the broker, or written to
// the dataset files); only then are the chunk's records committed. Write
// must not keep the chunk's examples after it returns: the stage reuses
// their memory for the next chunks.
type Output interface {
	Write(ctx context.Context, c *Chunk) error
}

// Config configures a Stage. Zero values are defaults.
type Config struct {
	// MaxSeqLength is L; default 128.
	MaxSeqLength int
	// Seed for packing and shuffling; the same seed and input give the
	// same batches. Default 0 (a valid seed).
	Seed uint64
	// Workers is the number of tokenizer goroutines; default GOMAXPROCS.
	Workers int
	// BatchRows is the number of examples per output message; default 1024.
	BatchRows int
	// ShuffleExamples is the shuffle buffer: a chunk is sealed once it holds
	// this many examples, then shuffled and cut into batches. Larger mixes
	// examples of more documents into each batch (an example's neighbours
	// come from ~ShuffleExamples/examples-per-document documents) at the
	// cost of ShuffleExamples*L*5 bytes per partition in flight and more
	// records redelivered after a crash. Default 8192 (8 batches; 5 MiB at
	// L=128).
	ShuffleExamples int
	// FlushIdle seals open chunks when no record arrived for this long, so
	// the tail of a quiet topic is not held back. Default 2s. Such a chunk
	// ends where the data paused, which a replay would not repeat; with an
	// input that implements CutRecorder (KafkaInput) its end is recorded
	// before it is written, and a replay after a crash seals it at the same
	// record, so its batches keep their ids as size-sealed ones do. With
	// other inputs an idle-sealed chunk may be cut differently on a replay
	// (new batch ids).
	FlushIdle time.Duration
	// Queue bounds records in flight between reading and packing; default
	// 8 per worker. Deeper only spreads the records and their tokens over
	// more memory than the core's cache holds: with 64 per worker, Stage.Run
	// over documents in memory reached 0.72 of WordPiece alone, with 8 0.74
	// (2 cost more in switching goroutines: 0.68; five interleaved rounds).
	Queue int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxSeqLength == 0 {
		c.MaxSeqLength = 128
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 1024
	}
	if c.ShuffleExamples <= 0 {
		c.ShuffleExamples = 8 * c.BatchRows
	}
	if c.FlushIdle <= 0 {
		c.FlushIdle = 2 * time.Second
	}
	if c.Queue <= 0 {
		c.Queue = 8 * c.Workers
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Totals are the stage's running counts.
type Totals struct {
	Records int64 // documents in acknowledged chunks, valid or not
	Dead    int64
	Batches int64
	Pack    pack.Stats
	Commits int64
}

// Stage runs documents through tokenizer and packer into an Output.
type Stage struct {
	cfg Config
	tok *wordpiece.Tokenizer
	// exFree holds the example slices of written chunks for the next ones,
	// tokFree the token buffers of packed documents.
	exFree  chan []schemas.Example
	tokFree *sizeClasses[*docTokens]

	mu     sync.Mutex
	totals Totals
	// moved is closed, and replaced, whenever totals change (WaitTotals).
	moved chan struct{}
}

// New returns a Stage. tok is shared by the tokenizer goroutines.
func New(cfg Config, tok *wordpiece.Tokenizer) (*Stage, error) {
	cfg.defaults()
	// Uncompressed size of a batch; LZ4 only shrinks it, but a message
	// must fit the broker's limit even for incompressible ids.
	if size := cfg.BatchRows * cfg.MaxSeqLength * 5; size > broker.MaxMessageBytes {
		return nil, fmt.Errorf("transform: BatchRows %d at MaxSeqLength %d makes %d-byte messages, over the %d-byte limit; lower --batch-rows", cfg.BatchRows, cfg.MaxSeqLength, size, broker.MaxMessageBytes)
	}
	sp := tok.Specials()
	if _, err := pack.New(pack.Config{MaxSeqLength: cfg.MaxSeqLength, CLS: sp.CLS, SEP: sp.SEP}); err != nil {
		return nil, err
	}
	return &Stage{cfg: cfg, tok: tok, exFree: make(chan []schemas.Example, 4), tokFree: newSizeClasses[*docTokens](minTokensShift, tokenClasses, func(size int) int {
		return max(1, min(cfg.Queue+cfg.Workers, tokenClassBytes/(4*size)))
	})}, nil
}

// Meta is the schema metadata of the stage's batches.
func (s *Stage) Meta() schemas.ExamplesMeta {
	return schemas.ExamplesMeta{MaxSeqLength: s.cfg.MaxSeqLength, VocabSHA256: s.tok.SHA256(), Tokenizer: TokenizerName}
}

// TokenizerName goes into the schema metadata.
const TokenizerName = "electra-go/wordpiece (BERT basic + WordPiece, HuggingFace-exact)"

// Totals returns a snapshot of the running counts.
func (s *Stage) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals
}

// WaitTotals blocks until done holds for the running counts, and returns
// them, or until ctx ends. It wakes once per acknowledged chunk rather than
// on a timer: callers waiting for a stream to be through (tests, the
// throughput benchmark) would otherwise poll, and on a virtual machine each
// timer wake-up costs the process tens of microseconds of CPU.
func (s *Stage) WaitTotals(ctx context.Context, done func(Totals) bool) (Totals, error) {
	for {
		s.mu.Lock()
		t := s.totals
		if s.moved == nil {
			s.moved = make(chan struct{})
		}
		moved := s.moved
		s.mu.Unlock()
		if done(t) {
			return t, nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return t, ctx.Err()
		}
	}
}

// changed wakes WaitTotals; s.mu is held.
func (s *Stage) changed() {
	if s.moved != nil {
		close(s.moved)
		s.moved = nil
	}
}

// tokenized is a worker's result for one record.
type tokenized struct {
	rec  Record
	doc  pack.Doc
	dead *schemas.DeadLetter
	// toks holds doc.Sentences; it goes back to the stage's free list once
	// the document is packed (the packer copies what it keeps).
	toks *docTokens
}

// docTokens is the storage of a tokenized document. Recycled, the token
// buffer of the last documents is still in cache when the next ones are
// tokenized into it, where a fresh one per document (as large as its
// text) cost the stage's tokenizing a third more than the tokenizer alone.
// They are kept in size classes (sizeClasses).
type docTokens struct {
	flat  []int32
	ends  []int
	sents [][]int32
}

const (
	// Token buffers hold 4Ki tokens to 1Mi tokens (16 KiB to 4 MiB), in
	// powers of two; a document with more gets one of its own.
	minTokensShift = 12
	tokenClasses   = 9
	// tokenClassBytes bounds the idle buffers of each size: at most 8
	// MiB of each, and no more than the documents in flight.
	tokenClassBytes = 8 << 20
)

// docTokens returns a buffer for a document of about n tokens.
func (s *Stage) docTokens(n int) *docTokens {
	c, ok := s.tokFree.fit(n)
	if !ok {
		return new(docTokens)
	}
	if t, ok := s.tokFree.get(c); ok {
		return t
	}
	return &docTokens{flat: make([]int32, 0, s.tokFree.size(c))}
}

func (s *Stage) releaseTokens(t *docTokens) {
	if t == nil {
		return
	}
	c, ok := s.tokFree.exact(cap(t.flat))
	if !ok {
		return // grown past its class by a document longer than estimated
	}
	clear(t.sents) // drop references to flat
	s.tokFree.put(c, t)
}

type job struct {
	rec  Record
	done chan tokenized
}

// Run reads in until it ends (io.EOF) or ctx is cancelled, writing chunks
// to out and committing them. On cancellation it returns ctx's error
// without sealing partial chunks: their records are not committed and
// will be redelivered.
func (s *Stage) Run(ctx context.Context, in Input, out Output) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobs := make(chan job, s.cfg.Queue)
	ordered := make(chan chan tokenized, s.cfg.Queue)
	chunks := make(chan *Chunk, 2)
	var wg sync.WaitGroup

	// Reader: one goroutine, preserves input order through `ordered`.
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ordered)
		defer close(jobs)
		for {
			rec, err := in.Next(ctx)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
					cancel(err)
				}
				return
			}
			done := make(chan tokenized, 1)
			select {
			case jobs <- job{rec: rec, done: done}:
			case <-ctx.Done():
				return
			}
			select {
			case ordered <- done:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Tokenizers.
	recycler, _ := in.(Recycler)
	for w := 0; w < s.cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch docScratch
			for j := range jobs {
				t := s.tokenize(j.rec, &scratch)
				// The document's text is tokenized, and what the chunk
				// keeps of it (ids, source, dead letters) are copies.
				t.rec.Key, t.rec.Value = nil, nil
				if recycler != nil {
					recycler.Recycle(j.rec)
				}
				j.done <- t
			}
		}()
	}

	// Sink: writes chunks in order and commits after each is acknowledged.
	// In order matters for idle seals too: when a chunk's cut is recorded,
	// every chunk before it of its partition has been written.
	cuts, _ := in.(CutRecorder)
	var sinkErr error
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		fenced := int32(-1) // a generation that lost its partitions
		for c := range chunks {
			if sinkErr != nil {
				continue // drain so the assembler never blocks
			}
			if c.First.Generation <= fenced {
				continue // its records go to the partitions' new owner
			}
			if c.Idle && cuts != nil {
				if err := cuts.RecordCut(ctx, c.First, c.Through); err != nil {
					if errors.Is(err, ErrFenced) {
						// Unrecorded, the cut could not be repeated by the
						// new owner; written anyway, these examples would
						// appear twice under different ids. Later chunks of
						// this generation are skipped too: this one's
						// records are not done, so theirs cannot be
						// committed after them.
						s.cfg.Logger.Info("transform: partition moved before an idle-sealed chunk was written; leaving it to the new owner", "topic", c.First.Topic, "partition", c.First.Partition, "from", c.First.Offset, "through", c.Through.Offset, "generation", c.First.Generation)
						fenced = c.First.Generation
						continue
					}
					sinkErr = fmt.Errorf("transform: recording the end of idle-sealed chunk %s/%d/%d-%d: %w", c.First.Topic, c.First.Partition, c.First.Offset, c.Through.Offset, err)
					cancel(sinkErr)
					continue
				}
			}
			if err := out.Write(ctx, c); err != nil {
				sinkErr = fmt.Errorf("transform: writing chunk %s/%d/%d-%d: %w", c.First.Topic, c.First.Partition, c.First.Offset, c.Through.Offset, err)
				cancel(sinkErr)
				continue
			}
			err := in.Commit(ctx, c.Through)
			if err != nil {
				// At-least-once: a failed commit (e.g. the partition moved
				// to another member in a rebalance) means redelivery, and
				// the redelivered batches carry the same ids.
				s.cfg.Logger.Warn("transform: commit failed; records will be redelivered", "topic", c.Through.Topic, "partition", c.Through.Partition, "offset", c.Through.Offset, "err", err)
			}
			// One update of the counts per chunk, so that a waiter never
			// sees its commit without its records.
			s.mu.Lock()
			if err == nil {
				s.totals.Commits++
			}
			s.totals.Batches += int64(len(c.Batches))
			s.totals.Dead += int64(len(c.Dead))
			s.totals.Records += int64(c.Documents)
			s.totals.Pack.Add(c.Stats)
			s.changed()
			s.mu.Unlock()
			s.release(c)
		}
	}()

	active := func(int32) bool { return true }
	if g, ok := in.(interface{ Active(int32) bool }); ok {
		active = g.Active
	}
	asmErr := s.assemble(ctx, ordered, chunks, active)
	close(chunks)
	<-sinkDone
	cancel(nil)
	wg.Wait()
	switch {
	case sinkErr != nil:
		return sinkErr
	case readErr != nil:
		return fmt.Errorf("transform: reading input: %w", readErr)
	case asmErr != nil:
		return asmErr
	}
	return nil
}

// tokenize decodes and validates one document and tokenizes its sentences
// into one flat buffer. scratch is the calling goroutine's memory for
// decoding (see decodeDocument).
func (s *Stage) tokenize(rec Record, scratch *docScratch) tokenized {
	doc, err := decodeDocument(rec.Value, scratch)
	if err != nil {
		reason := "invalid-document"
		var fe *schemas.FieldError
		if errors.As(err, &fe) {
			reason = "invalid-field-" + fe.Field
		}
		return tokenized{rec: rec, dead: &schemas.DeadLetter{
			Stage: "transform", Reason: reason, Error: err.Error(), RecordID: string(rec.Key),
			Topic: rec.Topic, Partition: int32(rec.Partition), KafkaOffset: rec.Offset, Offset: rec.Offset,
			Excerpt: schemas.Excerpt(rec.Value),
		}}
	}
	// ~4 bytes of English per token: the buffer rarely grows mid-document.
	t := s.docTokens(scratch.textLen/4 + 16)
	t.flat = t.flat[:0]
	t.ends = t.ends[:0]
	for _, line := range scratch.sents {
		t.flat = s.tok.Encode(t.flat, line)
		t.ends = append(t.ends, len(t.flat))
	}
	t.sents = t.sents[:0]
	start := 0
	for _, end := range t.ends {
		t.sents = append(t.sents, t.flat[start:end:end])
		start = end
	}
	return tokenized{rec: rec, doc: pack.Doc{ID: doc.ID, Source: doc.Source, Sentences: t.sents}, toks: t}
}

// open is a chunk being filled for one partition.
type open struct {
	first, last Position
	examples    []schemas.Example
	arena       pack.Arena // holds the examples' tokens
	dead        []schemas.DeadLetter
	docs        int
	stats       pack.Stats
	// cut is where an earlier run sealed this chunk on idle: it ends there
	// again, and idleness does not seal it before.
	cut Cut
}

type partKey struct {
	topic     string
	partition int
}

// assemble packs tokenized documents in input order into per-partition
// chunks and seals them by size, on idle, and at the end of input.
//
// active says whether a consumer-group generation still owns its
// partitions. Chunks are sealed on idle only while it does: during a
// rebalance the partitions may go to another member, which rebuilds the
// chunk from the committed offset with a size-determined end; an
// idle-sealed copy here would duplicate those examples under other ids.
func (s *Stage) assemble(ctx context.Context, ordered <-chan chan tokenized, chunks chan<- *Chunk, active func(int32) bool) error {
	sp := s.tok.Specials()
	pk, err := pack.New(pack.Config{MaxSeqLength: s.cfg.MaxSeqLength, Seed: s.cfg.Seed, CLS: sp.CLS, SEP: sp.SEP})
	if err != nil {
		return err
	}
	parts := map[partKey]*open{}
	var generation int32
	seal := func(k partKey, idle bool) error {
		o := parts[k]
		delete(parts, k)
		if o == nil || o.docs == 0 {
			return nil
		}
		c := s.seal(o)
		c.Idle = idle
		select {
		case chunks <- c:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	// sealAll seals every open chunk at the end of a finite input, or on
	// idle. A chunk waiting for its recorded cut is not sealed on idle: its
	// records up to the cut are in the log, and sealing it earlier would
	// give its examples other batch ids than the run that recorded it.
	sealAll := func(idle bool) error {
		for k, o := range parts {
			if idle && o.cut.Recorded {
				continue
			}
			if err := seal(k, idle); err != nil {
				return err
			}
		}
		return nil
	}
	idle := time.NewTimer(s.cfg.FlushIdle)
	defer idle.Stop()
	for {
		var fut chan tokenized
		var ok bool
		select {
		case fut, ok = <-ordered:
		case <-idle.C:
			if !active(generation) {
				idle.Reset(s.cfg.FlushIdle)
				continue
			}
			if err := sealAll(true); err != nil {
				return err
			}
			idle.Reset(s.cfg.FlushIdle)
			continue
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if !ok {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return sealAll(false) // end of a finite input
		}
		var t tokenized
		select {
		case t = <-fut:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(s.cfg.FlushIdle)

		switch g := t.rec.Generation; {
		case g < generation:
			continue // fetched before a rebalance; the new owner has it
		case g > generation:
			// A rebalance: partitions may have moved. Unsealed chunks are
			// not committed, so their records will be delivered again to
			// whoever owns them now; emitting them here as well would
			// duplicate them under other batch ids.
			if len(parts) > 0 {
				s.cfg.Logger.Info("transform: new group generation; dropping unsealed chunks", "generation", g, "chunks", len(parts))
			}
			clear(parts)
			generation = g
		}
		k := partKey{t.rec.Topic, t.rec.Partition}
		o := parts[k]
		if o != nil && t.rec.Offset <= o.last.Offset {
			// The input went back (a rebalance handed this partition back
			// from its committed offset): what we hold will be redelivered,
			// so drop it rather than emit it twice under other ids.
			s.cfg.Logger.Info("transform: partition rewound; dropping uncommitted chunk", "topic", k.topic, "partition", k.partition, "from", o.first.Offset, "to", o.last.Offset, "now", t.rec.Offset)
			o = nil
		}
		if o != nil && o.cut.Recorded && t.rec.Offset > o.cut.Through {
			// The recorded last record is gone from the log (retention,
			// compaction): end the chunk where it would have ended.
			if err := seal(k, true); err != nil {
				return err
			}
			o = nil
		}
		if o == nil {
			o = &open{first: t.rec.Position}
			if c := t.rec.Cut; c.Recorded && c.Through >= t.rec.Offset {
				o.cut = c
			}
			parts[k] = o
		}
		o.last = t.rec.Position
		o.docs++
		if t.dead != nil {
			o.dead = append(o.dead, *t.dead)
		} else {
			if o.examples == nil {
				o.examples = s.examplesBuf()
			}
			var st pack.Stats
			o.examples, st = pk.AppendPacked(o.examples, t.doc, &o.arena)
			o.stats.Add(st)
			s.releaseTokens(t.toks)
		}
		switch {
		case o.cut.Recorded && t.rec.Offset >= o.cut.Through:
			if err := seal(k, true); err != nil {
				return err
			}
		case len(o.examples) >= s.cfg.ShuffleExamples:
			if err := seal(k, false); err != nil {
				return err
			}
		}
	}
}

// ChunkPrefix is the deterministic id prefix of a chunk's batches:
// topic/partition/first-last. Batch i of n is "<prefix>/<i>".
func ChunkPrefix(first, through Position) string {
	return fmt.Sprintf("%s/%d/%d-%d", first.Topic, first.Partition, first.Offset, through.Offset)
}

// seal shuffles a chunk's examples with a generator seeded by the stage
// seed and the chunk's start, and cuts them into batches.
func (s *Stage) seal(o *open) *Chunk {
	prefix := ChunkPrefix(o.first, o.last)
	h := fnv.New64a()
	h.Write([]byte(prefix))
	rng := rand.New(rand.NewPCG(s.cfg.Seed, h.Sum64()))
	rng.Shuffle(len(o.examples), func(i, j int) { o.examples[i], o.examples[j] = o.examples[j], o.examples[i] })
	c := &Chunk{First: o.first, Through: o.last, Dead: o.dead, Documents: o.docs, Stats: o.stats, arena: &o.arena, examples: o.examples}
	for i := 0; i < len(o.examples); i += s.cfg.BatchRows {
		end := min(i+s.cfg.BatchRows, len(o.examples))
		c.Batches = append(c.Batches, Batch{ID: fmt.Sprintf("%s/%d", prefix, len(c.Batches)), Examples: o.examples[i:end]})
	}
	return c
}

// examplesBuf returns an empty slice for a chunk's examples, with room for
// a chunk sealed by size (up to a bound: a huge ShuffleExamples grows it
// as needed instead).
func (s *Stage) examplesBuf() []schemas.Example {
	select {
	case ex := <-s.exFree:
		return ex
	default:
		return make([]schemas.Example, 0, min(s.cfg.ShuffleExamples+s.cfg.BatchRows, 1<<15))
	}
}

// release recycles the memory of a written chunk's examples.
func (s *Stage) release(c *Chunk) {
	if c.arena != nil {
		c.arena.Release()
	}
	if c.examples != nil {
		clear(c.examples) // let go of the document ids
		select {
		case s.exFree <- c.examples[:0]:
		default:
		}
	}
	c.Batches, c.arena, c.examples = nil, nil, nil
}
