package transform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

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
type KafkaInput struct {
	cfg   KafkaInputConfig
	group *kafka.ConsumerGroup
	recs  chan Record
	errc  chan error

	mu    sync.Mutex
	gen   *kafka.Generation
	ended bool // gen has been revoked; the next one is being negotiated
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
	in := &KafkaInput{cfg: cfg, group: g, recs: make(chan Record, 256), errc: make(chan error, 1)}
	go in.loop(ctx, dialer)
	return in, nil
}

func (in *KafkaInput) loop(ctx context.Context, dialer *kafka.Dialer) {
	for {
		gen, err := in.group.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, kafka.ErrGroupClosed) {
				in.errc <- fmt.Errorf("consumer group %q: %w", in.cfg.Group, err)
			}
			return
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
				in.fetch(gctx, gen.ID, a, dialer)
			})
		}
	}
}

func (in *KafkaInput) fetch(ctx context.Context, gen int32, a kafka.PartitionAssignment, dialer *kafka.Dialer) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   in.cfg.Broker.Brokers,
		Topic:     in.cfg.Topic,
		Partition: a.ID,
		Dialer:    dialer,
		MinBytes:  1,
		MaxBytes:  broker.MaxMessageBytes,
		MaxWait:   250 * time.Millisecond,
	})
	defer r.Close()
	off := a.Offset
	if off < 0 {
		off = kafka.FirstOffset
	}
	if err := r.SetOffset(off); err != nil {
		in.cfg.Logger.Error("transform: cannot seek", "partition", a.ID, "offset", off, "err", err)
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				in.cfg.Logger.Warn("transform: fetch failed", "partition", a.ID, "err", err)
			}
			return
		}
		rec := Record{Position: Position{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Generation: gen}, Key: m.Key, Value: m.Value}
		select {
		case in.recs <- rec:
		case <-ctx.Done():
			return
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
// generation. A commit for a generation that has ended is refused: the
// partition may belong to another member now.
func (in *KafkaInput) Commit(ctx context.Context, through Position) error {
	in.mu.Lock()
	gen := in.gen
	in.mu.Unlock()
	if gen == nil || gen.ID != through.Generation {
		return fmt.Errorf("generation %d ended (now %v); not committing", through.Generation, genID(gen))
	}
	return gen.CommitOffsets(map[string]map[int]int64{through.Topic: {through.Partition: through.Offset + 1}})
}

func genID(g *kafka.Generation) any {
	if g == nil {
		return "none"
	}
	return g.ID
}

// Close leaves the group.
func (in *KafkaInput) Close() error { return in.group.Close() }

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
}

// KafkaOutput produces each batch as one self-contained Arrow IPC message
// (acks=all, no Kafka compression: the IPC buffers are LZ4 already).
type KafkaOutput struct {
	cfg        KafkaOutputConfig
	batches    *kafka.Writer
	deadLetter *kafka.Writer
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
			MaxAttempts:     10,
			BatchTimeout:    2 * time.Millisecond,
			BatchSize:       64,
			BatchBytes:      broker.MaxMessageBytes,
			WriteBackoffMin: 100 * time.Millisecond,
			WriteBackoffMax: 5 * time.Second,
			Transport:       t,
		}, nil
	}
	out := &KafkaOutput{cfg: cfg}
	var err error
	if out.batches, err = w(cfg.Topic); err != nil {
		return nil, err
	}
	if out.deadLetter, err = w(cfg.DLQTopic); err != nil {
		return nil, err
	}
	return out, nil
}

// BatchMessage encodes a batch as a Kafka message with the contract's
// headers; the key is the batch id.
func BatchMessage(meta schemas.ExamplesMeta, b Batch) (kafka.Message, error) {
	v, err := schemas.EncodeExamplesMessage(meta, b.Examples)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("batch %s: %w", b.ID, err)
	}
	return kafka.Message{Key: []byte(b.ID), Value: v, Headers: []kafka.Header{
		{Key: schemas.ExamplesHeaderSchema, Value: []byte(schemas.ExamplesSchemaName)},
		{Key: schemas.ExamplesHeaderContentType, Value: []byte(schemas.ExamplesContentType)},
		{Key: schemas.ExamplesHeaderBatchID, Value: []byte(b.ID)},
	}}, nil
}

// Write produces the chunk's batches and dead letters and returns once the
// broker has acknowledged all of them.
func (o *KafkaOutput) Write(ctx context.Context, c *Chunk) error {
	if len(c.Batches) > 0 {
		msgs := make([]kafka.Message, len(c.Batches))
		for i, b := range c.Batches {
			m, err := BatchMessage(o.cfg.Meta, b)
			if err != nil {
				return err
			}
			msgs[i] = m
		}
		if err := o.batches.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("producing %d batches to %s: %w", len(msgs), o.cfg.Topic, err)
		}
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

// Close flushes and closes the producers.
func (o *KafkaOutput) Close() error {
	return errors.Join(o.batches.Close(), o.deadLetter.Close())
}
