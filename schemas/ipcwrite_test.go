package schemas

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pierrec/lz4/v4"
)

// ipcMessage is one message of an IPC stream whose body buffers are LZ4
// frames, with the buffers decompressed: what the stream says, whatever
// parse the compressor chose.
type ipcMessage struct {
	Type    uint8
	Meta    []byte // schema messages only: the flatbuffer as is
	DictID  int64
	Delta   bool
	Rows    int64
	Nodes   []ipcNode
	Codec   int // -1: no BodyCompression table
	Buffers [][]byte
}

// readIPCMessages splits an IPC stream into messages, reading the
// RecordBatch and DictionaryBatch flatbuffers field by field.
func readIPCMessages(t *testing.T, s []byte) []ipcMessage {
	t.Helper()
	var out []ipcMessage
	for {
		if len(s) < 8 || binary.LittleEndian.Uint32(s) != ipcContinuation {
			t.Fatalf("message without continuation marker: % x", s[:min(8, len(s))])
		}
		n := int(binary.LittleEndian.Uint32(s[4:]))
		s = s[8:]
		if n == 0 {
			if len(s) != 0 {
				t.Fatalf("%d bytes after end-of-stream", len(s))
			}
			return out
		}
		fb := flatbuf(s[:n])
		s = s[n:]
		msg, err := fb.root()
		if err != nil {
			t.Fatal(err)
		}
		m := ipcMessage{Codec: -1}
		m.Type, _ = fb.scalarU8(msg, 1)
		var bodyLen int64
		if p := fb.field(msg, 3); p > 0 {
			bodyLen = int64(binary.LittleEndian.Uint64(fb[p:]))
		}
		body := s[:bodyLen]
		s = s[bodyLen:]
		hdr, ok, err := fb.table(msg, 2)
		if err != nil || !ok {
			t.Fatalf("message type %d without header: %v", m.Type, err)
		}
		switch m.Type {
		case 1:
			m.Meta = []byte(fb)
			out = append(out, m)
			continue
		case ipcHeaderDictionary:
			if p := fb.field(hdr, 0); p > 0 {
				m.DictID = int64(binary.LittleEndian.Uint64(fb[p:]))
			}
			if p := fb.field(hdr, 2); p > 0 {
				m.Delta = fb[p] != 0
			}
			if hdr, ok, err = fb.table(hdr, 1); err != nil || !ok {
				t.Fatalf("dictionary batch without data: %v", err)
			}
		case ipcHeaderRecordBatch:
		default:
			t.Fatalf("unexpected message type %d", m.Type)
		}
		if p := fb.field(hdr, 0); p > 0 {
			m.Rows = int64(binary.LittleEndian.Uint64(fb[p:]))
		}
		k, first, err := fb.vectorOf(hdr, 1, 16)
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			at := first + 16*i
			m.Nodes = append(m.Nodes, ipcNode{length: int64(binary.LittleEndian.Uint64(fb[at:])), nulls: int64(binary.LittleEndian.Uint64(fb[at+8:]))})
		}
		if c, ok, _ := fb.table(hdr, 3); ok {
			m.Codec = 0 // LZ4_FRAME, the default
			if v, ok := fb.scalarU8(c, 0); ok {
				m.Codec = int(v)
			}
		}
		k, first, err = fb.vectorOf(hdr, 2, 16)
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			at := first + 16*i
			off, n := binary.LittleEndian.Uint64(fb[at:]), binary.LittleEndian.Uint64(fb[at+8:])
			if off%8 != 0 {
				t.Fatalf("buffer %d at unaligned body offset %d", i, off)
			}
			m.Buffers = append(m.Buffers, decompressIPCBuffer(t, body[off:off+n]))
		}
		out = append(out, m)
	}
}

func decompressIPCBuffer(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) == 0 {
		return []byte{}
	}
	n := int64(binary.LittleEndian.Uint64(b))
	if n == -1 {
		return b[8:]
	}
	got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(b[8:])))
	if err != nil || int64(len(got)) != n {
		t.Fatalf("LZ4 buffer: %d bytes, prefix says %d: %v", len(got), n, err)
	}
	return got
}

// TestExamplesEncoderMatchesArrow: the encoder's stream says exactly what
// arrow-go's ipc.Writer says for the same record, message by message and
// buffer by buffer after decompression, including when one encoder is
// reused for batches of decreasing size (padding must not keep stale ids).
func TestExamplesEncoderMatchesArrow(t *testing.T) {
	sources := [][]string{{"books"}, {"wikipedia", "books", "gigaword"}}
	for _, l := range []int{5, 128, 512} {
		meta := ExamplesMeta{MaxSeqLength: l, VocabSHA256: "07eced37", Tokenizer: "wordpiece"}
		enc, err := NewExamplesEncoder(meta)
		if err != nil {
			t.Fatal(err)
		}
		var dst []byte
		for _, rows := range []int{1024, 37, 1, 0, 300} {
			for _, src := range sources {
				t.Run(fmt.Sprintf("L%d/%drows/%dsources", l, rows, len(src)), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(rows), uint64(l)))
					ex := randomExamples(rng, rows, l)
					for i := range ex {
						ex[i].Source = src[rng.IntN(len(src))]
						if i%7 == 0 {
							ex[i].DocID = "ünïcode | \"doc\" " + ex[i].DocID
						}
					}
					mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
					rec, err := NewExamplesRecord(mem, meta, ex)
					if err != nil {
						t.Fatal(err)
					}
					want, err := EncodeExamplesRecord(rec)
					rec.Release()
					if err != nil {
						t.Fatal(err)
					}
					// Appending after other bytes must not disturb them.
					dst = append(dst[:0], "prefix"...)
					dst, err = enc.AppendEncode(dst, ex)
					if err != nil {
						t.Fatal(err)
					}
					if string(dst[:6]) != "prefix" {
						t.Fatalf("AppendEncode overwrote the bytes before it: %q", dst[:6])
					}
					got := dst[6:]
					wm, gm := readIPCMessages(t, want), readIPCMessages(t, got)
					if len(wm) != 3 || wm[0].Type != 1 || wm[1].Type != ipcHeaderDictionary || wm[2].Type != ipcHeaderRecordBatch {
						t.Fatalf("arrow-go wrote %d messages, not schema, dictionary, batch", len(wm))
					}
					if !reflect.DeepEqual(gm, wm) {
						for i := range min(len(gm), len(wm)) {
							if !reflect.DeepEqual(gm[i], wm[i]) {
								t.Fatalf("message %d differs:\n got  %+v\n want %+v", i, brief(gm[i]), brief(wm[i]))
							}
						}
						t.Fatalf("%d messages, want %d", len(gm), len(wm))
					}
					b, err := DecodeExamplesMessage(got)
					if err != nil {
						t.Fatal(err)
					}
					equalExamples(t, b, ex)
				})
			}
		}
	}
}

func brief(m ipcMessage) string {
	s := fmt.Sprintf("type %d dict %d delta %v rows %d nodes %v codec %d meta %d bytes, buffers", m.Type, m.DictID, m.Delta, m.Rows, m.Nodes, m.Codec, len(m.Meta))
	for _, b := range m.Buffers {
		s += fmt.Sprintf(" %d:%x", len(b), b[:min(len(b), 12)])
	}
	return s
}

// TestCompressorsRoundTrip: the frames of both of our block compressors
// decode, with pierrec/lz4's reader, to their input, whatever the input.
func TestCompressorsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tokens := func(n, vocab int) []byte {
		b := make([]byte, 4*n)
		for i := range n {
			v := rng.IntN(vocab)
			if rng.IntN(4) == 0 {
				v = rng.IntN(20) // frequent tokens repeat
			}
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"tiny", []byte{1, 2, 3}},
		{"12 bytes", tokens(3, 10)},
		{"13 zero bytes", make([]byte, 13)},
		{"zeros", make([]byte, 300000)},
		{"tokens", tokens(131072, 30522)},
		{"few tokens", tokens(50000, 3)},
		{"odd length tokens", tokens(20001, 100)[:80003]},
		{"random bytes", random(200000)},
		{"text", bytes.Repeat([]byte("the cat sat on the mat; "), 5000)},
		{"segment ids", segments(4096, 128)},
		{"runs of every length", runs(70000)},
	} {
		for _, c := range []struct {
			name string
			c    blockCompressor
		}{{"int32", new(int32Compressor)}, {"runs", runCompressor{}}} {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				for _, prefix := range []int{0, 5} {
					frame := appendLZ4Frame(make([]byte, prefix, prefix+3), tc.data, c.c)
					got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame[prefix:])))
					if err != nil || !bytes.Equal(got, tc.data) {
						t.Fatalf("round trip: %v (%d bytes back of %d)", err, len(got), len(tc.data))
					}
					if len(frame)-prefix > lz4FrameBound(len(tc.data)) {
						t.Fatalf("frame of %d bytes exceeds the bound %d", len(frame)-prefix, lz4FrameBound(len(tc.data)))
					}
				}
			})
		}
	}
	// int32Compressor finds what repeats: a block that is 8192 random ids
	// twice over comes to little more than half.
	ids := tokens(8192, 1<<24)
	ids = append(ids, ids...)
	if frame := appendLZ4Frame(nil, ids, new(int32Compressor)); len(frame) > len(ids)*52/100 {
		t.Fatalf("ids repeated: %d bytes in a frame of %d", len(ids), len(frame))
	}
	// What runCompressor is for: segment ids shrink more than tenfold.
	data := segments(1024, 128)
	if frame := appendLZ4Frame(nil, data, runCompressor{}); len(frame)*10 > len(data) {
		t.Fatalf("segment ids: %d bytes in a frame of %d", len(data), len(frame))
	}
}

// segments is n rows of segment ids of length l, as the packer makes
// them: [CLS] A [SEP] zeros, B [SEP] ones (none in a tenth of the rows),
// then padding zeros.
func segments(n, l int) []byte {
	rng := rand.New(rand.NewPCG(9, 10))
	b := make([]byte, n*l)
	for r := range n {
		used := 5 + rng.IntN(l-4)
		if rng.IntN(10) != 0 {
			a := 2 + rng.IntN(used-3)
			for i := a; i < used; i++ {
				b[r*l+i] = 1
			}
		}
	}
	return b
}

// runs is runs of every length from 1 to 300 of random byte values.
func runs(n int) []byte {
	rng := rand.New(rand.NewPCG(11, 12))
	var b []byte
	for k := 1; len(b) < n; k = k%300 + 1 {
		b = append(b, bytes.Repeat([]byte{byte(rng.IntN(3))}, k)...)
	}
	return b[:n]
}

func FuzzInt32Compressor(f *testing.F) {
	f.Add([]byte("abcdabcdabcdabcdabcdabcd0123"))
	f.Add(make([]byte, 70000))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c int32Compressor
		frame := appendLZ4Frame(nil, data, &c)
		got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v (%d bytes back of %d)", err, len(got), len(data))
		}
	})
}

func FuzzRunCompressor(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbb0123"))
	f.Add(make([]byte, 70000))
	f.Add(segments(8, 128))
	f.Fuzz(func(t *testing.T, data []byte) {
		frame := appendLZ4Frame(nil, data, runCompressor{})
		got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v (%d bytes back of %d)", err, len(got), len(data))
		}
	})
}
