package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// ProduceConn writes record batches to one partition with Produce
// requests (version 3, acks=all) on a connection of its own. The records'
// keys, values and headers go to the socket from where they lie, in one
// vectored write: kafka-go's writer copies every value into its own pages
// first and walks them again for the batch's CRC, which cost a transform
// worker producing 350 KB Arrow messages about 2% of its CPU.
//
// As FetchConn, it covers what such a producer needs: uncompressed
// batches of format v2, no idempotence or transactions (kafka-go's Writer
// has neither), no SASL (DialProduce returns ErrProduceUnsupported). A
// Produce request carries one batch per partition, as brokers since Kafka
// 1.0 require; Produce sends recs as one batch and the caller keeps it
// under the topic's max.message.bytes.
type ProduceConn struct {
	conn      net.Conn
	clientID  string
	topic     string
	partition int32
	corr      int32
	meta      []byte // request framing and record fields, pointed into by bufs
	scratch   []byte
	bufs      net.Buffers
	resp      []byte
}

// ErrProduceUnsupported: the cluster needs what ProduceConn does not do
// (SASL); use a general client.
var ErrProduceUnsupported = errors.New("broker: raw produce does not authenticate with SASL")

// ProduceRecord is one record of a batch to produce.
type ProduceRecord struct {
	Key, Value []byte // nil for null
	Headers    []kafka.Header
	// ValueCRC, where HasValueCRC, is the CRC-32C (Castagnoli) of Value,
	// taken by the caller while Value was still in the CPU's caches:
	// Produce then folds it into the batch's CRC instead of reading
	// Value again, from memory by then. (A transform worker's examples
	// are 350 KB messages, eight at a time; checksummed in Produce, they
	// cost it 0.7% of its CPU.)
	ValueCRC    uint32
	HasValueCRC bool
}

// CastagnoliChecksum is the CRC-32C of b, as ProduceRecord.ValueCRC.
func CastagnoliChecksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// DialProduce connects to the leader of topic/partition.
func (c Config) DialProduce(ctx context.Context, topic string, partition int) (*ProduceConn, error) {
	if c.Security.SASL != nil {
		return nil, ErrProduceUnsupported
	}
	conn, err := c.dialLeader(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	return &ProduceConn{conn: conn, clientID: c.clientID(), topic: topic, partition: int32(partition)}, nil
}

// Close closes the connection.
func (p *ProduceConn) Close() error { return p.conn.Close() }

// Produce writes recs as one record batch, waits for all in-sync
// replicas to have it (acks=all, up to timeout on the broker), and
// returns the offset of its first record. A partition error comes back as
// a kafka.Error (whose Temporary says whether trying again may help);
// any other failure leaves the connection unusable (Close it and dial
// again). recs is only read, and not retained.
func (p *ProduceConn) Produce(ctx context.Context, recs []ProduceRecord, timeout time.Duration) (int64, error) {
	if len(recs) == 0 {
		return 0, errors.New("broker: produce: no records")
	}
	p.corr++
	// Every piece of p.meta is appended before any is sliced into bufs,
	// so that growing it does not leave bufs pointing at the old array:
	// first the offsets, then the pieces.
	m := p.meta[:0]
	m = append(m, 0, 0, 0, 0)               // request size, set below
	m = binary.BigEndian.AppendUint16(m, 0) // Produce
	m = binary.BigEndian.AppendUint16(m, 3)
	m = binary.BigEndian.AppendUint32(m, uint32(p.corr))
	m = appendString(m, p.clientID)
	m = binary.BigEndian.AppendUint16(m, 0xFFFF) // no transactional id
	m = binary.BigEndian.AppendUint16(m, 0xFFFF) // acks: all
	m = binary.BigEndian.AppendUint32(m, uint32(timeout.Milliseconds()))
	m = binary.BigEndian.AppendUint32(m, 1)
	m = appendString(m, p.topic)
	m = binary.BigEndian.AppendUint32(m, 1)
	m = binary.BigEndian.AppendUint32(m, uint32(p.partition))
	recordsSize := len(m)
	m = append(m, 0, 0, 0, 0) // the batch's size, set below
	batch := len(m)
	now := time.Now().UnixMilli()
	m = binary.BigEndian.AppendUint64(m, 0)          // base offset: the broker assigns it
	m = append(m, 0, 0, 0, 0)                        // batch length, set below
	m = binary.BigEndian.AppendUint32(m, 0xFFFFFFFF) // partition leader epoch
	m = append(m, 2)                                 // magic
	m = append(m, 0, 0, 0, 0)                        // CRC, set below
	m = binary.BigEndian.AppendUint16(m, 0)          // attributes: no compression, create time
	m = binary.BigEndian.AppendUint32(m, uint32(len(recs)-1))
	m = binary.BigEndian.AppendUint64(m, uint64(now))
	m = binary.BigEndian.AppendUint64(m, uint64(now))
	m = binary.BigEndian.AppendUint64(m, 0xFFFFFFFFFFFFFFFF) // producer id: none
	m = binary.BigEndian.AppendUint16(m, 0xFFFF)             // producer epoch
	m = binary.BigEndian.AppendUint32(m, 0xFFFFFFFF)         // base sequence
	m = binary.BigEndian.AppendUint32(m, uint32(len(recs)))
	// Each record: its prefix (length to value length) here, then its
	// value from where it lies, then its headers here. pieces[k] is where
	// the k-th piece of meta ends; a value goes between each pair.
	type piece struct{ start, end int }
	pieces := make([]piece, 0, len(recs)+1)
	start := 0
	for i, r := range recs {
		// The record's fields before its value, then its headers, in
		// scratch first: its length comes before them.
		sc := p.scratch[:0]
		sc = append(sc, 0)              // attributes
		sc = binary.AppendVarint(sc, 0) // timestamp delta
		sc = binary.AppendVarint(sc, int64(i))
		sc = appendVarbytes(sc, r.Key)
		if r.Value == nil {
			sc = binary.AppendVarint(sc, -1)
		} else {
			sc = binary.AppendVarint(sc, int64(len(r.Value)))
		}
		prefix := len(sc)
		sc = binary.AppendVarint(sc, int64(len(r.Headers)))
		for _, h := range r.Headers {
			sc = binary.AppendVarint(sc, int64(len(h.Key)))
			sc = append(sc, h.Key...)
			sc = appendVarbytes(sc, h.Value)
		}
		p.scratch = sc
		m = binary.AppendVarint(m, int64(len(sc)+len(r.Value)))
		m = append(m, sc[:prefix]...)
		pieces = append(pieces, piece{start, len(m)})
		start = len(m)
		m = append(m, sc[prefix:]...)
	}
	pieces = append(pieces, piece{start, len(m)})
	size := int64(len(m) - batch - 12) // bytes after the batch length field
	for _, r := range recs {
		size += int64(len(r.Value))
	}
	if size > 1<<31-1-12 {
		return 0, fmt.Errorf("broker: produce to %s/%d: a batch of %d bytes", p.topic, p.partition, size)
	}
	binary.BigEndian.PutUint32(m[batch+8:], uint32(size))
	binary.BigEndian.PutUint32(m[recordsSize:], uint32(size+12))
	binary.BigEndian.PutUint32(m, uint32(int64(batch-4)+12+size))
	p.meta = m

	// CRC-32C from the attributes to the end, over the pieces in order.
	crcFrom := batch + batchCRCFrom
	bufs := p.bufs[:0]
	crc := uint32(0)
	for k, pc := range pieces {
		b := m[pc.start:pc.end]
		bufs = append(bufs, b)
		if pc.end > crcFrom {
			crc = crc32.Update(crc, castagnoli, m[max(pc.start, crcFrom):pc.end])
		}
		if k < len(recs) && len(recs[k].Value) > 0 {
			r := &recs[k]
			bufs = append(bufs, r.Value)
			if r.HasValueCRC {
				crc = castagnoliConcat(crc, r.ValueCRC, len(r.Value))
			} else {
				crc = crc32.Update(crc, castagnoli, r.Value)
			}
		}
	}
	binary.BigEndian.PutUint32(m[batch+batchCRCAt:], crc)

	defer watch(ctx, p.conn, timeout+30*time.Second)()
	fail := func(err error) (int64, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, fmt.Errorf("broker: produce %d records to %s/%d: %w", len(recs), p.topic, p.partition, err)
	}
	// WriteTo consumes bufs (a copy of the slice); the array is kept for
	// the next request, without references to the values.
	p.bufs = bufs[:0]
	defer clear(p.bufs[:cap(p.bufs)])
	if _, err := bufs.WriteTo(p.conn); err != nil {
		return fail(err)
	}
	var err error
	if p.resp, err = readResponse(p.conn, p.resp, 1<<20, nil); err != nil {
		return fail(err)
	}
	base, code, err := parseProduceResponse(p.resp, p.corr, p.topic, p.partition)
	if err != nil {
		return fail(err)
	}
	if code != 0 {
		return 0, fmt.Errorf("broker: produce %d records to %s/%d: %w", len(recs), p.topic, p.partition, kafka.Error(code))
	}
	return base, nil
}

// castagnoliConcat returns the CRC-32C of a followed by b from crcA and
// crcB, theirs, and b's length: CRCs are remainders of polynomials over
// GF(2), and a's shifted past b's bytes is crcA times x^(8 len(b)) modulo
// the CRC's polynomial. (Their pre- and post-inversion cancel out in that
// sum.) Its cost grows with the logarithm of len(b): a microsecond where
// reading b would take a hundred.
func castagnoliConcat(crcA, crcB uint32, lenB int) uint32 {
	return gfMulMod(xPow8n(lenB), crcA) ^ crcB
}

// The arithmetic is in the CRC's reflected bit order: bit 31 holds the
// coefficient of x^0, bit 0 that of x^31.
const castagnoliPoly = 0x82F63B78

// gfMulMod is a times b modulo the polynomial.
func gfMulMod(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0 && a != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			a &^= m
		}
		// b times x: shifted one place towards x^31, reduced when it
		// reaches x^32.
		if b&1 != 0 {
			b = b>>1 ^ castagnoliPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow2k[k] is x^(2^k) modulo the polynomial.
var xPow2k = func() (t [64]uint32) {
	t[0] = 1 << 30 // x
	for k := 1; k < len(t); k++ {
		t[k] = gfMulMod(t[k-1], t[k-1])
	}
	return t
}()

// xPow8n is x^(8n) modulo the polynomial, from the binary digits of 8n.
func xPow8n(n int) uint32 {
	p := uint32(1) << 31 // x^0
	for e, k := uint64(n)*8, 0; e != 0; e, k = e>>1, k+1 {
		if e&1 != 0 {
			p = gfMulMod(xPow2k[k], p)
		}
	}
	return p
}

// parseProduceResponse reads a Produce v3 response (correlation id first)
// for the one partition written to: its error code and base offset.
func parseProduceResponse(b []byte, corrWant int32, topic string, partition int32) (int64, int16, error) {
	d := decoder{b: b}
	if corr := d.int32(); corr != corrWant && d.err == nil {
		return 0, 0, fmt.Errorf("response to request %d, want %d", corr, corrWant)
	}
	var base int64
	var code int16
	found := false
	eachPartition(&d, func(t string) {
		p := d.int32()
		c := d.int16()
		off := d.int64()
		d.int64() // log append time
		if d.err == nil && t == topic && p == partition {
			found, base, code = true, off, c
		}
	})
	d.int32() // throttle time
	if d.err != nil {
		return 0, 0, fmt.Errorf("malformed produce response: %w", d.err)
	}
	if !found {
		return 0, 0, errors.New("produce response without the partition written to")
	}
	return base, code, nil
}

// appendVarbytes appends b's length as a varint and b; nil is null (-1).
func appendVarbytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
