package metrics

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// EventWriter appends scalar summaries to a TensorBoard event file
// (events.out.tfevents.<unix>.<host>). The file is TFRecord framing around
// serialized tensorflow.Event protobufs; both are written by hand here: the
// format is small and stable, and a protobuf toolchain for one message type
// would cost more than it saves.
//
// Records are buffered; Flush makes them visible to TensorBoard (the
// trainer flushes at each logged step batch and at checkpoints).
type EventWriter struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	path string
	buf  []byte
}

// NewEventWriter creates a new event file in dir (created if missing) and
// writes the file-version record TensorBoard expects first.
func NewEventWriter(dir string) (*EventWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tfevents: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	now := time.Now()
	// The nanoseconds suffix keeps a restarted run (same second) from
	// appending to, or clobbering, the previous process's file.
	path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s.%d", now.Unix(), host, now.Nanosecond()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tfevents: %w", err)
	}
	e := &EventWriter{f: f, w: bufio.NewWriter(f), path: path}
	ev := appendDouble(nil, 1, seconds(now))
	ev = appendBytes(ev, 3, []byte("brain.Event:2"))
	if err := e.record(ev); err != nil {
		f.Close()
		return nil, err
	}
	return e, e.Flush()
}

// Path is the event file being written.
func (e *EventWriter) Path() string { return e.path }

// Scalars records tag=value pairs for one step, as one event.
func (e *EventWriter) Scalars(step int64, wall time.Time, values map[string]float64, order []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var sum []byte
	for _, tag := range order {
		v, ok := values[tag]
		if !ok {
			continue
		}
		// Summary.Value{tag = 1, simple_value = 2 (float)}
		val := appendBytes(nil, 1, []byte(tag))
		val = appendFloat(val, 2, float32(v))
		sum = appendBytes(sum, 1, val)
	}
	// Event{wall_time = 1, step = 2, summary = 5}
	ev := appendDouble(e.buf[:0], 1, seconds(wall))
	ev = appendVarintField(ev, 2, uint64(step))
	ev = appendBytes(ev, 5, sum)
	e.buf = ev
	return e.record(ev)
}

// Flush writes buffered records through to the file.
func (e *EventWriter) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("tfevents %s: %w", e.path, err)
	}
	return nil
}

// Close flushes and closes the file.
func (e *EventWriter) Close() error {
	if err := e.Flush(); err != nil {
		e.f.Close()
		return err
	}
	return e.f.Close()
}

// record writes one TFRecord: length, masked CRC of the length, data,
// masked CRC of the data.
func (e *EventWriter) record(data []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var ftr [4]byte
	binary.LittleEndian.PutUint32(ftr[:], maskedCRC(data))
	for _, b := range [][]byte{hdr[:], data, ftr[:]} {
		if _, err := e.w.Write(b); err != nil {
			return fmt.Errorf("tfevents %s: %w", e.path, err)
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's CRC32C, rotated and offset so that a CRC stored
// inside CRC'd data does not checksum to a trivial value.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Protobuf wire format, the three field kinds an Event needs.

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendTag(b, field, 0), v)
}

func appendDouble(b []byte, field int, v float64) []byte {
	return binary.LittleEndian.AppendUint64(appendTag(b, field, 1), math.Float64bits(v))
}

func appendFloat(b []byte, field int, v float32) []byte {
	return binary.LittleEndian.AppendUint32(appendTag(b, field, 5), math.Float32bits(v))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, field, 2), uint64(len(v)))
	return append(b, v...)
}
