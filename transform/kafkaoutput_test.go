package transform

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// TestKafkaOutputProduces: KafkaOutput's batches reach the partitions
// kafka-go's Hash balancer picks for their ids, with their headers, and
// decode to the examples written; a broker that goes away between two
// chunks is waited for (the second Write succeeds once it is back); a
// topic whose max.message.bytes takes only a few batches at a time gets
// them in smaller record batches; a batch the topic refuses for good
// fails at once, not after ten tries.
func TestKafkaOutputProduces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := restartableBroker(t, ctx)
	e, err := start()
	if err != nil {
		t.Fatal(err)
	}
	bc := e.Config()
	meta := schemas.ExamplesMeta{MaxSeqLength: 8, VocabSHA256: "00", Tokenizer: "test"}
	out, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: "out.examples", DLQTopic: "out.dlq", Partitions: 3, Meta: meta, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	chunk := func(n, first int) *Chunk {
		c := &Chunk{}
		for i := range n {
			var ex []schemas.Example
			for k := range 1 + (first+i)%4 {
				ex = append(ex, schemas.Example{InputIDs: []int32{101, int32(1000 + first + i), int32(k), 102}, SegmentIDs: []int8{0, 0, 0, 0}, DocID: fmt.Sprint("d", first+i), Source: "books"})
			}
			c.Batches = append(c.Batches, Batch{ID: fmt.Sprintf("in/0/%d-%d/%d", first, first+n-1, i), Examples: ex})
		}
		return c
	}
	want := map[string][]schemas.Example{}
	write := func(c *Chunk) {
		t.Helper()
		if err := out.Write(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, b := range c.Batches {
			want[b.ID] = b.Examples
		}
	}
	write(chunk(12, 0))

	// The broker restarts while the second chunk is being written.
	e.Close()
	back := make(chan error, 1)
	go func() {
		time.Sleep(400 * time.Millisecond)
		var err error
		e, err = start()
		back <- err
	}()
	t0 := time.Now()
	write(chunk(5, 100))
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	t.Logf("the second chunk took %v", time.Since(t0))

	// Read back with franz-go, a client of another lineage than both
	// kafka-go and ProduceConn.
	parts := []int{0, 1, 2}
	var hash kafka.Hash
	got := 0
	cl, err := kgo.NewClient(kgo.SeedBrokers(bc.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"out.examples": {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for got < 17 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d batches: %v", got, err)
		}
		for _, m := range fs.Records() {
			id := string(m.Key)
			if wp := hash.Balance(kafka.Message{Key: m.Key}, parts...); wp != int(m.Partition) {
				t.Errorf("batch %s in partition %d, kafka-go's Hash balancer says %d", id, m.Partition, wp)
			}
			hdr := map[string]string{}
			for _, h := range m.Headers {
				hdr[h.Key] = string(h.Value)
			}
			if hdr[schemas.ExamplesHeaderBatchID] != id || hdr[schemas.ExamplesHeaderSchema] != schemas.ExamplesSchemaName || hdr[schemas.ExamplesHeaderContentType] != schemas.ExamplesContentType {
				t.Errorf("batch %s: headers %v", id, hdr)
			}
			b, err := schemas.DecodeExamplesMessage(m.Value)
			if err != nil {
				t.Fatalf("batch %s: %v", id, err)
			}
			ex, ok := want[id]
			if !ok {
				t.Fatalf("batch %s arrived twice or was never written", id)
			}
			if b.Rows != len(ex) {
				t.Fatalf("batch %s: %d rows, want %d", id, b.Rows, len(ex))
			}
			for i := range ex {
				if g := b.Example(i); !slices.Equal(g.InputIDs, ex[i].InputIDs) || g.DocID != ex[i].DocID {
					t.Fatalf("batch %s row %d: %v %q, want %v %q", id, i, g.InputIDs, g.DocID, ex[i].InputIDs, ex[i].DocID)
				}
			}
			delete(want, id)
			got++
		}
	}
	if len(want) != 0 || got != 17 {
		t.Fatalf("%d batches read, %d never arrived", got, len(want))
	}

	// A topic that takes about three batches per record batch: the chunk
	// goes out in halves, and halves of halves, until they fit.
	one, err := schemas.EncodeExamplesMessage(meta, chunk(1, 300).Batches[0].Examples)
	if err != nil {
		t.Fatal(err)
	}
	limit := 3 * (len(one) + 200)
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: "medium.examples", Partitions: 1, Configs: map[string]string{"max.message.bytes": fmt.Sprint(limit)}}}); err != nil {
		t.Fatal(err)
	}
	medium, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: "medium.examples", DLQTopic: "out.dlq", Meta: meta, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer medium.Close()
	if err := medium.Write(ctx, chunk(12, 300)); err != nil {
		t.Fatalf("12 batches to a topic that takes %d bytes per record batch: %v", limit, err)
	}
	mc, err := kgo.NewClient(kgo.SeedBrokers(bc.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"medium.examples": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	for n := 0; n < 12; {
		fs := mc.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d of 12 batches: %v", n, err)
		}
		n += len(fs.Records())
	}

	// A topic that refuses batches over 1 KiB: a lasting error.
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: "tiny.examples", Partitions: 1, Configs: map[string]string{"max.message.bytes": "1024"}}}); err != nil {
		t.Fatal(err)
	}
	tiny, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: "tiny.examples", DLQTopic: "out.dlq", Meta: meta, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer tiny.Close()
	t1 := time.Now()
	if err := tiny.Write(ctx, chunk(40, 200)); err == nil {
		t.Fatal("a topic with a 1 KiB limit took 40 batches in one record batch")
	} else if d := time.Since(t1); d > 2*time.Second {
		t.Fatalf("a lasting refusal took %v (tried again?): %v", d, err)
	}
}
