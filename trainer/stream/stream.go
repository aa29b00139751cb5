// Package stream feeds the trainer from the examples topic: a Kafka
// consumer group member that decodes Arrow IPC batches in background
// goroutines, keeps a prefetch queue of ready batches so a step never waits
// on Kafka or decoding, drops redelivered batches by id, and tracks the
// exact position (per partition: offset and row) that a checkpoint stores.
//
// Delivery discipline: offsets are committed to Kafka only through Commit,
// which the trainer calls after a checkpoint is durable; on restart the
// checkpoint's position wins over whatever the group has committed.
//
// Order: batches are taken round-robin over the assigned partitions in
// partition order, one message at a time. With the data already in the
// topic this order is a function of the topic alone, which is what makes a
// resumed run bit-identical to an uninterrupted one. A partition with no
// data waits up to Config.PartitionWait before being skipped: on a live,
// unevenly filled stream that keeps training going at the cost of exact
// reproducibility (logged when it happens).
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/metrics"
)

// Config configures a Source. Zero values take the defaults noted.
type Config struct {
	Broker broker.Config
	// Topic is the examples topic; default electra.examples.v1.
	Topic string
	// Group is the consumer group; default electra-trainer.
	Group string
	// BatchSize is examples per training batch; required. Messages are
	// re-batched: a message's rows may span batches and a batch messages.
	BatchSize int
	// Prefetch is decoded messages queued per partition; default 8.
	Prefetch int
	// Decoders are goroutines decoding Arrow IPC; default 2.
	Decoders int
	// PartitionWait is how long the round-robin waits on an empty
	// partition before skipping it; default 2 s. 0 keeps the default;
	// negative waits forever (strict order, for reproducibility tests).
	PartitionWait time.Duration
	// SessionTimeout of the group membership; default 10 s.
	SessionTimeout time.Duration
	// Done, when set, reports that nothing more will be produced (the
	// upstream stages have finished). Once it is true and a full round of
	// partitions has been idle for PartitionWait each, Next returns io.EOF
	// and the trainer stops with what it has.
	Done func() bool
	// Prom receives counters and lag (optional).
	Prom *metrics.Prom
	// OnBadMessage receives messages that are not valid example batches
	// (after they are counted and logged); e.g. a dead-letter writer.
	OnBadMessage func(m kafka.Message, err error)
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Topic == "" {
		c.Topic = schemas.ExamplesSchemaName
	}
	if c.Group == "" {
		c.Group = "electra-trainer"
	}
	if c.BatchSize <= 0 {
		return fmt.Errorf("stream: BatchSize %d, want > 0", c.BatchSize)
	}
	if c.Prefetch <= 0 {
		c.Prefetch = 8
	}
	if c.Decoders <= 0 {
		c.Decoders = 2
	}
	if c.PartitionWait == 0 {
		c.PartitionWait = 2 * time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c.Broker.Validate()
}

// cursor is where one partition stands: the offset of the first message
// with rows not yet handed out, and how many of its rows were.
type cursor struct {
	Partition int   `json:"p"`
	Offset    int64 `json:"o"`
	Row       int   `json:"r"`
}

// position is what trainer.Position holds for this source.
type position struct {
	Version int      `json:"v"`
	Topic   string   `json:"topic"`
	Next    int      `json:"next"` // partition the round-robin takes from next
	Parts   []cursor `json:"parts"`
	// Seen are recent batch ids (64-bit hashes), so that a resumed run
	// drops the same duplicates the uninterrupted run would have.
	Seen []uint64 `json:"seen,omitempty"`
}

// seenWindow is how many recent batch ids are remembered for dedup: a
// redelivery comes from a transform worker restarting, which replays at
// most its uncommitted tail, far fewer batches than this.
const seenWindow = 4096

// ParsePosition decodes a position a Source produced (for tools and tests).
func ParsePosition(p trainer.Position) (offsets map[int]int64, err error) {
	pos, err := parsePosition(p)
	if err != nil {
		return nil, err
	}
	offsets = map[int]int64{}
	for _, c := range pos.Parts {
		offsets[c.Partition] = c.Offset
	}
	return offsets, nil
}

func parsePosition(p trainer.Position) (position, error) {
	var pos position
	if p == "" {
		return pos, nil
	}
	if err := json.Unmarshal([]byte(p), &pos); err != nil {
		return pos, fmt.Errorf("stream position %q: %w (was the checkpoint written by a file-based run?)", truncate(string(p), 80), err)
	}
	if pos.Version != 1 {
		return pos, fmt.Errorf("stream position: version %d, want 1", pos.Version)
	}
	return pos, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decoded is one message after decoding, in partition order.
type decoded struct {
	msg     kafka.Message
	batch   *schemas.ExampleBatch
	batchID uint64
	err     error
}

// partition feeds one assigned partition: a reader goroutine fetches
// messages and hands them to the shared decoders; results come back in
// offset order through ready.
type partition struct {
	id     int
	reader *kafka.Reader
	ready  chan chan decoded // in offset order; each inner channel gets one result
	cur    *decoded          // message being consumed
	row    int               // rows of cur already handed out
	hwm    atomic.Int64
	// start and startRow are where this partition began (resume position
	// or committed offset): its position until a message is taken.
	start    int64
	startRow int
}

// Source is a trainer.Source reading the examples topic as a member of a
// consumer group.
type Source struct {
	cfg   Config
	log   *slog.Logger
	group *kafka.ConsumerGroup
	gen   *kafka.Generation

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	jobs   chan decodeJob

	parts []*partition // sorted by id
	next  int          // index into parts

	seen     map[uint64]struct{}
	seenFIFO []uint64

	seqLen       int
	lastIdleWarn time.Time

	mu       sync.Mutex
	waited   time.Duration
	lastTake time.Time
	errs     chan error
}

type decodeJob struct {
	msg kafka.Message
	out chan decoded
}

// Open joins the group, waits for an assignment and starts reading at the
// resume position (for partitions it names) or the group's committed
// offsets (else the beginning). resume is the position a checkpoint
// stored, or "" for a fresh run.
func Open(ctx context.Context, cfg Config, resume trainer.Position) (*Source, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	pos, err := parsePosition(resume)
	if err != nil {
		return nil, err
	}
	if pos.Topic != "" && pos.Topic != cfg.Topic {
		return nil, fmt.Errorf("stream: the checkpoint's position is on topic %q, this run reads %q; resume with the same topic or start a new run directory", pos.Topic, cfg.Topic)
	}
	if err := cfg.Broker.Security.Check(ctx, cfg.Broker.Brokers); err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	dialer, err := cfg.Broker.Dialer()
	if err != nil {
		return nil, err
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:             cfg.Group,
		Brokers:        cfg.Broker.Brokers,
		Dialer:         dialer,
		Topics:         []string{cfg.Topic},
		StartOffset:    kafka.FirstOffset,
		SessionTimeout: cfg.SessionTimeout,
		// Kafka's default rebalance timeout is a minute: a member that
		// died without leaving would hold its partitions that long.
		RebalanceTimeout: cfg.SessionTimeout,
		Timeout:          10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: join group %s on topic %s: %w", cfg.Group, cfg.Topic, err)
	}
	gen, err := group.Next(ctx)
	if err != nil {
		group.Close()
		return nil, fmt.Errorf("stream: join group %s on topic %s: %w", cfg.Group, cfg.Topic, err)
	}
	assigned := gen.Assignments[cfg.Topic]
	if len(assigned) == 0 {
		group.Close()
		return nil, fmt.Errorf("stream: group %s gave this trainer no partition of %s (more trainers than partitions? add partitions or stop a trainer)", cfg.Group, cfg.Topic)
	}
	rctx, cancel := context.WithCancel(context.Background())
	s := &Source{
		cfg: cfg, log: cfg.Logger.With("component", "stream", "topic", cfg.Topic, "group", cfg.Group),
		group: group, gen: gen, ctx: rctx, cancel: cancel,
		jobs: make(chan decodeJob, cfg.Prefetch*len(assigned)),
		seen: map[uint64]struct{}{}, errs: make(chan error, 1),
	}
	for _, id := range pos.Seen {
		s.remember(id)
	}
	byID := map[int]cursor{}
	for _, c := range pos.Parts {
		byID[c.Partition] = c
	}
	slices.SortFunc(assigned, func(a, b kafka.PartitionAssignment) int { return a.ID - b.ID })
	for _, a := range assigned {
		off, skip := a.Offset, 0
		if c, ok := byID[a.ID]; ok {
			off, skip = c.Offset, c.Row
		}
		if off < 0 {
			off = kafka.FirstOffset
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: cfg.Broker.Brokers, Topic: cfg.Topic, Partition: a.ID, Dialer: dialer,
			MinBytes: 1, MaxBytes: broker.MaxMessageBytes, MaxWait: 250 * time.Millisecond,
			QueueCapacity: cfg.Prefetch,
		})
		if err := r.SetOffset(off); err != nil {
			s.Close()
			return nil, fmt.Errorf("stream: seek %s[%d] to %d: %w", cfg.Topic, a.ID, off, err)
		}
		p := &partition{id: a.ID, reader: r, ready: make(chan chan decoded, cfg.Prefetch), row: skip, start: off, startRow: skip}
		s.parts = append(s.parts, p)
		s.log.Info("partition assigned", "partition", a.ID, "offset", off, "skip_rows", skip)
	}
	for i, p := range s.parts {
		if p.id == pos.Next {
			s.next = i
		}
	}
	for range cfg.Decoders {
		s.wg.Go(s.decodeLoop)
	}
	for _, p := range s.parts {
		s.wg.Go(func() { s.fetchLoop(p) })
	}
	// A rebalance ends the generation; this member's view of its
	// partitions is then stale, and continuing would train on data another
	// member also reads. Stop with an error that says what to do.
	gen.Start(func(gctx context.Context) {
		select {
		case <-gctx.Done():
			if rctx.Err() == nil {
				s.fail(errors.New("stream: the consumer group rebalanced (a trainer joined or left); restart this trainer: it resumes from its last checkpoint"))
			}
		case <-rctx.Done():
		}
	})
	return s, nil
}

func (s *Source) fail(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

func (s *Source) fetchLoop(p *partition) {
	defer close(p.ready)
	for {
		m, err := p.reader.FetchMessage(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil {
				s.fail(fmt.Errorf("stream: read %s[%d]: %w", s.cfg.Topic, p.id, s.cfg.Broker.Security.Explain(s.cfg.Broker.Brokers[0], err)))
			}
			return
		}
		out := make(chan decoded, 1)
		select {
		case s.jobs <- decodeJob{msg: m, out: out}:
		case <-s.ctx.Done():
			return
		}
		select {
		case p.ready <- out:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Source) decodeLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.jobs:
			d := decoded{msg: j.msg}
			d.batch, d.err = schemas.DecodeExamplesMessage(j.msg.Value)
			for _, h := range j.msg.Headers {
				if h.Key == schemas.ExamplesHeaderBatchID {
					f := fnv.New64a()
					f.Write(h.Value)
					d.batchID = f.Sum64()
				}
			}
			j.out <- d
		}
	}
}

// take returns the next usable message of p, waiting up to wait (negative:
// forever). ok is false when p had nothing in time.
func (s *Source) take(ctx context.Context, p *partition, wait time.Duration) (ok bool, err error) {
	for p.cur == nil || p.row >= p.cur.batch.Rows {
		if p.cur != nil {
			p.start, p.startRow = p.cur.msg.Offset+1, 0
			p.cur, p.row = nil, 0
		}
		var timer <-chan time.Time
		if wait >= 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		var out chan decoded
		select {
		case out = <-p.ready:
		case <-timer:
			return false, nil
		case err := <-s.errs:
			s.fail(err)
			return false, err
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if out == nil {
			return false, s.stoppedErr()
		}
		d := <-out
		if s.cfg.Prom != nil {
			s.cfg.Prom.Batches.Inc()
			s.cfg.Prom.SetLag(p.id, d.msg.HighWaterMark-d.msg.Offset-1)
		}
		switch {
		case d.err != nil:
			s.log.Error("dropping a message that is not a valid example batch", "partition", p.id, "offset", d.msg.Offset, "err", d.err)
			if s.cfg.Prom != nil {
				s.cfg.Prom.BadBatches.Inc()
			}
			if s.cfg.OnBadMessage != nil {
				s.cfg.OnBadMessage(d.msg, d.err)
			}
			continue
		case d.batchID != 0 && s.isSeen(d.batchID) && p.row == 0:
			s.log.Debug("dropping a redelivered batch", "partition", p.id, "offset", d.msg.Offset)
			if s.cfg.Prom != nil {
				s.cfg.Prom.Duplicates.Inc()
			}
			continue
		case s.seqLen != 0 && d.batch.Meta.MaxSeqLength != s.seqLen:
			return false, fmt.Errorf("stream: %s[%d] offset %d has max_seq_length %d, earlier batches %d; one run needs one sequence length (new topic or new run)", s.cfg.Topic, p.id, d.msg.Offset, d.batch.Meta.MaxSeqLength, s.seqLen)
		}
		s.seqLen = d.batch.Meta.MaxSeqLength
		if d.batchID != 0 {
			s.remember(d.batchID)
		}
		p.cur = &d
		p.hwm.Store(d.msg.HighWaterMark)
	}
	return true, nil
}

func (s *Source) stoppedErr() error {
	select {
	case err := <-s.errs:
		s.fail(err)
		return err
	default:
		return errors.New("stream: closed")
	}
}

func (s *Source) isSeen(id uint64) bool { _, ok := s.seen[id]; return ok }

func (s *Source) remember(id uint64) {
	if _, ok := s.seen[id]; ok {
		return
	}
	s.seen[id] = struct{}{}
	s.seenFIFO = append(s.seenFIFO, id)
	if len(s.seenFIFO) > seenWindow {
		delete(s.seen, s.seenFIFO[0])
		s.seenFIFO = s.seenFIFO[1:]
	}
}

// Next assembles the next training batch of BatchSize examples, taking
// whole messages round-robin over the partitions. The returned position
// resumes right after this batch.
func (s *Source) Next(ctx context.Context) (trainer.Batch, trainer.Position, error) {
	start := time.Now()
	defer func() {
		w := time.Since(start)
		s.mu.Lock()
		s.waited += w
		s.mu.Unlock()
		if s.cfg.Prom != nil {
			s.cfg.Prom.Wait.Add(w.Seconds())
		}
	}()
	var b trainer.Batch
	misses := 0
	for b.Size < s.cfg.BatchSize {
		p := s.parts[s.next]
		// Continue a partly used message before anything else: rows of
		// one message stay together and in order.
		wait := s.cfg.PartitionWait
		if len(s.parts) == 1 && s.cfg.Done == nil {
			wait = -1
		}
		ok, err := s.take(ctx, p, wait)
		if err != nil {
			return trainer.Batch{}, "", err
		}
		if !ok {
			misses++
			if misses >= len(s.parts) && s.cfg.Done != nil && s.cfg.Done() {
				s.log.Info("upstream finished and every partition is drained", "dropped_partial_batch_rows", b.Size)
				return trainer.Batch{}, "", io.EOF
			}
			switch {
			case misses%len(s.parts) != 0:
				s.log.Debug("partition empty, skipping it this round (order now depends on timing)", "partition", p.id)
			case time.Since(s.lastIdleWarn) > 30*time.Second:
				s.lastIdleWarn = time.Now()
				s.log.Warn("no data on any partition; waiting (transform behind or stopped?)", "waited", time.Since(start).Round(time.Second))
			}
			s.next = (s.next + 1) % len(s.parts)
			continue
		}
		misses = 0
		if b.SeqLen == 0 {
			b.SeqLen = s.seqLen
			n := s.cfg.BatchSize * b.SeqLen
			b.IDs, b.Segments, b.Lengths = make([]int32, 0, n), make([]int8, 0, n), make([]int16, 0, s.cfg.BatchSize)
		}
		eb := p.cur.batch
		take := min(eb.Rows-p.row, s.cfg.BatchSize-b.Size)
		L := eb.Meta.MaxSeqLength
		b.IDs = append(b.IDs, eb.InputIDs[p.row*L:(p.row+take)*L]...)
		b.Segments = append(b.Segments, eb.SegmentIDs[p.row*L:(p.row+take)*L]...)
		b.Lengths = append(b.Lengths, eb.Lengths[p.row:p.row+take]...)
		b.Size += take
		p.row += take
		if p.row >= eb.Rows {
			s.next = (s.next + 1) % len(s.parts)
		}
	}
	if s.cfg.Prom != nil {
		s.cfg.Prom.Examples.Add(float64(b.Size))
	}
	return b, s.position(), nil
}

// position encodes where every partition stands now.
func (s *Source) position() trainer.Position {
	pos := position{Version: 1, Topic: s.cfg.Topic, Next: s.parts[s.next].id, Seen: slices.Clone(s.seenFIFO)}
	for _, p := range s.parts {
		// The reader's own offset is past the messages fetched ahead, so
		// the position comes from what was handed out.
		c := cursor{Partition: p.id, Offset: p.start, Row: p.startRow}
		switch {
		case p.cur != nil && p.row < p.cur.batch.Rows:
			c.Offset, c.Row = p.cur.msg.Offset, p.row
		case p.cur != nil:
			c.Offset = p.cur.msg.Offset + 1
		}
		pos.Parts = append(pos.Parts, c)
	}
	b, _ := json.Marshal(pos)
	return trainer.Position(b)
}

// Starvation returns the fraction of wall time since the previous call
// that Next spent waiting for data, and resets the window.
func (s *Source) Starvation() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.lastTake.IsZero() {
		s.lastTake = now
		s.waited = 0
		return 0
	}
	total := now.Sub(s.lastTake)
	f := 0.0
	if total > 0 {
		f = min(float64(s.waited)/float64(total), 1)
	}
	s.lastTake, s.waited = now, 0
	return f
}

// Commit records pos (a position this Source returned, stored in a
// durable checkpoint) as the group's committed offsets: the first message
// per partition with rows not yet trained. A message partly trained is
// committed as not consumed; a restart without the checkpoint re-reads it.
func (s *Source) Commit(ctx context.Context, pos trainer.Position) error {
	p, err := parsePosition(pos)
	if err != nil {
		return err
	}
	offs := map[int]int64{}
	for _, c := range p.Parts {
		offs[c.Partition] = c.Offset
	}
	if err := s.gen.CommitOffsets(map[string]map[int]int64{s.cfg.Topic: offs}); err != nil {
		return fmt.Errorf("stream: commit offsets %v of group %s: %w", offs, s.cfg.Group, err)
	}
	return nil
}

// Lag is the number of messages between this trainer's position and the
// end of each partition, as last seen.
func (s *Source) Lag() map[int]int64 {
	out := map[int]int64{}
	for _, p := range s.parts {
		out[p.id] = max(p.hwm.Load()-p.reader.Offset(), 0)
	}
	return out
}

// Close stops the readers and leaves the group. It commits nothing.
func (s *Source) Close() error {
	s.cancel()
	var errs []error
	for _, p := range s.parts {
		if err := p.reader.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	if err := s.group.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
