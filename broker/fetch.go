package broker

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// FetchConn reads one partition with Fetch requests (version 5) on a
// connection of its own, into a buffer the caller supplies, and walks the
// records in place (EachRecord). It exists for the hot path of a consumer
// that parses every value: kafka-go's client decodes a response into
// pooled 64 KiB pages, out of which each value has to be copied before it
// can be parsed as one piece. Reading a topic of documents that way cost
// a transform worker 2.3-2.7 ns of CPU per token of their text, this way
// 1.7-1.8, CRCs checked in both (transform's BenchmarkKafkaInputAlone,
// three of four interleaved pairs; the fourth 2.3 against 2.5).
//
// Only what such a consumer needs is covered: uncompressed record batches
// of format v2 (what kafka-go and franz-go producers write without
// compression), control batches skipped. Anything else makes EachRecord
// stop with ErrBatchUnsupported at that batch's offset, so that the
// caller can read from there with a general client. SASL is not spoken
// here: DialFetch returns ErrFetchUnsupported for such clusters. Each
// FetchConn is one partition on one connection, where a general client
// fetches all of a broker's partitions in one request: a consumer with
// hundreds of partitions would hold as many connections.
type FetchConn struct {
	conn      net.Conn
	clientID  string
	topic     string
	partition int32
	corr      int32
	req       []byte
}

// ErrFetchUnsupported: the cluster needs what FetchConn does not do
// (SASL); use a general client.
var ErrFetchUnsupported = errors.New("broker: raw fetch does not authenticate with SASL")

// ErrBatchUnsupported: a record batch that EachRecord does not read
// (compressed, or an older message format).
var ErrBatchUnsupported = errors.New("broker: record batch is compressed or of an old format")

// DialFetch connects to the leader of topic/partition.
func (c Config) DialFetch(ctx context.Context, topic string, partition int) (*FetchConn, error) {
	if c.Security.SASL != nil {
		return nil, ErrFetchUnsupported
	}
	conn, err := c.dialLeader(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	return &FetchConn{conn: conn, clientID: c.clientID(), topic: topic, partition: int32(partition)}, nil
}

// dialLeader connects to the leader of topic/partition, over TLS where
// the cluster has it; SASL is the callers' to refuse.
func (c Config) dialLeader(ctx context.Context, topic string, partition int) (net.Conn, error) {
	client, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("broker: metadata of %s: %w", topic, err)
	}
	addr := ""
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("broker: metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			if p.ID == partition && p.Error == nil && p.Leader.Host != "" {
				addr = net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
			}
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("broker: no leader known for %s/%d", topic, partition)
	}
	tc, err := c.Security.TLSConfig()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: dial %s (leader of %s/%d): %w", addr, topic, partition, err)
	}
	if tc != nil {
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		t := tls.Client(conn, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("broker: TLS with %s: %w", addr, err)
		}
		conn = t
	}
	return conn, nil
}

// Close closes the connection.
func (f *FetchConn) Close() error { return f.conn.Close() }

// FetchResult is a partition's part of a fetch response. Records lies in
// the buffer that Fetch returned.
type FetchResult struct {
	// Err is the partition's error code as a kafka-go error (e.g.
	// kafka.OffsetOutOfRange), nil for none.
	Err            error
	HighWatermark  int64
	LogStartOffset int64
	// Records holds the partition's record batches; the last may be cut
	// short by the size limit, and EachRecord stops before it.
	Records []byte
	// verified is how many bytes at the start of Records are whole
	// batches whose CRCs Fetch checked as they arrived.
	verified int
}

// EachRecord is the package's EachRecord over r.Records, without checking
// again the CRCs that Fetch checked.
func (r FetchResult) EachRecord(from int64, yield func(FetchedRecord) bool) (int64, error) {
	return eachRecord(r.Records, r.verified, from, yield)
}

// Fetch asks for the records from offset on, up to maxBytes (at least one
// batch, as brokers do), waiting up to maxWait for any. The response is
// read into buf, grown if it is too small, and returned with the result;
// a failure leaves the connection unusable (Close it and dial again).
func (f *FetchConn) Fetch(ctx context.Context, offset int64, maxBytes int, maxWait time.Duration, buf []byte) (FetchResult, []byte, error) {
	f.corr++
	r := f.req[:0]
	r = append(r, 0, 0, 0, 0)               // size, set below
	r = binary.BigEndian.AppendUint16(r, 1) // Fetch
	r = binary.BigEndian.AppendUint16(r, 5)
	r = binary.BigEndian.AppendUint32(r, uint32(f.corr))
	r = appendString(r, f.clientID)
	r = binary.BigEndian.AppendUint32(r, 0xFFFFFFFF) // replica id -1: a consumer
	r = binary.BigEndian.AppendUint32(r, uint32(maxWait.Milliseconds()))
	r = binary.BigEndian.AppendUint32(r, 1) // min bytes
	r = binary.BigEndian.AppendUint32(r, uint32(maxBytes))
	r = append(r, 0) // read uncommitted, as kafka-go's fetches
	r = binary.BigEndian.AppendUint32(r, 1)
	r = appendString(r, f.topic)
	r = binary.BigEndian.AppendUint32(r, 1)
	r = binary.BigEndian.AppendUint32(r, uint32(f.partition))
	r = binary.BigEndian.AppendUint64(r, uint64(offset))
	r = binary.BigEndian.AppendUint64(r, 0xFFFFFFFFFFFFFFFF) // log start offset: consumers send -1
	r = binary.BigEndian.AppendUint32(r, uint32(maxBytes))
	binary.BigEndian.PutUint32(r, uint32(len(r)-4))
	f.req = r

	// The broker may hold the request for maxWait.
	defer watch(ctx, f.conn, maxWait+30*time.Second)()
	fail := func(err error) (FetchResult, []byte, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return FetchResult{}, buf, fmt.Errorf("broker: fetch %s/%d at %d: %w", f.topic, f.partition, offset, err)
	}
	if _, err := f.conn.Write(r); err != nil {
		return fail(err)
	}
	var check batchCheck
	buf, err := readResponse(f.conn, buf, 1<<30, check.arrived)
	if err != nil {
		return fail(err)
	}
	res, err := f.parse(buf)
	if err != nil {
		return fail(err)
	}
	if check.recEnd > check.recStart && len(res.Records) == check.recEnd-check.recStart &&
		&res.Records[0] == &buf[check.recStart] {
		res.verified = check.done
	}
	return res, buf, nil
}

// batchCheck checks the CRC-32C of a fetch response's record batches as
// the response arrives, a read at a time, while the read's bytes are
// still in the CPU's caches: checked once the whole response was in,
// megabytes later, the batches came from memory, and the check cost a
// transform worker 1.4% of its CPU (perf samples of its end-to-end
// benchmark), where reading 2 MiB from memory checks at 6 GB/s and from
// the caches at 30 GB/s. It follows a response for one partition, the
// only kind FetchConn asks for; it stops at anything else, at a batch
// cut short or malformed, and at a bad CRC, and leaves the rest to
// EachRecord, which reports what is wrong.
type batchCheck struct {
	stopped          bool
	recStart, recEnd int // the records in the response, once located
	done             int // bytes of the records in whole checked batches
	next             int // the start of the batch to check next
	// The batch being checked, if inBatch: its end, the CRC it carries,
	// the CRC of its bytes up to at.
	inBatch  bool
	end, at  int
	want, is uint32
}

// arrived takes the first have bytes of the response b (after its size).
func (c *batchCheck) arrived(b []byte, have int) {
	if c.stopped {
		return
	}
	if c.recEnd == 0 && !c.locate(b[:have]) {
		return
	}
	for !c.stopped {
		if !c.inBatch {
			s := c.next
			if s+batchHeaderLen > c.recEnd {
				c.stopped = true // no whole batch left
				return
			}
			if s+batchCRCFrom > have {
				return // its header is not in yet
			}
			size := 12 + int(int32(binary.BigEndian.Uint32(b[s+8:])))
			if size < batchHeaderLen || size > c.recEnd-s {
				c.stopped = true
				return
			}
			c.inBatch, c.end, c.at = true, s+size, s+batchCRCFrom
			c.want, c.is = binary.BigEndian.Uint32(b[s+batchCRCAt:]), 0
		}
		if upto := min(have, c.end); upto > c.at {
			c.is = crc32.Update(c.is, castagnoli, b[c.at:upto])
			c.at = upto
		}
		if c.at < c.end {
			return
		}
		if c.is != c.want {
			c.stopped = true
			return
		}
		c.inBatch, c.next = false, c.end
		c.done = c.end - c.recStart
	}
}

// locate finds the records in a Fetch v5 response for one partition from
// its first bytes b; it returns false while they are too few, and stops
// the check for a response of another shape.
func (c *batchCheck) locate(b []byte) bool {
	d := decoder{b: b}
	d.skip(8) // correlation id, throttle time
	if d.int32() != 1 {
		c.stopped = d.err == nil
		return false
	}
	d.str()
	if d.int32() != 1 {
		c.stopped = d.err == nil
		return false
	}
	rn := d.fetchPartition().records
	if d.err != nil {
		return false // more to come
	}
	c.recStart = len(b) - len(d.b)
	c.recEnd, c.next = c.recStart+max(0, int(rn)), c.recStart
	if c.recEnd == c.recStart {
		c.stopped = true
		return false
	}
	return true
}

// parse reads a Fetch v5 response (correlation id first) for the one
// partition asked for.
func (f *FetchConn) parse(b []byte) (FetchResult, error) {
	d := decoder{b: b}
	if corr := d.int32(); corr != f.corr {
		return FetchResult{}, fmt.Errorf("response to request %d, want %d", corr, f.corr)
	}
	d.int32() // throttle time
	var res FetchResult
	found := false
	eachPartition(&d, func(topic string) {
		h := d.fetchPartition()
		var recs []byte
		if h.records > 0 {
			recs = d.bytes(int(h.records))
		}
		if d.err == nil && topic == f.topic && h.partition == f.partition {
			found = true
			res = FetchResult{HighWatermark: h.highWatermark, LogStartOffset: h.logStart, Records: recs}
			if h.code != 0 {
				res.Err = kafka.Error(h.code)
			}
		}
	})
	if d.err != nil {
		return FetchResult{}, fmt.Errorf("malformed fetch response: %w", d.err)
	}
	if !found {
		return FetchResult{}, errors.New("fetch response without the partition asked for")
	}
	return res, nil
}

// fetchPartitionHead is what a Fetch v5 response says of a partition
// before its records.
type fetchPartitionHead struct {
	partition               int32
	code                    int16
	highWatermark, logStart int64
	records                 int32 // their size in bytes
}

// fetchPartition reads a partition's fields up to its records.
func (d *decoder) fetchPartition() fetchPartitionHead {
	var h fetchPartitionHead
	h.partition = d.int32()
	h.code = d.int16()
	h.highWatermark = d.int64()
	d.int64() // last stable offset
	h.logStart = d.int64()
	if n := d.count(); n > 0 {
		d.skip(16 * n) // aborted transactions: producer id, first offset
	}
	h.records = d.int32()
	return h
}

// FetchedRecord is a record in place in a fetch response.
type FetchedRecord struct {
	Offset     int64
	Key, Value []byte // nil when null
}

// EachRecord calls yield for each record of records (a FetchResult's
// Records) in offset order until yield returns false, skipping control
// batches (transaction markers). It returns the offset after the last
// record or marker it passed over (from, if none), and an error wrapping
// ErrBatchUnsupported at a batch it cannot read: the offset returned is
// then that batch's first. A batch cut short at the end is not an error.
func EachRecord(records []byte, from int64, yield func(FetchedRecord) bool) (int64, error) {
	return eachRecord(records, 0, from, yield)
}

// eachRecord is EachRecord, with the CRCs of the batches in the first
// verified bytes of records taken as checked.
func eachRecord(records []byte, verified int, from int64, yield func(FetchedRecord) bool) (int64, error) {
	next := from
	for len(records) >= batchHeaderLen {
		base := int64(binary.BigEndian.Uint64(records))
		size := 12 + int(int32(binary.BigEndian.Uint32(records[8:])))
		if size < batchHeaderLen {
			return next, fmt.Errorf("broker: record batch at offset %d: length %d", base, size-12)
		}
		if size > len(records) {
			break // cut short by the response's size limit
		}
		batch := records[:size]
		records = records[size:]
		checked := size <= verified
		verified -= size
		last := base + int64(int32(binary.BigEndian.Uint32(batch[23:])))
		if last < next {
			continue // all before the offset asked for
		}
		attrs := binary.BigEndian.Uint16(batch[batchCRCFrom:])
		if magic := batch[16]; magic != 2 || attrs&7 != 0 {
			return max(next, base), fmt.Errorf("%w: at offset %d (magic %d, compression %d)", ErrBatchUnsupported, base, batch[16], attrs&7)
		}
		// As kafka-go's reader does: CRC-32C of everything after the
		// CRC field.
		if !checked {
			if crc := crc32.Checksum(batch[batchCRCFrom:], castagnoli); crc != binary.BigEndian.Uint32(batch[batchCRCAt:]) {
				return next, fmt.Errorf("broker: record batch at offset %d: CRC-32C %08x, computed %08x", base, binary.BigEndian.Uint32(batch[batchCRCAt:]), crc)
			}
		}
		if attrs&0x20 != 0 { // control batch
			next = last + 1
			continue
		}
		d := decoder{b: batch[batchHeaderLen:]}
		for range int(int32(binary.BigEndian.Uint32(batch[57:]))) {
			n := d.varint()
			if n <= 0 || n > int64(len(d.b)) {
				return next, fmt.Errorf("broker: record batch at offset %d: record length %d", base, n)
			}
			r := decoder{b: d.bytes(int(n))}
			r.skip(1)  // attributes
			r.varint() // timestamp delta
			off := base + r.varint()
			key := r.varbytes()
			val := r.varbytes()
			// Headers follow; nothing here reads them.
			if d.err != nil || r.err != nil {
				return next, fmt.Errorf("broker: malformed record in batch at offset %d", base)
			}
			if off < next {
				continue
			}
			next = off + 1
			if !yield(FetchedRecord{Offset: off, Key: key, Value: val}) {
				return next, nil
			}
		}
		next = max(next, last+1)
	}
	return next, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Where a record batch (format v2) keeps what its readers and writer look
// at, from its start: its base offset and length come first, at 0 and 8.
const (
	batchCRCAt     = 17 // the CRC-32C
	batchCRCFrom   = 21 // the attributes, where the CRC's bytes start
	batchHeaderLen = 61 // the fields before the records, their count last
)

// watch bounds conn's reads and writes by timeout and makes ctx's end
// interrupt them; the returned function stops watching ctx.
func watch(ctx context.Context, conn net.Conn, timeout time.Duration) func() bool {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	conn.SetDeadline(time.Now().Add(timeout))
	return stop
}

// readResponse reads a size-prefixed response of at most limit bytes
// into buf, grown (with room for a quarter more) if too small. arrived,
// if not nil, is called after each read with the buffer and how much of
// it is in; reads are then of at most readChunk bytes, which the core's
// cache holds.
func readResponse(conn net.Conn, buf []byte, limit int, arrived func(b []byte, have int)) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(size[:]))
	if n < 8 || n > limit {
		return buf, fmt.Errorf("response of %d bytes", n)
	}
	if cap(buf) < n {
		buf = make([]byte, n, n+n/4)
	}
	buf = buf[:n]
	if arrived == nil {
		_, err := io.ReadFull(conn, buf)
		return buf, err
	}
	for have := 0; have < n; {
		k, err := conn.Read(buf[have:min(n, have+readChunk)])
		have += k
		if k > 0 {
			arrived(buf, have)
		}
		if err != nil && have < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// readChunk bounds the reads of a response whose bytes are looked at as
// they arrive: with 512 KiB, the check of a transform worker's fetches
// cost it 0.6% of its CPU, with 128 KiB 0.4% (from 1.4% for whole
// responses checked once in).
const readChunk = 128 << 10

// eachPartition walks a response's array of topics, each an array of
// partitions, calling partition with the topic's name for each; it stops
// at the first short read (a count read from a malformed response can be
// huge).
func eachPartition(d *decoder, partition func(topic string)) {
	for n := d.count(); n > 0 && d.err == nil; n-- {
		topic := d.str()
		for k := d.count(); k > 0 && d.err == nil; k-- {
			partition(topic)
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// decoder reads big-endian protocol fields; the first short read sets
// err, after which every read returns zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		if d.err == nil {
			d.err = io.ErrUnexpectedEOF
		}
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) skip(n int)         { d.take(n) }
func (d *decoder) bytes(n int) []byte { return d.take(n) }
func (d *decoder) int16() int16 {
	if v := d.take(2); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}
func (d *decoder) int32() int32 {
	if v := d.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}
func (d *decoder) int64() int64 {
	if v := d.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// count reads an array length; null (-1) reads as 0.
func (d *decoder) count() int { return max(0, int(d.int32())) }

func (d *decoder) str() string { return string(d.bytes(int(d.int16()))) }

// varint reads a zigzag varint, as record fields are.
func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = io.ErrUnexpectedEOF
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varbytes reads a varint length and that many bytes; -1 is null.
func (d *decoder) varbytes() []byte {
	n := d.varint()
	if n < 0 {
		return nil
	}
	return d.take(int(n))
}
