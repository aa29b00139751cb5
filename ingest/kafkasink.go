package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// KafkaSink produces documents to a topic (key = id, hashed to a partition
// so an id always lands on the same one) and dead letters to a DLQ topic,
// with acks from all in-sync replicas.
type KafkaSink struct {
	cfg        broker.Config
	topic, dlq string
	docs, dead *kafka.Writer
	client     *kafka.Client
	buf        bytes.Buffer
}

// KafkaSinkConfig configures NewKafkaSink. Zero values are defaults.
type KafkaSinkConfig struct {
	Broker broker.Config
	// Topic for documents; default schemas.TopicDocs.
	Topic string
	// DLQTopic for dead letters; default schemas.TopicDocsDLQ.
	DLQTopic string
	// Partitions for topics this sink creates when missing; default 1.
	Partitions int
	// ReplicationFactor for topics it creates; default 1.
	ReplicationFactor int
	// MaxAttempts per batch before the run fails; default 10.
	MaxAttempts int
}

// NewKafkaSink creates the topics if missing and connects two writers.
func NewKafkaSink(ctx context.Context, c KafkaSinkConfig) (*KafkaSink, error) {
	if err := c.Broker.Validate(); err != nil {
		return nil, err
	}
	if c.Topic == "" {
		c.Topic = schemas.TopicDocs
	}
	if c.DLQTopic == "" {
		c.DLQTopic = schemas.TopicDocsDLQ
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	err := broker.EnsureTopics(ctx, c.Broker, []broker.TopicSpec{
		{Name: c.Topic, Partitions: c.Partitions, ReplicationFactor: c.ReplicationFactor},
		{Name: c.DLQTopic, Partitions: 1, ReplicationFactor: c.ReplicationFactor},
	})
	if err != nil {
		return nil, err
	}
	s := &KafkaSink{cfg: c.Broker, topic: c.Topic, dlq: c.DLQTopic}
	if s.client, err = c.Broker.Client(); err != nil {
		return nil, err
	}
	newWriter := func(topic string) (*kafka.Writer, error) {
		t, err := c.Broker.Transport()
		if err != nil {
			return nil, err
		}
		return &kafka.Writer{
			Addr:         kafka.TCP(c.Broker.Brokers...),
			Topic:        topic,
			Balancer:     &kafka.Hash{},
			RequiredAcks: kafka.RequireAll,
			MaxAttempts:  c.MaxAttempts,
			// The pipeline hands over whole batches and waits for them;
			// a long linger would only add latency to every batch.
			BatchTimeout:    2 * time.Millisecond,
			BatchSize:       1 << 20,
			BatchBytes:      broker.MaxMessageBytes,
			WriteBackoffMin: 100 * time.Millisecond,
			WriteBackoffMax: 5 * time.Second,
			Transport:       t,
		}, nil
	}
	if s.docs, err = newWriter(c.Topic); err != nil {
		return nil, err
	}
	if s.dead, err = newWriter(c.DLQTopic); err != nil {
		return nil, err
	}
	return s, nil
}

var docHeaders = []kafka.Header{
	{Key: schemas.HeaderSchema, Value: []byte(schemas.DocSchemaV1)},
	{Key: schemas.HeaderContentType, Value: []byte(schemas.ContentTypeJSON)},
}

func (s *KafkaSink) Write(ctx context.Context, docs []schemas.Document, dead []schemas.DeadLetter) error {
	if len(docs) > 0 {
		msgs := make([]kafka.Message, len(docs))
		for i := range docs {
			s.buf.Reset()
			if err := encodeJSON(&s.buf, &docs[i]); err != nil {
				return err
			}
			msgs[i] = kafka.Message{Key: []byte(docs[i].ID), Value: bytes.Clone(s.buf.Bytes()), Headers: docHeaders}
		}
		if err := s.docs.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("producing %d documents to %s on %v (first id %q): %w", len(msgs), s.topic, s.cfg.Brokers, docs[0].ID, err)
		}
	}
	if len(dead) > 0 {
		msgs := make([]kafka.Message, len(dead))
		for i := range dead {
			s.buf.Reset()
			if err := encodeJSON(&s.buf, &dead[i]); err != nil {
				return err
			}
			key := dead[i].SourceFile + "@" + strconv.FormatInt(dead[i].Offset, 10)
			msgs[i] = kafka.Message{Key: []byte(key), Value: bytes.Clone(s.buf.Bytes()),
				Headers: []kafka.Header{{Key: schemas.HeaderContentType, Value: []byte(schemas.ContentTypeJSON)}}}
		}
		if err := s.dead.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("producing %d dead letters to %s on %v: %w", len(msgs), s.dlq, s.cfg.Brokers, err)
		}
	}
	return nil
}

// kafkaState is the end offset of every partition of the documents topic.
type kafkaState struct {
	Topic string          `json:"topic"`
	Ends  map[int32]int64 `json:"ends"`
}

// State lists the partitions' end offsets. Called right after a Write
// returned and before the next one starts, so every record at or past
// these offsets was written after the checkpoint.
func (s *KafkaSink) State(ctx context.Context) (json.RawMessage, error) {
	ends, err := s.endOffsets(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(kafkaState{Topic: s.topic, Ends: ends})
}

func (s *KafkaSink) endOffsets(ctx context.Context) (map[int32]int64, error) {
	md, err := s.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", s.topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata of %s: topic missing (%v)", s.topic, md.Topics)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	resp, err := s.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", s.topic, err)
	}
	ends := map[int32]int64{}
	for _, po := range resp.Topics[s.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", s.topic, po.Partition, po.Error)
		}
		ends[int32(po.Partition)] = po.LastOffset
	}
	return ends, nil
}

// Resume reads every record appended to the documents topic since the
// checkpoint and returns their keys: those documents made it to Kafka
// before the previous run died and must not be produced twice.
func (s *KafkaSink) Resume(ctx context.Context, state json.RawMessage) (map[string]bool, error) {
	if len(state) == 0 {
		return nil, nil
	}
	var st kafkaState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("kafka sink: resume state: %w", err)
	}
	if st.Topic != s.topic {
		return nil, fmt.Errorf("resume file was written for topic %q, this run produces to %q; use another --resume file", st.Topic, s.topic)
	}
	ends, err := s.endOffsets(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for p, end := range ends {
		from, ok := st.Ends[p]
		if !ok {
			from = 0 // a partition added since the checkpoint
		}
		for from < end {
			resp, err := s.client.Fetch(ctx, &kafka.FetchRequest{Topic: s.topic, Partition: int(p), Offset: from, MaxBytes: 32 << 20, MaxWait: 100 * time.Millisecond})
			if err != nil {
				return nil, fmt.Errorf("reading back %s/%d from offset %d: %w", s.topic, p, from, err)
			}
			if resp.Error != nil {
				return nil, fmt.Errorf("reading back %s/%d from offset %d: %w", s.topic, p, from, resp.Error)
			}
			progressed := false
			for {
				r, err := resp.Records.ReadRecord()
				if err != nil {
					break
				}
				if r.Offset >= from {
					if r.Key != nil {
						var kb bytes.Buffer
						if _, err := kb.ReadFrom(r.Key); err == nil {
							seen[kb.String()] = true
						}
					}
					from = r.Offset + 1
					progressed = true
				}
			}
			if !progressed {
				return nil, fmt.Errorf("reading back %s/%d: no records at offset %d below end %d", s.topic, p, from, end)
			}
		}
	}
	return seen, nil
}

func (s *KafkaSink) Close() error {
	var err error
	if s.docs != nil {
		err = errors.Join(err, s.docs.Close())
	}
	if s.dead != nil {
		err = errors.Join(err, s.dead.Close())
	}
	return err
}
