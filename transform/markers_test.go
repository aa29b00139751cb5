package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// TestKafkaInputPassesTransactionMarkers: documents written in a
// transaction arrive without the commit marker that follows them, and a
// log that ends with the marker is not fetched again and again (kafka-go
// skips markers without a record to move the offset past them).
func TestKafkaInputPassesTransactionMarkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bc := e.Config()
	const topic = "txn.docs"
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: topic, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	doc := func(i int) *kgo.Record {
		v, err := json.Marshal(schemas.Document{ID: fmt.Sprint("d", i), Source: "books", Text: "Call me Ishmael."})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: topic, Value: v}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.TransactionalID("txn-docs"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, doc(i)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: "txn", SessionTimeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	next := func(want int64) {
		t.Helper()
		rec, err := in.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset != want {
			t.Fatalf("record at offset %d, want %d", rec.Offset, want)
		}
		in.Recycle(rec)
	}
	for off := range int64(3) {
		next(off)
	}
	// The commit marker is offset 3 and the end of the log: at most one
	// fetch per MaxWait (250 ms) from here, where one that came back with
	// the marker at once made thousands a second.
	time.Sleep(200 * time.Millisecond)
	f0 := in.fetches.Load()
	time.Sleep(time.Second)
	if n := in.fetches.Load() - f0; n > 20 {
		t.Fatalf("%d fetches in a second at a log ending with a transaction marker", n)
	}
	// A document after the marker still arrives.
	plain, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.ProduceSync(ctx, doc(3)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	next(4)
}
