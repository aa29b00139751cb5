package transform

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/dataset"
)

// TopicStats counts what ReadTopic saw.
type TopicStats struct {
	Messages   int64
	Duplicates int64 // messages whose batch id was already seen (redeliveries)
	Rows       int64
}

// ReadTopic reads every partition of an examples topic from its first
// offset to the end offset it had when ReadTopic started, decodes each
// message, drops messages whose batch-id header was seen before (an
// at-least-once redelivery), and calls fn with the rest in partition order.
// The id set grows with the topic: ~50 bytes per batch.
func ReadTopic(ctx context.Context, cfg broker.Config, topic string, fn func(id string, b *schemas.ExampleBatch) error) (TopicStats, error) {
	var st TopicStats
	cl, err := cfg.Client()
	if err != nil {
		return st, err
	}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return st, fmt.Errorf("metadata of %s on %v: %w", topic, cfg.Brokers, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return st, fmt.Errorf("topic %s on %v: not found (%v)", topic, cfg.Brokers, md.Topics)
	}
	var reqs []kafka.OffsetRequest
	var parts []int
	for _, p := range md.Topics[0].Partitions {
		parts = append(parts, p.ID)
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	slices.Sort(parts)
	offs, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return st, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	bounds := map[int][2]int64{}
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return st, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		bounds[po.Partition] = [2]int64{po.FirstOffset, po.LastOffset}
	}
	dialer, err := cfg.Dialer()
	if err != nil {
		return st, err
	}
	seen := map[string]bool{}
	for _, p := range parts {
		first, end := bounds[p][0], bounds[p][1]
		if end <= first {
			continue
		}
		if err := readPartition(ctx, cfg, dialer, topic, p, first, end, func(m kafka.Message) error {
			st.Messages++
			id := header(m, schemas.ExamplesHeaderBatchID)
			if id == "" {
				return fmt.Errorf("%s/%d offset %d: no %s header (not written by electra transform?)", topic, p, m.Offset, schemas.ExamplesHeaderBatchID)
			}
			if seen[id] {
				st.Duplicates++
				return nil
			}
			seen[id] = true
			b, err := schemas.DecodeExamplesMessage(m.Value)
			if err != nil {
				return fmt.Errorf("%s/%d offset %d (batch %s): %w", topic, p, m.Offset, id, err)
			}
			st.Rows += int64(b.Rows)
			return fn(id, b)
		}); err != nil {
			return st, err
		}
	}
	return st, nil
}

func readPartition(ctx context.Context, cfg broker.Config, dialer *kafka.Dialer, topic string, p int, first, end int64, fn func(kafka.Message) error) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, Topic: topic, Partition: p, Dialer: dialer,
		MinBytes: 1, MaxBytes: broker.MaxMessageBytes, MaxWait: 250 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return err
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("reading %s/%d: %w", topic, p, err)
		}
		if err := fn(m); err != nil {
			return err
		}
		if m.Offset >= end-1 {
			return nil
		}
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Export writes the deduplicated batches of an examples topic to a new
// dataset directory.
func Export(ctx context.Context, cfg broker.Config, topic, dir string, opts dataset.Options) (TopicStats, dataset.Manifest, error) {
	var w *dataset.Writer
	var meta schemas.ExamplesMeta
	st, err := ReadTopic(ctx, cfg, topic, func(id string, b *schemas.ExampleBatch) error {
		if w == nil {
			meta = b.Meta
			var err error
			if w, err = dataset.Create(dir, meta, opts); err != nil {
				return err
			}
		} else if b.Meta != meta {
			return fmt.Errorf("batch %s has metadata %+v, earlier batches %+v: the topic mixes vocabularies or lengths", id, b.Meta, meta)
		}
		ex := make([]schemas.Example, b.Rows)
		for i := range ex {
			ex[i] = b.Example(i)
		}
		return w.Write(ex)
	})
	if err != nil {
		return st, dataset.Manifest{}, err
	}
	if w == nil {
		return st, dataset.Manifest{}, fmt.Errorf("topic %s holds no batches", topic)
	}
	if err := w.Close(); err != nil {
		return st, dataset.Manifest{}, err
	}
	return st, w.Manifest(), nil
}
