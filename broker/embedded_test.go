package broker

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEmbeddedPersistsAcrossRestart: topics created with their partitions
// and an explicit retention, a message over Kafka's 1 MiB default, and
// everything still there after the broker restarts on the same data dir.
func TestEmbeddedPersistsAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.Config()
	specs := []TopicSpec{{Name: "docs", Partitions: 3, Configs: map[string]string{"retention.ms": "3600000"}}, {Name: "dlq"}}
	if err := EnsureTopics(ctx, cfg, specs); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, cfg, specs); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	tr, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: "docs", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		Transport: tr, BatchBytes: MaxMessageBytes, BatchTimeout: time.Millisecond}
	big := bytes.Repeat([]byte("x"), 4<<20)
	var msgs []kafka.Message
	for i := range 50 {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint("v", i))})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("big"), Value: big})
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce (with a 4 MiB message): %v", err)
	}
	w.Close()
	b.Close()

	b2, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b2.Addrs()...), kgo.ConsumeTopics("docs"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]int{}
	parts := map[int32]bool{}
	for len(got) < len(msgs) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("fetch: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[string(r.Key)] = len(r.Value)
			parts[r.Partition] = true
		})
	}
	if len(got) != len(msgs) || got["big"] != len(big) {
		t.Fatalf("after restart: %d of %d records (big: %d bytes)", len(got), len(msgs), got["big"])
	}
	if len(parts) < 2 {
		t.Errorf("records landed in partitions %v; want them spread over the 3", parts)
	}
	adm := kadm.NewClient(cl)
	tds, err := adm.ListTopics(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds["docs"].Partitions); n != 3 {
		t.Errorf("docs has %d partitions, want 3", n)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "docs", "dlq")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		want := map[string]string{"docs": "3600000", "dlq": fmt.Sprint(DefaultRetention.Milliseconds())}[rc.Name]
		found := false
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" && c.MaybeValue() == want {
				found = true
			}
		}
		if !found {
			t.Errorf("topic %s lacks retention.ms=%s: %v", rc.Name, want, rc.Configs)
		}
	}
}

func TestStartEmbeddedErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  EmbeddedConfig
		want string
	}{
		{"no data dir", EmbeddedConfig{}, "DataDir"},
		{"bad port", EmbeddedConfig{InMemory: true, Port: 70000}, "Port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StartEmbedded(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		brokers []string
		want    string
	}{
		{nil, "Brokers is empty"},
		{[]string{"localhost"}, `"localhost" is not host:port`},
		{[]string{"localhost:9092"}, ""},
	} {
		err := Config{Brokers: tc.brokers}.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%v) = %v, want %q", tc.brokers, err, tc.want)
		}
	}
	if got := ParseBrokers(" a:1, b:2,,"); len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Errorf("ParseBrokers = %v", got)
	}
}
