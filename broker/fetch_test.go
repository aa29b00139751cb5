package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker/brokertest"
)

// fetchAll reads topic/0 from offset from to the end with a FetchConn and
// returns the records' offsets and values, the offset after them, and
// EachRecord's error, if any.
func fetchAll(t *testing.T, ctx context.Context, bc Config, topic string, from int64, maxBytes int) ([]int64, []string, int64, error) {
	t.Helper()
	fc, err := bc.DialFetch(ctx, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	var offs []int64
	var vals []string
	var buf []byte
	off := from
	for {
		var res FetchResult
		res, buf, err = fc.Fetch(ctx, off, maxBytes, 50*time.Millisecond, buf)
		if err != nil {
			t.Fatal(err)
		}
		if res.Err != nil {
			t.Fatalf("fetch at %d: %v", off, res.Err)
		}
		// Fetch checked the CRC of every whole batch as it arrived.
		if whole := wholeBatches(res.Records); res.verified != whole {
			t.Fatalf("fetch at %d: %d bytes of batches checked on arrival, want the %d of its whole batches", off, res.verified, whole)
		}
		next, err := res.EachRecord(off, func(r FetchedRecord) bool {
			offs = append(offs, r.Offset)
			vals = append(vals, string(r.Key)+"="+string(r.Value))
			return true
		})
		if err != nil {
			return offs, vals, next, err
		}
		if next == off {
			if off < res.HighWatermark {
				t.Fatalf("no progress at %d below the high watermark %d", off, res.HighWatermark)
			}
			return offs, vals, next, nil
		}
		off = next
	}
}

func TestFetchConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bc := embeddedTopics(ctx, t, "plain", "lz4", "txn")
	tr, _ := bc.Transport()
	produce := func(topic string, codec kafka.Compression, msgs ...kafka.Message) {
		t.Helper()
		w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: topic, Compression: codec, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: tr}
		defer w.Close()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(i int) kafka.Message {
		m := kafka.Message{Value: fmt.Appendf(nil, "value %d %s", i, make([]byte, i*37%300))}
		if i%3 != 0 {
			m.Key = fmt.Appendf(nil, "k%d", i)
		}
		if i%5 == 0 {
			m.Headers = []kafka.Header{{Key: "h", Value: []byte("v")}}
		}
		return m
	}
	var want []string
	for batch := range 4 { // several record batches
		var msgs []kafka.Message
		for i := range 25 {
			m := msg(25*batch + i)
			msgs = append(msgs, m)
			want = append(want, string(m.Key)+"="+string(m.Value))
		}
		produce("plain", 0, msgs...)
	}

	t.Run("all records in order, values in place", func(t *testing.T) {
		offs, vals, next, err := fetchAll(t, ctx, bc, "plain", 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != len(want) || next != int64(len(want)) {
			t.Fatalf("%d records, next %d; want %d", len(vals), next, len(want))
		}
		for i := range vals {
			if offs[i] != int64(i) || vals[i] != want[i] {
				t.Fatalf("record %d: offset %d %q, want %q", i, offs[i], vals[i], want[i])
			}
		}
	})
	t.Run("from the middle of a batch, small responses", func(t *testing.T) {
		// 1 KiB responses cut batches short: the broker still sends one
		// whole batch at least, and the cut one is read again next time.
		offs, vals, _, err := fetchAll(t, ctx, bc, "plain", 37, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if len(offs) != len(want)-37 || offs[0] != 37 || vals[0] != want[37] {
			t.Fatalf("%d records from %v; want %d from 37", len(offs), offs[:min(1, len(offs))], len(want)-37)
		}
	})
	t.Run("compressed batch stops at its offset", func(t *testing.T) {
		produce("lz4", 0, msg(1), msg(2))
		produce("lz4", kafka.Lz4, msg(3), msg(4))
		offs, _, next, err := fetchAll(t, ctx, bc, "lz4", 0, 1<<20)
		if !errors.Is(err, ErrBatchUnsupported) || len(offs) != 2 || next != 2 {
			t.Fatalf("read %v, next %d, err %v; want offsets 0 and 1, then ErrBatchUnsupported at 2", offs, next, err)
		}
	})
	t.Run("transaction markers are passed over", func(t *testing.T) {
		var recs []*kgo.Record
		for i := range 3 {
			recs = append(recs, &kgo.Record{Topic: "txn", Value: fmt.Append(nil, i)})
		}
		brokertest.ProduceCommitted(ctx, t, bc.Brokers, "fetch-test", recs...)
		offs, _, next, err := fetchAll(t, ctx, bc, "txn", 0, 1<<20)
		if err != nil || len(offs) != 3 || next != 4 {
			t.Fatalf("read %v, next %d, err %v; want 3 records and the marker passed (next 4)", offs, next, err)
		}
	})
	t.Run("offset out of range", func(t *testing.T) {
		fc, err := bc.DialFetch(ctx, "plain", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fc.Close()
		res, _, err := fc.Fetch(ctx, 1000, 1<<20, 10*time.Millisecond, nil)
		if err != nil || !errors.Is(res.Err, kafka.OffsetOutOfRange) {
			t.Fatalf("fetch past the end: %v, %v; want OffsetOutOfRange", res.Err, err)
		}
	})
	t.Run("cancelled while the broker waits", func(t *testing.T) {
		fc, err := bc.DialFetch(ctx, "plain", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fc.Close()
		cctx, ccancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer ccancel()
		start := time.Now()
		_, _, err = fc.Fetch(cctx, int64(len(want)), 1<<20, 10*time.Second, nil)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("fetch at the end with a 10 s wait, cancelled at 100 ms: %v after %v", err, time.Since(start))
		}
	})
	t.Run("SASL is left to kafka-go", func(t *testing.T) {
		sc := bc
		sc.Security.SASL = &SASLConfig{Mechanism: "PLAIN"}
		if _, err := sc.DialFetch(ctx, "plain", 0); !errors.Is(err, ErrFetchUnsupported) {
			t.Fatalf("DialFetch with SASL: %v, want ErrFetchUnsupported", err)
		}
	})
}

// FuzzEachRecord: whatever the bytes, EachRecord returns without panicking,
// yields records in increasing offsets at or above from, and never moves
// backwards.
func FuzzEachRecord(f *testing.F) {
	// A real batch of two records, as kafka-go writes it, for the corpus.
	f.Add(realBatch(f), int64(0))
	f.Add([]byte{}, int64(5))
	f.Fuzz(func(t *testing.T, b []byte, from int64) {
		// Mostly with correct CRCs, or the fuzzer would seldom get past
		// them to the records.
		if len(b) > 0 && b[0]&1 == 0 {
			withCRCs(b)
		}
		last := from - 1
		next, err := EachRecord(b, from, func(r FetchedRecord) bool {
			if r.Offset <= last {
				t.Fatalf("offset %d after %d", r.Offset, last)
			}
			last = r.Offset
			return true
		})
		if next < from && err == nil {
			t.Fatalf("next %d before from %d", next, from)
		}
	})
}

// realBatch fetches a batch of two records from an embedded broker.
func realBatch(f *testing.F) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bc := embeddedTopics(ctx, f, "seed")
	tr, _ := bc.Transport()
	w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: "seed", BatchTimeout: time.Millisecond, Transport: tr}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("one")}, kafka.Message{Value: []byte("two"), Headers: []kafka.Header{{Key: "h", Value: []byte("v")}}}); err != nil {
		f.Fatal(err)
	}
	w.Close()
	fc, err := bc.DialFetch(ctx, "seed", 0)
	if err != nil {
		f.Fatal(err)
	}
	defer fc.Close()
	res, _, err := fc.Fetch(ctx, 0, 1<<20, 10*time.Millisecond, nil)
	if err != nil || len(res.Records) == 0 {
		f.Fatalf("seed batch: %v (%d bytes)", err, len(res.Records))
	}
	return res.Records
}

// batchV2 lays out a record batch (format v2) holding values at offsets
// base, base+1, ...
func batchV2(base int64, attrs uint16, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		var r []byte
		r = append(r, 0)                     // attributes
		r = binary.AppendVarint(r, 0)        // timestamp delta
		r = binary.AppendVarint(r, int64(i)) // offset delta
		r = binary.AppendVarint(r, -1)       // null key
		r = binary.AppendVarint(r, int64(len(v)))
		r = append(r, v...)
		r = binary.AppendVarint(r, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(base))
	b = binary.BigEndian.AppendUint32(b, uint32(49+len(recs))) // length after this field
	b = binary.BigEndian.AppendUint32(b, 0)                    // leader epoch
	b = append(b, 2)                                           // magic
	b = binary.BigEndian.AppendUint32(b, 0)                    // crc
	b = binary.BigEndian.AppendUint16(b, attrs)
	b = binary.BigEndian.AppendUint32(b, uint32(max(len(values)-1, 0))) // last offset delta
	b = append(b, make([]byte, 8+8+8+2+4)...)                           // timestamps, producer id and epoch, base sequence
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)))
	return withCRCs(append(b, recs...))
}

// wholeBatches is how many bytes of records are whole batches.
func wholeBatches(records []byte) int {
	n := 0
	for rest := records; len(rest) >= 61; {
		size := 12 + int(int32(binary.BigEndian.Uint32(rest[8:])))
		if size < 61 || size > len(rest) {
			break
		}
		n += size
		rest = rest[size:]
	}
	return n
}

// withCRCs sets the CRC of every whole batch in b, in place, and returns b.
func withCRCs(b []byte) []byte {
	for rest := b; len(rest) >= 61; {
		size := 12 + int(int32(binary.BigEndian.Uint32(rest[8:])))
		if size < 61 || size > len(rest) {
			break
		}
		binary.BigEndian.PutUint32(rest[17:], crc32.Checksum(rest[21:size], castagnoli))
		rest = rest[size:]
	}
	return b
}

func TestEachRecordEdges(t *testing.T) {
	two := batchV2(10, 0, "a", "bc")
	badLen := slices.Clone(two)
	binary.BigEndian.PutUint32(badLen[8:], 20)
	badRec := slices.Clone(two)
	badRec[61] = 0x7e // first record's length varint: 63, past the batch
	withCRCs(badRec)
	badCRC := slices.Clone(two)
	badCRC[len(badCRC)-1] ^= 1
	for _, tc := range []struct {
		name    string
		records []byte
		from    int64
		want    []string
		next    int64
		err     error // nil, or errAny for any error
	}{
		{"two records", two, 10, []string{"a", "bc"}, 12, nil},
		{"from the second", two, 11, []string{"bc"}, 12, nil},
		{"batch cut short at the end", append(slices.Clone(two), two[:30]...), 10, []string{"a", "bc"}, 12, nil},
		{"only a cut batch", two[:40], 10, nil, 10, nil},
		{"control batch passed over", append(batchV2(10, 0x20, "marker"), batchV2(11, 0, "x")...), 10, []string{"x"}, 12, nil},
		{"compressed batch", append(slices.Clone(two), batchV2(12, 3, "z")...), 10, []string{"a", "bc"}, 12, ErrBatchUnsupported},
		{"length below a header", badLen, 10, nil, 10, errAny},
		{"record past its batch", badRec, 10, nil, 10, errAny},
		{"CRC mismatch", badCRC, 10, nil, 10, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			next, err := EachRecord(tc.records, tc.from, func(r FetchedRecord) bool {
				got = append(got, string(r.Value))
				return true
			})
			switch {
			case tc.err == nil && err != nil, tc.err == errAny && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if !slices.Equal(got, tc.want) || next != tc.next {
				t.Fatalf("records %q, next %d; want %q, %d", got, next, tc.want, tc.next)
			}
		})
	}
}

var errAny = errors.New("any error")

// embeddedTopics starts an in-memory broker, closed when the test ends,
// with topics of one partition each.
func embeddedTopics(ctx context.Context, tb testing.TB, topics ...string) Config {
	tb.Helper()
	e, err := StartEmbedded(ctx, EmbeddedConfig{InMemory: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	bc := e.Config()
	var specs []TopicSpec
	for _, t := range topics {
		specs = append(specs, TopicSpec{Name: t, Partitions: 1})
	}
	if err := EnsureTopics(ctx, bc, specs); err != nil {
		tb.Fatal(err)
	}
	return bc
}

// fetchResponse lays out a Fetch v5 response body for one partition of
// topic t holding records.
func fetchResponse(records []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 7) // correlation id
	b = binary.BigEndian.AppendUint32(b, 0)    // throttle
	b = binary.BigEndian.AppendUint32(b, 1)
	b = appendString(b, "t")
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 0) // partition
	b = binary.BigEndian.AppendUint16(b, 0) // error
	b = append(b, make([]byte, 8+8+8)...)   // watermarks, log start
	b = binary.BigEndian.AppendUint32(b, 1) // one aborted transaction
	b = append(b, make([]byte, 16)...)      // its producer id, first offset
	b = binary.BigEndian.AppendUint32(b, uint32(len(records)))
	return append(b, records...)
}

// checkArriving runs a batchCheck over resp arriving chunk bytes at a time
// and returns how many bytes of its records it checked.
func checkArriving(resp []byte, chunk int) int {
	var c batchCheck
	for have := 0; have < len(resp); {
		have = min(len(resp), have+chunk)
		c.arrived(resp, have)
	}
	if c.recEnd <= c.recStart {
		return 0
	}
	return c.done
}

// TestBatchCheck: Fetch checks the CRCs of whole batches as they arrive,
// in reads of any size, stops at a bad one or one cut short, and
// EachRecord then checks what is left and reports the bad CRC as it did.
func TestBatchCheck(t *testing.T) {
	one, two, three := batchV2(0, 0, "a", "bc"), batchV2(2, 0, "def"), batchV2(3, 0, "g", "h", "i")
	whole := slices.Concat(one, two, three)
	badTwo := slices.Concat(one, two, three)
	badTwo[len(one)+len(two)-1] ^= 1
	for _, tc := range []struct {
		name    string
		records []byte
		done    int
		bad     bool
	}{
		{"three batches", whole, len(whole), false},
		{"a cut batch at the end", slices.Concat(whole, three[:70]), len(whole), false},
		{"a bad CRC in the second", badTwo, len(one), true},
		{"a bad CRC in the first", slices.Concat(badTwo[len(one):len(one)+len(two)], one), 0, true},
		{"a length past the records", slices.Concat(one, two[:12], three), len(one), false},
		{"no records", nil, 0, false},
	} {
		for _, chunk := range []int{1, 7, 61, 100, 1 << 20} {
			t.Run(fmt.Sprint(tc.name, "/", chunk), func(t *testing.T) {
				resp := fetchResponse(tc.records)
				done := checkArriving(resp, chunk)
				if done != tc.done {
					t.Fatalf("checked %d bytes of the records, want %d", done, tc.done)
				}
				// The outcome is EachRecord's with every CRC checked.
				records := resp[len(resp)-len(tc.records):]
				var got, want []int64
				gn, gerr := eachRecord(records, done, 0, func(r FetchedRecord) bool { got = append(got, r.Offset); return true })
				wn, werr := EachRecord(records, 0, func(r FetchedRecord) bool { want = append(want, r.Offset); return true })
				if gn != wn || !slices.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
					t.Fatalf("with checked batches: %v %d %v; all checked again: %v %d %v", got, gn, gerr, want, wn, werr)
				}
				if tc.bad && (gerr == nil || !strings.Contains(gerr.Error(), "CRC")) {
					t.Fatalf("a bad CRC went unreported: %v", gerr)
				}
			})
		}
	}
}

// FuzzBatchCheck: whatever the records and however they arrive, taking
// the batches the check passed as checked changes nothing EachRecord
// yields or returns.
func FuzzBatchCheck(f *testing.F) {
	f.Add(slices.Concat(batchV2(0, 0, "a", "bc"), batchV2(2, 0, "def")), uint16(7))
	f.Fuzz(func(t *testing.T, records []byte, chunk uint16) {
		if len(records) > 0 && records[0]&1 == 0 {
			withCRCs(records)
		}
		resp := fetchResponse(records)
		done := checkArriving(resp, int(chunk)+1)
		if done > len(records) {
			t.Fatalf("checked %d of %d bytes", done, len(records))
		}
		var got, want []int64
		gn, gerr := eachRecord(records, done, 0, func(r FetchedRecord) bool { got = append(got, r.Offset); return true })
		wn, werr := EachRecord(records, 0, func(r FetchedRecord) bool { want = append(want, r.Offset); return true })
		if gn != wn || !slices.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("with %d bytes checked: %v %d %v; all checked again: %v %d %v", done, got, gn, gerr, want, wn, werr)
		}
	})
}
