package transform

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/pack"
)

// BenchmarkStageParts times the stage's steps other than WordPiece on the
// benchmark corpus, each alone and in memory, as nanoseconds per input
// token: what BenchmarkEndToEnd's overhead over the tokenizer is made of,
// measured with enough samples to see a change of a few percent, which
// the end-to-end figure on this shared machine cannot.
func BenchmarkStageParts(b *testing.B) {
	tok := loadTok(b)
	docs := benchDocs(b)
	docs = docs[:len(docs)/benchReps]
	sp := tok.Specials()
	// One stage for every part: its Meta labels the encoders' batches,
	// and all and run tokenize with it (run calls Run once a pass).
	st, err := New(Config{MaxSeqLength: 128, Workers: 1, Logger: quiet}, tok)
	if err != nil {
		b.Fatal(err)
	}

	values := make([][]byte, len(docs))
	tokenized := make([]pack.Doc, len(docs))
	var tokens int64
	for i, d := range docs {
		values[i], _ = json.Marshal(d)
		var sents [][]int32
		for line := range d.Sentences() {
			ids := tok.Encode(nil, line)
			tokens += int64(len(ids))
			sents = append(sents, ids)
		}
		tokenized[i] = pack.Doc{ID: d.ID, Source: d.Source, Sentences: sents}
	}
	perToken := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tokens), "ns/token")
	}
	// besideAlone runs WordPiece alone over the text, then pass, b.N
	// times, and reports both per token and their ratio.
	besideAlone := func(b *testing.B, pass func()) {
		var alone, all time.Duration
		for range b.N {
			_, cpu := tokenizeAlone(tok, docs)
			alone += cpu
			cpu0 := cpuTime()
			pass()
			all += cpuTime() - cpu0
		}
		n := float64(b.N) * float64(tokens)
		b.ReportMetric(float64(alone.Nanoseconds())/n, "alone-ns/token")
		b.ReportMetric(float64(all.Nanoseconds())/n, "ns/token")
		b.ReportMetric(alone.Seconds()/all.Seconds(), "ratio")
	}

	// all: the stage's steps in sequence on one goroutine, without Kafka
	// (decode, tokenize, pack, shuffle, encode), each pass beside one of
	// WordPiece alone on the same text. ratio is alone over all: the
	// end-to-end ratio with the Kafka client's share taken out.
	b.Run("all", func(b *testing.B) {
		pk, _ := pack.New(pack.Config{MaxSeqLength: 128, CLS: sp.CLS, SEP: sp.SEP})
		enc, _ := schemas.NewExamplesEncoder(st.Meta())
		var scratch docScratch
		var out []byte
		// The documents decoded and tokenized one at a time, as packing
		// asks for them; the packer copies what it keeps.
		tokenizeEach := func(yield func(pack.Doc) bool) {
			for _, v := range values {
				t := st.tokenize(Record{Value: v}, &scratch)
				ok := yield(t.doc)
				st.releaseTokens(t.toks)
				if !ok {
					return
				}
			}
		}
		besideAlone(b, func() {
			packChunks(tokenizeEach, pk, false, func(examples []schemas.Example) {
				for i := 0; i < len(examples); i += 1024 {
					if out, err = enc.AppendEncode(out[:0], examples[i:min(i+1024, len(examples))]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	})

	// run: Stage.Run, with its goroutines and queues, over the documents
	// in memory (handed over in place, as KafkaInput hands over the values
	// in its fetch responses), the batches encoded and dropped: the
	// end-to-end benchmark without the Kafka client and broker.
	b.Run("run", func(b *testing.B) {
		enc, _ := schemas.NewExamplesEncoder(st.Meta())
		besideAlone(b, func() {
			if err := st.Run(context.Background(), &memInput{values: values}, &encodeOutput{enc: enc}); err != nil {
				b.Fatal(err)
			}
		})
	})

	b.Run("decode", func(b *testing.B) {
		var scratch docScratch
		for range b.N {
			for _, v := range values {
				if _, err := decodeDocument(v, &scratch); err != nil {
					b.Fatal(err)
				}
			}
		}
		perToken(b)
	})

	b.Run("pack", func(b *testing.B) {
		pk, err := pack.New(pack.Config{MaxSeqLength: 128, CLS: sp.CLS, SEP: sp.SEP})
		if err != nil {
			b.Fatal(err)
		}
		for range b.N {
			packChunks(slices.Values(tokenized), pk, false, func([]schemas.Example) {})
		}
		perToken(b)
	})

	// encode: the packed, shuffled batches are built once, held in the
	// packer's arenas as the stage holds them; the timed loop encodes them.
	b.Run("encode", func(b *testing.B) {
		pk, _ := pack.New(pack.Config{MaxSeqLength: 128, CLS: sp.CLS, SEP: sp.SEP})
		var batches [][]schemas.Example
		packChunks(slices.Values(tokenized), pk, true, func(ex []schemas.Example) {
			for i := 0; i < len(ex); i += 1024 {
				batches = append(batches, ex[i:min(i+1024, len(ex))])
			}
		})
		enc, err := schemas.NewExamplesEncoder(st.Meta())
		if err != nil {
			b.Fatal(err)
		}
		var out []byte
		var in, outBytes int64
		b.ResetTimer()
		for range b.N {
			in, outBytes = 0, 0
			for _, batch := range batches {
				out, err = enc.AppendEncode(out[:0], batch)
				if err != nil {
					b.Fatal(err)
				}
				in += int64(len(batch)) * 128 * 5
				outBytes += int64(len(out))
			}
		}
		perToken(b)
		b.ReportMetric(float64(in)/float64(outBytes), "compression")
	})
}

// packChunks packs docs into chunks of shuffled examples, as the stage
// does, and hands each chunk to chunk. With keep, each chunk has an arena
// of its own, left to the garbage collector; without, the arena is
// released for the next chunk once chunk returns.
func packChunks(docs iter.Seq[pack.Doc], pk *pack.Packer, keep bool, chunk func([]schemas.Example)) {
	const chunkExamples = 8192
	arena := new(pack.Arena)
	examples := make([]schemas.Example, 0, chunkExamples+1024)
	rng := rand.New(rand.NewPCG(1, 2))
	flush := func() {
		rng.Shuffle(len(examples), func(i, j int) { examples[i], examples[j] = examples[j], examples[i] })
		chunk(examples)
		if keep {
			arena, examples = new(pack.Arena), make([]schemas.Example, 0, chunkExamples+1024)
		} else {
			arena.Release()
			examples = examples[:0]
		}
	}
	for d := range docs {
		examples, _ = pk.AppendPacked(examples, d, arena)
		if len(examples) >= chunkExamples {
			flush()
		}
	}
	flush()
}

// memInput hands out values in place as records of one partition, as
// KafkaInput hands out the values in its fetch responses. (Copying each
// into a recycled buffer, as KafkaInput did before it read responses
// itself, cost Stage.Run 0.02-0.04 of its ratio.)
type memInput struct {
	values [][]byte
	next   int
}

func (in *memInput) Next(context.Context) (Record, error) {
	if in.next == len(in.values) {
		return Record{}, io.EOF
	}
	in.next++
	return Record{Position: Position{Topic: "mem", Offset: int64(in.next - 1)}, Value: in.values[in.next-1]}, nil
}

func (in *memInput) Commit(context.Context, Position) error { return nil }

// encodeOutput encodes each batch and drops it.
type encodeOutput struct {
	enc *schemas.ExamplesEncoder
	buf []byte
}

func (o *encodeOutput) Write(_ context.Context, c *Chunk) error {
	for _, b := range c.Batches {
		var err error
		if o.buf, err = o.enc.AppendEncode(o.buf[:0], b.Examples); err != nil {
			return err
		}
	}
	return nil
}
