package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/electra-go/electra/broker/brokertest"
)

// TestProduceConn produces batches with ProduceConn and reads them back
// with kafka-go's reader, which checks each batch's CRC, so that what
// reaches the log is what kafka-go itself would read: keys, values (null,
// empty, large), headers and offsets.
func TestProduceConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bc := embeddedTopics(ctx, t, "out")
	pc, err := bc.DialProduce(ctx, "out", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	batches := [][]ProduceRecord{
		{{Key: []byte("a"), Value: []byte("first"), Headers: []kafka.Header{{Key: "schema", Value: []byte("s")}, {Key: "id", Value: []byte("a/0")}}}},
		{
			{Key: nil, Value: []byte("no key")},
			{Key: []byte("null value"), Value: nil},
			{Key: []byte("empty value"), Value: []byte{}, Headers: []kafka.Header{{Key: "empty", Value: []byte{}}, {Key: "null"}}},
			{Key: []byte("big"), Value: big},
		},
		{{Key: []byte("last"), Value: []byte("after the big one")}},
		// Values whose CRCs the caller took: the broker checks the batch's.
		{
			{Key: []byte("crc"), Value: big[:350_000], ValueCRC: CastagnoliChecksum(big[:350_000]), HasValueCRC: true},
			{Key: []byte("crc, headers"), Value: []byte("x"), ValueCRC: CastagnoliChecksum([]byte("x")), HasValueCRC: true, Headers: []kafka.Header{{Key: "h", Value: []byte("v")}}},
			{Key: []byte("no crc"), Value: []byte("y")},
		},
	}
	var want []ProduceRecord
	next := int64(0)
	for i, b := range batches {
		base, err := pc.Produce(ctx, b, 10*time.Second)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if base != next {
			t.Fatalf("batch %d at offset %d, want %d", i, base, next)
		}
		next += int64(len(b))
		want = append(want, b...)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: bc.Brokers, Topic: "out", Partition: 0, MaxBytes: 4 << 20})
	defer r.Close()
	for i, w := range want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if m.Offset != int64(i) || !bytes.Equal(m.Key, w.Key) || !bytes.Equal(m.Value, w.Value) {
			t.Fatalf("record %d: offset %d key %q value %d bytes; want key %q value %d bytes", i, m.Offset, m.Key, len(m.Value), w.Key, len(w.Value))
		}
		if len(m.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(m.Headers), len(w.Headers))
		}
		for k, h := range w.Headers {
			if m.Headers[k].Key != h.Key || !bytes.Equal(m.Headers[k].Value, h.Value) {
				t.Fatalf("record %d header %d: %q=%q, want %q=%q", i, k, m.Headers[k].Key, m.Headers[k].Value, h.Key, h.Value)
			}
		}
	}

	// Null and empty stay apart (kafka-go's reader shows both as empty).
	_, vals, _, err := fetchAll(t, ctx, bc, "out", 2, 1<<20)
	if err != nil || len(vals) < 2 {
		t.Fatalf("fetching back: %v, %d records", err, len(vals))
	}
	fc, err := bc.DialFetch(ctx, "out", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	res, _, err := fc.Fetch(ctx, 2, 1<<20, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	nulls := map[string]bool{}
	EachRecord(res.Records, 2, func(r FetchedRecord) bool {
		nulls[string(r.Key)] = r.Value == nil
		return true
	})
	if !nulls["null value"] || nulls["empty value"] {
		t.Fatalf("null value read as null: %v, empty value read as null: %v", nulls["null value"], nulls["empty value"])
	}

	t.Run("the partition's error comes back as a kafka.Error", func(t *testing.T) {
		if err := EnsureTopics(ctx, bc, []TopicSpec{{Name: "small", Partitions: 1, Configs: map[string]string{"max.message.bytes": "1048576"}}}); err != nil {
			t.Fatal(err)
		}
		pc, err := bc.DialProduce(ctx, "small", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		_, err = pc.Produce(ctx, []ProduceRecord{{Value: append(big, big...)}}, time.Second)
		var ke kafka.Error
		if !errors.As(err, &ke) || ke.Temporary() {
			t.Fatalf("a 2 MiB batch where 1 MiB is allowed: %v, want a lasting kafka.Error", err)
		}
		// The connection is still good after a partition error.
		if base, err := pc.Produce(ctx, []ProduceRecord{{Value: []byte("fits")}}, time.Second); err != nil || base != 0 {
			t.Fatalf("after the refusal: offset %d, %v", base, err)
		}
	})

	t.Run("a wrong ValueCRC makes a corrupt batch", func(t *testing.T) {
		_, err := pc.Produce(ctx, []ProduceRecord{{Value: []byte("v"), ValueCRC: CastagnoliChecksum([]byte("w")), HasValueCRC: true}}, time.Second)
		if !errors.Is(err, kafka.InvalidMessage) {
			t.Fatalf("a batch with a value's CRC wrong: %v, want InvalidMessage (CORRUPT_MESSAGE)", err)
		}
	})

	t.Run("unknown partition", func(t *testing.T) {
		if _, err := bc.DialProduce(ctx, "out", 7); err == nil {
			t.Fatal("dialled the leader of a partition that does not exist")
		}
	})

	t.Run("SASL is left to kafka-go", func(t *testing.T) {
		sc := bc
		sc.Security.SASL = &SASLConfig{Mechanism: "PLAIN"}
		if _, err := sc.DialProduce(ctx, "out", 0); !errors.Is(err, ErrProduceUnsupported) {
			t.Fatalf("DialProduce with SASL: %v, want ErrProduceUnsupported", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		if _, err := pc.Produce(cctx, []ProduceRecord{{Value: []byte("x")}}, time.Second); !errors.Is(err, context.Canceled) {
			t.Fatalf("produce with a cancelled context: %v", err)
		}
	})
}

func TestParseProduceResponse(t *testing.T) {
	resp := func(corr int32, topic string, parts ...[3]int64) []byte {
		var b []byte
		b = binary.BigEndian.AppendUint32(b, uint32(corr))
		b = binary.BigEndian.AppendUint32(b, 1)
		b = appendString(b, topic)
		b = binary.BigEndian.AppendUint32(b, uint32(len(parts)))
		for _, p := range parts {
			b = binary.BigEndian.AppendUint32(b, uint32(p[0]))
			b = binary.BigEndian.AppendUint16(b, uint16(p[1]))
			b = binary.BigEndian.AppendUint64(b, uint64(p[2]))
			b = binary.BigEndian.AppendUint64(b, 0xFFFFFFFFFFFFFFFF)
		}
		return binary.BigEndian.AppendUint32(b, 0)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		base int64
		code int16
		err  bool
	}{
		{"ok", resp(7, "t", [3]int64{3, 0, 42}), 42, 0, false},
		{"other partitions first", resp(7, "t", [3]int64{1, 0, 9}, [3]int64{3, 10, -1}), -1, 10, false},
		{"wrong correlation id", resp(8, "t", [3]int64{3, 0, 42}), 0, 0, true},
		{"another topic", resp(7, "u", [3]int64{3, 0, 42}), 0, 0, true},
		{"cut short", resp(7, "t", [3]int64{3, 0, 42})[:20], 0, 0, true},
		{"empty", nil, 0, 0, true},
	} {
		base, code, err := parseProduceResponse(tc.b, 7, "t", 3)
		if (err != nil) != tc.err || err == nil && (base != tc.base || code != tc.code) {
			t.Errorf("%s: %d, %d, %v; want %d, %d, error %v", tc.name, base, code, err, tc.base, tc.code, tc.err)
		}
	}
}

func FuzzParseProduceResponse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 7, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 7, 0x7F, 0xFF, 0xFF, 0xFF})
	f.Add(bytes.Repeat([]byte{0xFF}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := parseProduceResponse(b, 7, "t", 3); err == nil && len(b) < 4+4 {
			t.Fatalf("accepted %d bytes", len(b))
		}
	})
}

// TestRawConnsOverTLS: ProduceConn and FetchConn over mutual TLS (no
// SASL), where the vectored write falls back to one write per piece.
func TestRawConnsOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := brokertest.NewPKI(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{p.ServerCert},
		ClientCAs:    p.CAPool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc := Config{Brokers: c.ListenAddrs(), Security: Security{TLS: &TLSConfig{CA: p.CAFile, Cert: p.ClientCert, Key: p.ClientKey}}}
	if err := EnsureTopics(ctx, bc, []TopicSpec{{Name: "tls", Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	pc, err := bc.DialProduce(ctx, "tls", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	value := bytes.Repeat([]byte("over TLS "), 50000)
	if _, err := pc.Produce(ctx, []ProduceRecord{{Key: []byte("a"), Value: value}, {Key: []byte("b"), Value: []byte("short")}}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_, vals, next, err := fetchAll(t, ctx, bc, "tls", 0, 1<<20)
	if err != nil || next != 2 || vals[0] != "a="+string(value) || vals[1] != "b=short" {
		t.Fatalf("read back %d records up to %d (%v)", len(vals), next, err)
	}
}

// TestCastagnoliConcat: the CRC of two pieces from theirs is the CRC of
// the whole, for pieces of every length up to past a record batch.
func TestCastagnoliConcat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 2, 3, 4, 7, 8, 63, 64, 65, 1000, 4096, 65537, 350_000, 1 << 20} {
		for _, split := range []int{0, 1, n / 3, n} {
			if split > n {
				continue
			}
			a, b := data[:split], data[split:n]
			got := castagnoliConcat(CastagnoliChecksum(a), CastagnoliChecksum(b), len(b))
			if want := CastagnoliChecksum(data[:n]); got != want {
				t.Fatalf("%d bytes split at %d: %08x, want %08x", n, split, got, want)
			}
		}
	}
}
