package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/broker/brokertest"
	"github.com/electra-go/electra/schemas"
)

// TestKafkaInputPassesTransactionMarkers: documents written in a
// transaction arrive without the commit marker that follows them, and a
// log that ends with the marker is not fetched again and again (kafka-go
// skips markers without a record to move the offset past them).
func TestKafkaInputPassesTransactionMarkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "txn.docs"
	e, bc := embeddedTopic(t, ctx, topic)
	doc := func(i int) *kgo.Record {
		v, err := json.Marshal(schemas.Document{ID: fmt.Sprint("d", i), Source: "books", Text: "Call me Ishmael."})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: topic, Value: v}
	}
	brokertest.ProduceCommitted(ctx, t, e.Addrs(), "txn-docs", doc(0), doc(1), doc(2))

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

// TestKafkaInputSurvivesBrokerRestart: the broker goes away mid-stream
// and comes back on the same address with its log; the input's fetches
// fail, back off and resume, and the documents written after the restart
// arrive (with the earlier ones again, as the group never committed).
func TestKafkaInputSurvivesBrokerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := restartableBroker(t, ctx)
	e, err := start()
	if err != nil {
		t.Fatal(err)
	}
	bc := e.Config()
	const topic = "restart.docs"
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: topic, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(bc.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := from; i < to; i++ {
			v, _ := json.Marshal(schemas.Document{ID: fmt.Sprint("d", i), Source: "books", Text: "Call me Ishmael."})
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: v}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 3)
	in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: "restart", SessionTimeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	seen := map[int64]bool{}
	read := func(until int64) {
		t.Helper()
		for !seen[until] {
			rec, err := in.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for offset %d (have %v): %v", until, seen, err)
			}
			seen[rec.Offset] = true
			in.Recycle(rec)
		}
	}
	read(2)
	e.Close()
	time.Sleep(500 * time.Millisecond) // fetches fail meanwhile
	if e, err = start(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	produce(3, 6)
	read(5)
	for off := range int64(6) {
		if !seen[off] {
			t.Fatalf("offset %d never arrived (have %v)", off, seen)
		}
	}
}

// restartableBroker returns a function that starts an embedded broker
// on the same port and data directory each time, so that clients find a
// restarted broker where the last one was, with its logs.
func restartableBroker(t *testing.T, ctx context.Context) func() (*broker.Embedded, error) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return func() (*broker.Embedded, error) {
		return broker.StartEmbedded(ctx, broker.EmbeddedConfig{DataDir: dir, Port: port})
	}
}

// TestKafkaInputReportsUnreachableBroker: a member that never got into
// the group (nothing listens at the address) ends with an error naming
// the group, rather than retrying forever.
func TestKafkaInputReportsUnreachableBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: broker.Config{Brokers: []string{addr}}, Topic: "docs", Group: "nowhere", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.Next(ctx); err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), `consumer group "nowhere"`) {
		t.Fatalf("Next: %v (context: %v), want the group's error", err, ctx.Err())
	}
}

// TestKafkaInputReadsCompressedAndPlainBatches: records in uncompressed
// batches are handed over in place in the fetch response, and come back
// intact after the buffer is reused; a topic whose producer compresses
// (here LZ4, after plain batches) is read on through kafka-go's decoder,
// nothing skipped or repeated.
func TestKafkaInputReadsCompressedAndPlainBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "mixed.docs"
	_, bc := embeddedTopic(t, ctx, topic)
	value := func(i int) []byte {
		v, _ := json.Marshal(schemas.Document{ID: fmt.Sprint("d", i), Source: "books", Text: strings.Repeat(fmt.Sprint("Call me Ishmael ", i, ". "), 1+i%40)})
		return v
	}
	tr, _ := bc.Transport()
	produce := func(codec kafka.Compression, from, to int) {
		t.Helper()
		w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: topic, Compression: codec, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: tr}
		defer w.Close()
		var msgs []kafka.Message
		for i := from; i < to; i++ {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint("d", i)), Value: value(i)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 0, 200)
	produce(kafka.Lz4, 200, 300)
	var logs syncBuffer
	in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: "mixed", SessionTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// Records are held a while, as the stage's queues hold them, and
	// checked only when recycled: a buffer reused too early would show.
	var held []Record
	for i := range 300 {
		rec, err := in.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Offset != int64(i) {
			t.Fatalf("record at offset %d, want %d", rec.Offset, i)
		}
		held = append(held, rec)
		if len(held) == 40 || i == 299 {
			for _, r := range held {
				if want := value(int(r.Offset)); string(r.Value) != string(want) || string(r.Key) != fmt.Sprint("d", r.Offset) {
					t.Fatalf("offset %d: key %q, value %.40q, want %.40q", r.Offset, r.Key, r.Value, want)
				}
				in.Recycle(r)
			}
			held = held[:0]
		}
	}
	// The switch to kafka-go's decoder came at the first compressed batch.
	if n := strings.Count(logs.String(), "compressed record batches"); n != 1 || !strings.Contains(logs.String(), "offset=200") {
		t.Fatalf("want one switch to kafka-go's decoder, at offset 200; log:\n%s", logs.String())
	}
}

// embeddedTopic starts an in-memory broker, closed when the test ends,
// with topic on one partition.
func embeddedTopic(t *testing.T, ctx context.Context, topic string) (*broker.Embedded, broker.Config) {
	t.Helper()
	e, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	bc := e.Config()
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: topic, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	return e, bc
}

// TestKafkaInputGoesOnPastDeletedRecords: the group committed offset 2,
// then retention deleted the log up to offset 5; the input goes on from
// the log's start rather than retrying offset 2 forever.
func TestKafkaInputGoesOnPastDeletedRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, group = "deleted.docs", "deleted"
	e, bc := embeddedTopic(t, ctx, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 8 {
		v, _ := json.Marshal(schemas.Document{ID: fmt.Sprint("d", i), Source: "books", Text: "Call me Ishmael."})
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	var commit kadm.Offsets
	commit.AddOffset(topic, 0, 2, -1)
	if err := adm.CommitAllOffsets(ctx, group, commit); err != nil {
		t.Fatal(err)
	}
	var del kadm.Offsets
	del.AddOffset(topic, 0, 5, -1)
	if res, err := adm.DeleteRecords(ctx, del); err != nil || res.Error() != nil {
		t.Fatalf("deleting records: %v, %v", err, res.Error())
	}
	var logs syncBuffer
	in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: group, SessionTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rec, err := in.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Offset != 5 {
		t.Fatalf("first record at offset %d, want 5 (the log's start)", rec.Offset)
	}
	if !strings.Contains(logs.String(), "records were deleted from the log") {
		t.Fatalf("no warning about the deleted records; log:\n%s", logs.String())
	}
}
