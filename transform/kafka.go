package transform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// KafkaInputConfig configures a consumer-group input.
type KafkaInputConfig struct {
	Broker broker.Config
	// Topic of documents; default schemas.TopicDocs.
	Topic string
	// Group is the consumer group id; default "electra-transform".
	Group string
	// SessionTimeout of the group membership; default 10s (the broker's
	// minimum must allow it). A killed member's partitions move after it.
	SessionTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// KafkaInput reads documents as a member of a consumer group. It uses
// kafka-go's ConsumerGroup directly rather than kafka.Reader because the
// stage must know when partitions are revoked: records carry their
// generation, and a new generation makes the stage drop the chunks it had
// not sealed (the new owner rebuilds them identically from the committed
// offset).
//
// It is a CutRecorder: the end of an idle-sealed chunk is stored as the
// metadata of an offset commit at the chunk's first offset (the offset
// the group has already committed, so progress is unchanged), and read
// back with the committed offset when a partition is assigned. The
// ordinary commit after the chunk clears it.
type KafkaInput struct {
	cfg    KafkaInputConfig
	group  *kafka.ConsumerGroup
	client *kafka.Client // commits and reads offsets with metadata
	recs   chan Record
	errc   chan error

	mu    sync.Mutex
	gen   *kafka.Generation
	ended bool // gen has been revoked; the next one is being negotiated

	fetches atomic.Int64 // fetch requests sent, for tests
}

// NewKafkaInput joins the group and starts fetching.
func NewKafkaInput(ctx context.Context, cfg KafkaInputConfig) (*KafkaInput, error) {
	if cfg.Topic == "" {
		cfg.Topic = schemas.TopicDocs
	}
	if cfg.Group == "" {
		cfg.Group = "electra-transform"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Broker.Validate(); err != nil {
		return nil, err
	}
	dialer, err := cfg.Broker.Dialer()
	if err != nil {
		return nil, err
	}
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.Group,
		Brokers:           cfg.Broker.Brokers,
		Dialer:            dialer,
		Topics:            []string{cfg.Topic},
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.SessionTimeout,
		HeartbeatInterval: cfg.SessionTimeout / 5,
		JoinGroupBackoff:  500 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
	})
	if err != nil {
		return nil, fmt.Errorf("transform: join consumer group %q on %v: %w", cfg.Group, cfg.Broker.Brokers, err)
	}
	// kafka-go's Generation commits offsets without metadata; the cut of
	// an idle-sealed chunk goes through the protocol-level client.
	client, err := cfg.Broker.Client()
	if err != nil {
		g.Close()
		return nil, err
	}
	in := &KafkaInput{cfg: cfg, group: g, client: client, recs: make(chan Record, 16), errc: make(chan error, 1)}
	go in.loop(ctx)
	return in, nil
}

func (in *KafkaInput) loop(ctx context.Context) {
	joined := false
	for {
		gen, err := in.group.Next(ctx)
		switch {
		case err == nil:
			joined = true
		case ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed):
			return
		case !joined:
			// Never in the group: most likely a wrong address or group
			// settings, which waiting will not mend.
			in.errc <- fmt.Errorf("consumer group %q: %w", in.cfg.Group, err)
			return
		default:
			// kafka-go reports a failed join or sync and tries again
			// after JoinGroupBackoff: a broker restart or a coordinator
			// that moved, which a running worker rides out (the records
			// of the lost generation are delivered again).
			in.cfg.Logger.Warn("transform: consumer group error; rejoining", "group", in.cfg.Group, "err", err)
			continue
		}
		in.mu.Lock()
		in.gen, in.ended = gen, false
		in.mu.Unlock()
		gen.Start(func(gctx context.Context) {
			<-gctx.Done()
			in.mu.Lock()
			if in.gen == gen {
				in.ended = true
			}
			in.mu.Unlock()
		})
		assigned := gen.Assignments[in.cfg.Topic]
		in.cfg.Logger.Info("transform: partitions assigned", "group", in.cfg.Group, "generation", gen.ID, "member", gen.MemberID, "partitions", len(assigned))
		for _, a := range assigned {
			a := a
			gen.Start(func(gctx context.Context) {
				in.fetch(gctx, gen.ID, a)
			})
		}
	}
}

// fetchBytes bounds a fetch response. The response sits in memory until
// the stage has recycled its last record; a few dozen documents cover the
// round trip to the broker. A record batch larger than this still comes,
// alone (brokers return at least one batch).
const fetchBytes = 1 << 20

// fetch reads partition a from its committed offset until the generation
// ends. It fetches with broker.FetchConn, whose responses are read into
// buffers of this package and whose records are handed to the stage in
// place (fetchBuf), where kafka-go's client decodes into pooled pages that
// every value has to be copied out of. Batches FetchConn does not read
// (compressed ones), and clusters it cannot authenticate with (SASL), go
// through kafka-go's protocol-level Client instead (fetchGeneral), one
// response at a time.
func (in *KafkaInput) fetch(ctx context.Context, gen int32, a kafka.PartitionAssignment) {
	client, err := in.cfg.Broker.Client()
	if err != nil {
		in.cfg.Logger.Error("transform: cannot fetch", "partition", a.ID, "err", err)
		return
	}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()
	off := a.Offset
	// A cut recorded at the committed offset goes on the record there. The
	// fetch waits for it: starting without it could seal that chunk on
	// idle elsewhere and republish its examples under other ids.
	var cut Cut
	cutAt := off
	if off >= 0 {
		var ok bool
		if cut, ok = in.recordedCut(ctx, a.ID, off); !ok {
			return // the generation ended
		}
		if cut.Recorded {
			in.cfg.Logger.Info("transform: the chunk at the committed offset was sealed on idle; sealing it at the same record", "topic", in.cfg.Topic, "partition", a.ID, "from", off, "through", cut.Through)
		}
	}
	f := &partitionFetch{in: in, client: client, gen: gen, partition: a.ID, cut: cut, cutAt: cutAt, raw: true}
	defer f.close()
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		if off < 0 {
			// No committed offset: the log's start, which the raw fetch
			// has to be told as a number.
			off, err = f.logStart(ctx)
		} else {
			off, err = f.next(ctx, off)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// A moved leader, a broker restart, an offset past the end
			// (the log was truncated or recreated): kafka.Reader retries
			// these forever, and so does this.
			in.cfg.Logger.Warn("transform: fetch failed; retrying", "topic", in.cfg.Topic, "partition", a.ID, "offset", off, "err", err)
			f.close()
			if !backOff(ctx, &wait) {
				return
			}
		default:
			wait = 100 * time.Millisecond
		}
	}
}

// partitionFetch is the state of one partition's fetch loop.
type partitionFetch struct {
	in        *KafkaInput
	client    *kafka.Client
	gen       int32
	partition int
	cut       Cut
	cutAt     int64
	// raw is false once FetchConn has said it cannot serve this cluster;
	// conn is its connection, nil until dialled or after a failure.
	raw  bool
	conn *broker.FetchConn
}

func (f *partitionFetch) close() {
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}

// logStart returns the partition's first offset.
func (f *partitionFetch) logStart(ctx context.Context) (int64, error) {
	topic := f.in.cfg.Topic
	res, err := f.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(f.partition)}}})
	if err != nil {
		return kafka.FirstOffset, err
	}
	for _, p := range res.Topics[topic] {
		if p.Partition == f.partition {
			if p.Error != nil {
				return kafka.FirstOffset, p.Error
			}
			return p.FirstOffset, nil
		}
	}
	return kafka.FirstOffset, fmt.Errorf("no first offset listed for %s/%d", topic, f.partition)
}

// next fetches once from off, hands the records to the stage, and returns
// the offset to fetch from next.
func (f *partitionFetch) next(ctx context.Context, off int64) (int64, error) {
	if f.raw && f.conn == nil {
		c, err := f.in.cfg.Broker.DialFetch(ctx, f.in.cfg.Topic, f.partition)
		switch {
		case errors.Is(err, broker.ErrFetchUnsupported):
			f.raw = false
		case err != nil:
			return off, err
		default:
			f.conn = c
		}
	}
	if !f.raw {
		return f.fetchGeneral(ctx, off)
	}
	f.in.fetches.Add(1)
	buf := getFetchBuf()
	res, b, err := f.conn.Fetch(ctx, off, fetchBytes, fetchWait, buf.b)
	buf.b = b
	if err == nil {
		err = res.Err
	}
	if err != nil {
		buf.release()
		return f.pastDeleted(off, err, res.LogStartOffset)
	}
	// The fetch loop holds one reference to the buffer while it hands out
	// records; each record holds one until the stage recycles it.
	ok := true
	next, err := res.EachRecord(off, func(r broker.FetchedRecord) bool {
		buf.refs.Add(1)
		rec := Record{
			Position: Position{Topic: f.in.cfg.Topic, Partition: f.partition, Offset: r.Offset, Generation: f.gen},
			Value:    r.Value, Key: r.Key, fetched: buf,
		}
		if ok = f.deliver(ctx, rec); !ok {
			buf.release()
		}
		return ok
	})
	buf.release()
	switch {
	case !ok:
		return next, ctx.Err()
	case errors.Is(err, broker.ErrBatchUnsupported):
		// A compressing producer compresses every batch: kafka-go reads
		// this partition from here on.
		f.in.cfg.Logger.Info("transform: compressed record batches; fetching with kafka-go's decoder", "topic", f.in.cfg.Topic, "partition", f.partition, "offset", next, "err", err)
		f.raw = false
		f.close()
		return f.fetchGeneral(ctx, next)
	case err != nil:
		return next, err
	case next == off && len(res.Records) > 0 && res.HighWatermark > off:
		// Only a batch cut short came back: fetching again the same way
		// would get the same, so say so (the loop backs off and retries).
		return off, fmt.Errorf("no whole record batch in %d bytes of records at offset %d (a batch larger than %d bytes?)", len(res.Records), off, fetchBytes)
	}
	return next, nil
}

// pastDeleted handles a failed fetch at off: where the broker says off is
// out of range because retention deleted the log before logStart, the
// fetch goes on from there (nothing can bring those records back);
// otherwise it returns err to be retried.
func (f *partitionFetch) pastDeleted(off int64, err error, logStart int64) (int64, error) {
	if errors.Is(err, kafka.OffsetOutOfRange) && logStart > off {
		f.in.cfg.Logger.Warn("transform: records were deleted from the log before they were transformed; going on from the log's start", "topic", f.in.cfg.Topic, "partition", f.partition, "offset", off, "log start", logStart)
		return logStart, nil
	}
	return off, err
}

// deliver hands rec to the stage, with the recorded cut if it is the
// record at the committed offset. It returns false when ctx ends first.
func (f *partitionFetch) deliver(ctx context.Context, rec Record) bool {
	if rec.Offset == f.cutAt {
		rec.Cut = f.cut
	}
	select {
	case f.in.recs <- rec:
		return true
	case <-ctx.Done():
		return false
	}
}

// fetchWait is how long the broker may hold a fetch at the end of the log.
const fetchWait = 250 * time.Millisecond

// fetchGeneral fetches once from off with kafka-go's Client, copying each
// value into a buffer of recordBufs (the response's pages go back to
// kafka-go's pool), and returns the offset to fetch from next.
func (f *partitionFetch) fetchGeneral(ctx context.Context, off int64) (int64, error) {
	in := f.in
	in.fetches.Add(1)
	res, err := f.client.Fetch(ctx, &kafka.FetchRequest{
		Topic: in.cfg.Topic, Partition: f.partition, Offset: off,
		MinBytes: 1, MaxBytes: fetchBytes, MaxWait: fetchWait,
	})
	if err == nil {
		err = res.Error
	}
	switch {
	case ctx.Err() != nil:
		return off, ctx.Err()
	case err != nil && res != nil:
		return f.pastDeleted(off, err, res.LogStartOffset)
	case err != nil:
		return off, err
	}
	for {
		r, err := res.Records.ReadRecord()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				in.cfg.Logger.Warn("transform: reading a fetch response failed; fetching again", "topic", in.cfg.Topic, "partition", f.partition, "offset", off, "err", err)
			}
			break
		}
		// A response may start with records of a batch before off.
		if r.Offset < off {
			closeBytes(r.Key, r.Value)
			continue
		}
		rec, err := in.record(r, f.gen, f.partition)
		if err != nil {
			in.cfg.Logger.Warn("transform: reading a record failed; fetching again", "topic", in.cfg.Topic, "partition", f.partition, "offset", r.Offset, "err", err)
			break
		}
		if !f.deliver(ctx, rec) {
			return off, ctx.Err()
		}
		off = r.Offset + 1
	}
	// kafka-go passes over transaction markers without a record to show
	// for them; a response ending in markers must still move the offset
	// past them, or it comes back at once, again and again.
	return max(off, afterMarkers(res.Records)), nil
}

// fetchBuf is a fetch response that records point into. It goes back to
// fetchBufs when the fetch loop and every record from it are done.
type fetchBuf struct {
	b    []byte
	refs atomic.Int32
}

// fetchBufs keeps idle response buffers: a worker has two or three in use
// per partition (the stage's queues hold a few dozen records). A response
// holds at least one record batch, as large as the producer made it (up to
// broker.MaxMessageBytes, 16 MiB), so four idle ones bound what the list
// keeps to 64 MiB; the rest are left to the garbage collector.
var fetchBufs = make(chan *fetchBuf, 4)

func getFetchBuf() *fetchBuf {
	var f *fetchBuf
	select {
	case f = <-fetchBufs:
	default:
		f = new(fetchBuf)
	}
	f.refs.Store(1)
	return f
}

func (f *fetchBuf) release() {
	switch n := f.refs.Add(-1); {
	case n == 0:
		select {
		case fetchBufs <- f:
		default:
		}
	case n < 0:
		panic("transform: fetch buffer released more often than taken")
	}
}

// afterMarkers returns the offset after the last transaction marker
// (control batch) of a fetch response, or -1 (below every offset) if it
// has none.
func afterMarkers(rr kafka.RecordReader) int64 {
	next := int64(-1) // kafka.LastOffset, but compared, never fetched
	stream, ok := rr.(*protocol.RecordStream)
	if !ok {
		return next
	}
	for _, batch := range stream.Records {
		cb, ok := batch.(*protocol.ControlBatch)
		if !ok {
			continue
		}
		for {
			r, err := cb.ReadRecord()
			if err != nil {
				break
			}
			next = max(next, r.Offset+1)
			closeBytes(r.Key, r.Value)
		}
	}
	return next
}

// record copies the value and key of r into one buffer of the pool, the
// value first: Recycle finds the buffer from the value's capacity.
func (in *KafkaInput) record(r *kafka.Record, gen int32, partition int) (Record, error) {
	defer closeBytes(r.Key, r.Value)
	nk, nv := bytesLen(r.Key), bytesLen(r.Value)
	buf := recordBuf(nv + nk)
	if nv > 0 {
		if _, err := io.ReadFull(r.Value, buf[:nv]); err != nil {
			return Record{}, err
		}
	}
	if nk > 0 {
		if _, err := io.ReadFull(r.Key, buf[nv:]); err != nil {
			return Record{}, err
		}
	}
	return Record{
		Position: Position{Topic: in.cfg.Topic, Partition: partition, Offset: r.Offset, Generation: gen},
		Value:    buf[:nv], Key: buf[nv : nv+nk : nv+nk],
	}, nil
}

// Recycle implements Recycler.
func (in *KafkaInput) Recycle(rec Record) {
	if rec.fetched != nil {
		rec.fetched.release()
		return
	}
	recycleRecordBuf(rec.Value[:cap(rec.Value)])
}

func bytesLen(b kafka.Bytes) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

// closeBytes hands a record's pages back to kafka-go's pool.
func closeBytes(bs ...kafka.Bytes) {
	for _, b := range bs {
		if b != nil {
			b.Close()
		}
	}
}

// Next returns the next record of any assigned partition.
func (in *KafkaInput) Next(ctx context.Context) (Record, error) {
	select {
	case r := <-in.recs:
		return r, nil
	case err := <-in.errc:
		return Record{}, err
	case <-ctx.Done():
		return Record{}, ctx.Err()
	}
}

// Active reports whether generation still owns its partitions.
func (in *KafkaInput) Active(generation int32) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.gen != nil && in.gen.ID == generation && !in.ended
}

// Commit commits through.Offset+1 for its partition in the current
// generation, with empty metadata (clearing a recorded cut). A commit for
// a generation that has ended is refused: the partition may belong to
// another member now.
func (in *KafkaInput) Commit(ctx context.Context, through Position) error {
	gen, err := in.generation(through.Generation)
	if err != nil {
		return err
	}
	return gen.CommitOffsets(map[string]map[int]int64{through.Topic: {through.Partition: through.Offset + 1}})
}

// generation returns the current generation if it is id.
func (in *KafkaInput) generation(id int32) (*kafka.Generation, error) {
	in.mu.Lock()
	gen := in.gen
	in.mu.Unlock()
	if gen == nil || gen.ID != id {
		return nil, fmt.Errorf("generation %d ended (now %v); not committing: %w", id, genID(gen), ErrFenced)
	}
	return gen, nil
}

// cutMetadata is the commit metadata that records an idle-sealed chunk's
// end. It names the chunk's first offset as well, so that metadata left at
// another offset (by a tool that resets offsets but keeps metadata) is not
// taken for this chunk's.
const cutMetadata = "electra.transform.cut/v1 first=%d through=%d"

// RecordCut implements CutRecorder: it commits first.Offset, the offset
// the group has already committed for the partition (the chunks before
// this one are written and committed; the stage writes them in order),
// with metadata naming through, in first's generation, so the broker
// refuses it as it would a stale commit. A failure to reach the broker is
// retried for a while; the generation's end is reported as ErrFenced.
func (in *KafkaInput) RecordCut(ctx context.Context, first, through Position) error {
	gen, err := in.generation(first.Generation)
	if err != nil {
		return err
	}
	req := &kafka.OffsetCommitRequest{
		GroupID: in.cfg.Group, GenerationID: int(gen.ID), MemberID: gen.MemberID,
		Topics: map[string][]kafka.OffsetCommit{first.Topic: {{
			Partition: first.Partition, Offset: first.Offset,
			Metadata: fmt.Sprintf(cutMetadata, first.Offset, through.Offset),
		}}},
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		resp, err := in.client.OffsetCommit(ctx, req)
		if err == nil {
			for _, p := range resp.Topics[first.Topic] {
				if p.Partition == first.Partition {
					err = p.Error
				}
			}
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kafka.IllegalGeneration), errors.Is(err, kafka.UnknownMemberId),
			errors.Is(err, kafka.RebalanceInProgress), errors.Is(err, kafka.FencedInstanceID):
			return fmt.Errorf("group %q generation %d: %w: %w", in.cfg.Group, gen.ID, ErrFenced, err)
		case attempt == 5 || ctx.Err() != nil:
			return fmt.Errorf("group %q: committing offset %d of %s/%d with its cut: %w", in.cfg.Group, first.Offset, first.Topic, first.Partition, err)
		}
		in.cfg.Logger.Warn("transform: recording an idle-sealed chunk's end failed; retrying", "topic", first.Topic, "partition", first.Partition, "offset", first.Offset, "attempt", attempt, "err", err)
		backOff(ctx, &backoff) // a cancelled ctx ends the next attempt
	}
}

// parseCut returns the cut recorded in the metadata committed with offset
// committed, if it is a cut for a chunk starting at off.
func parseCut(committed int64, metadata string, off int64) Cut {
	var first, through int64
	if committed != off || metadata == "" {
		return Cut{}
	}
	if n, _ := fmt.Sscanf(metadata, cutMetadata, &first, &through); n != 2 || first != off || through < first {
		return Cut{} // someone else's metadata
	}
	return Cut{Through: through, Recorded: true}
}

// recordedCut reads the metadata committed with offset off of partition p
// and returns the cut it records, if any (the zero Cut if none). It
// retries until it has an answer, and reports false only when ctx (the
// generation) ends first.
func (in *KafkaInput) recordedCut(ctx context.Context, p int, off int64) (Cut, bool) {
	backoff := 100 * time.Millisecond
	for {
		resp, err := in.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: in.cfg.Group, Topics: map[string][]int{in.cfg.Topic: {p}}})
		if err == nil {
			err = resp.Error
		}
		if err == nil {
			err = fmt.Errorf("no answer for partition %d", p)
			for _, fp := range resp.Topics[in.cfg.Topic] {
				if fp.Partition == p {
					if err = fp.Error; err == nil {
						return parseCut(fp.CommittedOffset, fp.Metadata, off), true
					}
				}
			}
		}
		if ctx.Err() != nil {
			return Cut{}, false
		}
		in.cfg.Logger.Warn("transform: reading the committed offset's metadata failed; retrying", "topic", in.cfg.Topic, "partition", p, "err", err)
		if !backOff(ctx, &backoff) {
			return Cut{}, false
		}
	}
}

func genID(g *kafka.Generation) any {
	if g == nil {
		return "none"
	}
	return g.ID
}

// Close leaves the group.
func (in *KafkaInput) Close() error {
	err := in.group.Close()
	in.client.Transport.(*kafka.Transport).CloseIdleConnections()
	return err
}

// KafkaOutputConfig configures the examples producer.
type KafkaOutputConfig struct {
	Broker broker.Config
	// Topic for example batches; default schemas.TopicExamples.
	Topic string
	// DLQTopic for dead letters; default schemas.TopicTransformDLQ.
	DLQTopic string
	// Partitions for the topics if they are created; default 1.
	Partitions int
	// Meta labels every batch.
	Meta schemas.ExamplesMeta
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// KafkaOutput produces each batch as one self-contained Arrow IPC message
// (acks=all, no Kafka compression: the IPC buffers are LZ4 already).
//
// The batches go out through broker.ProduceConn, a connection per
// partition of the examples topic, which writes the encoded values to the
// socket from the encoder's buffer; kafka-go's Writer copied each into
// pages of its own and walked them again for the CRC (about 2% of the
// stage's CPU). Partitions are chosen as the Writer's Hash balancer would
// (by batch id), failed writes are tried again as it would (10 attempts,
// backing off from 100 ms to 5 s), a record batch that the topic finds
// too large goes again in halves (the Writer failed it: a topic made
// elsewhere keeps Kafka's 1 MB default), and clusters that need SASL,
// which ProduceConn does not speak, get the Writer. Dead letters always
// do. The topic's partition count is read once, when the output is
// created; partitions added later get batches after a restart.
type KafkaOutput struct {
	cfg        KafkaOutputConfig
	batches    *kafka.Writer
	deadLetter *kafka.Writer

	mu   sync.Mutex // one Write at a time: they share the buffers below
	enc  *schemas.ExamplesEncoder
	vals []byte // the encoded batches of a chunk, reused for the next one
	msgs []kafka.Message

	// raw is true where ProduceConn can serve the cluster; conns[p] is
	// partition p's connection, nil until dialled or after a failure.
	raw     bool
	partIDs []int
	conns   []*broker.ProduceConn
	recs    [][]broker.ProduceRecord
	// crcs holds the CRC-32C of each message of the chunk being written,
	// taken as it was encoded, for the ProduceConns.
	crcs []uint32
}

// Retries of a failed produce, as kafka-go's Writer is configured below.
const (
	produceAttempts   = 10
	produceBackoffMin = 100 * time.Millisecond
	produceBackoffMax = maxBackOff
	produceTimeout    = 30 * time.Second
)

// maxBackOff bounds the waits between retries against the broker.
const maxBackOff = 5 * time.Second

// backOff waits *d, or until ctx ends (then it reports false), and
// doubles *d up to maxBackOff for the next time.
func backOff(ctx context.Context, d *time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(*d):
	}
	*d = min(2**d, maxBackOff)
	return true
}

// NewKafkaOutput creates the topics if needed and returns the producer.
func NewKafkaOutput(ctx context.Context, cfg KafkaOutputConfig) (*KafkaOutput, error) {
	if cfg.Topic == "" {
		cfg.Topic = schemas.TopicExamples
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = schemas.TopicTransformDLQ
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := broker.EnsureTopics(ctx, cfg.Broker, []broker.TopicSpec{
		{Name: cfg.Topic, Partitions: cfg.Partitions},
		{Name: cfg.DLQTopic, Partitions: 1},
	}); err != nil {
		return nil, err
	}
	w := func(topic string) (*kafka.Writer, error) {
		t, err := cfg.Broker.Transport()
		if err != nil {
			return nil, err
		}
		return &kafka.Writer{
			Addr:            kafka.TCP(cfg.Broker.Brokers...),
			Topic:           topic,
			Balancer:        &kafka.Hash{},
			RequiredAcks:    kafka.RequireAll,
			MaxAttempts:     produceAttempts,
			BatchTimeout:    2 * time.Millisecond,
			BatchSize:       64,
			BatchBytes:      broker.MaxMessageBytes,
			WriteBackoffMin: produceBackoffMin,
			WriteBackoffMax: produceBackoffMax,
			Transport:       t,
		}, nil
	}
	enc, err := schemas.NewExamplesEncoder(cfg.Meta)
	if err != nil {
		return nil, err
	}
	out := &KafkaOutput{cfg: cfg, enc: enc}
	if out.batches, err = w(cfg.Topic); err != nil {
		return nil, err
	}
	if out.deadLetter, err = w(cfg.DLQTopic); err != nil {
		return nil, err
	}
	if out.raw = cfg.Broker.Security.SASL == nil; out.raw {
		// An existing topic keeps its partition count, whatever
		// cfg.Partitions says.
		n, err := broker.PartitionCount(ctx, cfg.Broker, cfg.Topic)
		if err != nil {
			return nil, err
		}
		for p := range n {
			out.partIDs = append(out.partIDs, p)
		}
		out.conns = make([]*broker.ProduceConn, n)
		out.recs = make([][]broker.ProduceRecord, n)
	}
	return out, nil
}

// Header values every batch shares; kafka-go only reads them.
var (
	headerSchema      = []byte(schemas.ExamplesSchemaName)
	headerContentType = []byte(schemas.ExamplesContentType)
)

// Write produces the chunk's batches and dead letters and returns once the
// broker has acknowledged all of them.
func (o *KafkaOutput) Write(ctx context.Context, c *Chunk) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(c.Batches) > 0 {
		// All batches of the chunk go out in one WriteMessages call, so
		// their values are encoded back to back into one buffer that the
		// next chunk reuses: once WriteMessages has returned, kafka-go
		// holds none of them.
		vals := o.vals[:0]
		ends := make([]int, len(c.Batches))
		o.crcs = o.crcs[:0]
		for i, b := range c.Batches {
			var err error
			start := len(vals)
			if vals, err = o.enc.AppendEncode(vals, b.Examples); err != nil {
				return fmt.Errorf("batch %s: %w", b.ID, err)
			}
			ends[i] = len(vals)
			if o.raw {
				// Its CRC now, while the CPU's caches hold it (see
				// broker.ProduceRecord.ValueCRC).
				o.crcs = append(o.crcs, broker.CastagnoliChecksum(vals[start:]))
			}
		}
		msgs := o.msgs[:0]
		start := 0
		for i, b := range c.Batches {
			id := []byte(b.ID)
			msgs = append(msgs, kafka.Message{Key: id, Value: vals[start:ends[i]:ends[i]], Headers: []kafka.Header{
				{Key: schemas.ExamplesHeaderSchema, Value: headerSchema},
				{Key: schemas.ExamplesHeaderContentType, Value: headerContentType},
				{Key: schemas.ExamplesHeaderBatchID, Value: id},
			}})
			start = ends[i]
		}
		write := o.batches.WriteMessages
		if o.raw {
			write = o.produce
		}
		if err := write(ctx, msgs...); err != nil {
			// A failed or cancelled WriteMessages may still hold the
			// values in flight: leave the buffer to them.
			o.vals, o.msgs = nil, nil
			return fmt.Errorf("producing %d batches to %s: %w", len(msgs), o.cfg.Topic, err)
		}
		clear(msgs)
		o.vals, o.msgs = vals, msgs
	}
	if len(c.Dead) > 0 {
		msgs := make([]kafka.Message, len(c.Dead))
		for i, d := range c.Dead {
			v, err := json.Marshal(d)
			if err != nil {
				return err
			}
			msgs[i] = kafka.Message{Key: []byte(d.RecordID), Value: v, Headers: []kafka.Header{
				{Key: schemas.HeaderContentType, Value: []byte(schemas.ContentTypeJSON)},
			}}
		}
		if err := o.deadLetter.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("producing %d dead letters to %s: %w", len(msgs), o.cfg.DLQTopic, err)
		}
	}
	return nil
}

// produce writes msgs with ProduceConns, each partition's in one record
// batch (or as few as broker.MaxMessageBytes allows), the partitions at
// once, and returns when all are acknowledged.
func (o *KafkaOutput) produce(ctx context.Context, msgs ...kafka.Message) error {
	for p := range o.recs {
		o.recs[p] = o.recs[p][:0]
	}
	var hash kafka.Hash
	for i, m := range msgs {
		p := hash.Balance(m, o.partIDs...)
		r := broker.ProduceRecord{Key: m.Key, Value: m.Value, Headers: m.Headers}
		if len(o.crcs) == len(msgs) {
			r.ValueCRC, r.HasValueCRC = o.crcs[i], true
		}
		o.recs[p] = append(o.recs[p], r)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(o.recs))
	for p, recs := range o.recs {
		if len(recs) == 0 {
			continue
		}
		wg.Go(func() {
			for len(recs) > 0 && errs[p] == nil {
				n, size := 1, len(recs[0].Value)
				for n < len(recs) && size+len(recs[n].Value) <= broker.MaxMessageBytes-64<<10 {
					size += len(recs[n].Value)
					n++
				}
				errs[p] = o.producePartition(ctx, p, recs[:n])
				recs = recs[n:]
			}
		})
	}
	wg.Wait()
	for p := range o.recs {
		clear(o.recs[p]) // the values are the next chunk's buffer
	}
	return errors.Join(errs...)
}

// producePartition writes recs as one batch to partition p, trying again
// on failures that may pass (a broker restart, a moved leader) with a
// fresh connection each time.
func (o *KafkaOutput) producePartition(ctx context.Context, p int, recs []broker.ProduceRecord) error {
	backoff := produceBackoffMin
	for attempt := 1; ; attempt++ {
		reused := o.conns[p] != nil
		err := func() error {
			if o.conns[p] == nil {
				c, err := o.cfg.Broker.DialProduce(ctx, o.cfg.Topic, p)
				if err != nil {
					return err
				}
				o.conns[p] = c
			}
			_, err := o.conns[p].Produce(ctx, recs, produceTimeout)
			return err
		}()
		if err == nil {
			return nil
		}
		var ke kafka.Error
		isKafka := errors.As(err, &ke)
		if isKafka && ke == kafka.MessageSizeTooLarge && len(recs) > 1 {
			// A topic made elsewhere may keep Kafka's default 1 MB
			// max.message.bytes: send the halves as batches of their own
			// (each message alone must fit).
			h := len(recs) / 2
			if err := o.producePartition(ctx, p, recs[:h]); err != nil {
				return err
			}
			return o.producePartition(ctx, p, recs[h:])
		}
		if isKafka && !ke.Temporary() {
			return err // a message too large for the topic, a missing authorization: trying again will not help
		}
		if o.conns[p] != nil {
			o.conns[p].Close()
			o.conns[p] = nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == produceAttempts {
			return fmt.Errorf("partition %d, %d attempts: %w", p, attempt, err)
		}
		if reused && !isKafka && attempt == 1 {
			// Brokers close connections left idle (connections.max.idle.ms,
			// 10 minutes by default): dial again at once, quietly.
			o.cfg.Logger.Debug("transform: examples connection failed; dialling again", "topic", o.cfg.Topic, "partition", p, "err", err)
			continue
		}
		o.cfg.Logger.Warn("transform: producing examples failed; trying again", "topic", o.cfg.Topic, "partition", p, "attempt", attempt, "backoff", backoff, "err", err)
		if !backOff(ctx, &backoff) {
			return ctx.Err()
		}
	}
}

// Close flushes and closes the producers.
func (o *KafkaOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, c := range o.conns {
		if c != nil {
			c.Close()
			o.conns[p] = nil
		}
	}
	return errors.Join(o.batches.Close(), o.deadLetter.Close())
}
