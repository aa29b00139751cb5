// Package pack turns tokenized documents into fixed-length pre-training
// examples with the rules of the reference ELECTRA data builder
// (google-research/electra, build_pretraining_dataset.py, ExampleBuilder):
//
//   - each line of a document is a sentence; sentences accumulate until
//     they reach the target length, then become one example; the rest of a
//     document becomes a last, shorter example; examples never span
//     documents;
//   - an example is [CLS] A [SEP] B [SEP]; with probability 0.1 it is single
//     segment ([CLS] A [SEP]); otherwise A takes whole sentences while they
//     fit in (target-3)/2 tokens, and the first sentence that would overflow
//     A still joins it with probability 0.5 (only while B is empty);
//   - A is cut to L-2 tokens, B to L-3-len(A), from the end;
//   - after each example, with probability 0.05 the next example's target
//     length is uniform in [5, L] instead of L.
//
// Two deliberate differences, both for replayable streaming:
//
//   - The random source is per document, seeded from (seed, document id),
//     not one stream across the corpus. A document packs the same way
//     whatever came before it, so a batch rebuilt after a consumer restart
//     or rebalance is identical to the first attempt. The target length of
//     a document's first example is drawn like every other one (0.05 random),
//     where the reference carries it over from the previous document.
//   - Blank lines inside a document are paragraph breaks and are skipped;
//     the document boundary is what ends examples (the reference's input has
//     one blank line per document boundary).
//
// Rates and draw order otherwise follow the reference exactly.
package pack

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"

	"github.com/electra-go/electra/schemas"
)

// Probabilities of the reference builder.
const (
	SingleSegmentProb = 0.1
	OverflowJoinProb  = 0.5
	RandomTargetProb  = 0.05
	MinRandomTarget   = 5
)

// Config configures a Packer. The zero value is not usable: MaxSeqLength,
// CLS and SEP are required.
type Config struct {
	// MaxSeqLength is L, the example width including [CLS]/[SEP].
	// Must be in [5, 32767]; ELECTRA-Small uses 128, Base/Large 512.
	MaxSeqLength int
	// Seed makes packing deterministic; the same seed and documents give
	// the same examples.
	Seed uint64
	// CLS and SEP are the vocabulary ids of [CLS] and [SEP].
	CLS, SEP int32
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.MaxSeqLength < MinRandomTarget || c.MaxSeqLength > 32767 {
		return fmt.Errorf("pack: MaxSeqLength %d out of range [%d, 32767]", c.MaxSeqLength, MinRandomTarget)
	}
	if c.CLS == c.SEP {
		return fmt.Errorf("pack: CLS and SEP are both id %d", c.CLS)
	}
	return nil
}

// Doc is one tokenized document: its sentences' token ids, without special
// tokens. Empty sentences are allowed and ignored.
type Doc struct {
	ID        string
	Source    string
	Sentences [][]int32
}

// Stats counts what packing did; they add up across documents.
type Stats struct {
	Documents      int64
	Examples       int64
	SingleSegment  int64 // examples without a B segment
	ForcedSingle   int64 // single segment by the 0.1 draw
	RandomTarget   int64 // examples built towards a random target length
	TokensIn       int64 // sentence tokens in (no specials)
	TokensOut      int64 // sentence tokens kept in examples (no specials)
	TokensTruncate int64 // tokens cut by the reference's truncation
}

// Sub takes o, earlier counts of the same run, from s.
func (s *Stats) Sub(o Stats) {
	s.Documents -= o.Documents
	s.Examples -= o.Examples
	s.SingleSegment -= o.SingleSegment
	s.ForcedSingle -= o.ForcedSingle
	s.RandomTarget -= o.RandomTarget
	s.TokensIn -= o.TokensIn
	s.TokensOut -= o.TokensOut
	s.TokensTruncate -= o.TokensTruncate
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Documents += o.Documents
	s.Examples += o.Examples
	s.SingleSegment += o.SingleSegment
	s.ForcedSingle += o.ForcedSingle
	s.RandomTarget += o.RandomTarget
	s.TokensIn += o.TokensIn
	s.TokensOut += o.TokensOut
	s.TokensTruncate += o.TokensTruncate
}

// Packer packs documents. It keeps scratch buffers, so one Packer must not
// be used from two goroutines at once; it holds no state between documents.
type Packer struct {
	cfg Config
	// source returns a document's random source; tests script it.
	source func(seed uint64, id string) draws
	// cur holds the sentences of the example being built, inFirst
	// whether each goes to segment A.
	cur     [][]int32
	inFirst []bool
	// segRuns is L segment ids 0 then L segment ids 1: the segment ids
	// of every example packed into an Arena are a slice of it.
	segRuns []int8
}

// New returns a Packer for cfg.
func New(cfg Config) (*Packer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	segRuns := make([]int8, 2*cfg.MaxSeqLength)
	for i := cfg.MaxSeqLength; i < len(segRuns); i++ {
		segRuns[i] = 1
	}
	return &Packer{cfg: cfg, source: docRNG, segRuns: segRuns}, nil
}

// draws is the part of *rand.Rand the rules consume.
type draws interface {
	Float64() float64
	IntN(n int) int
}

// docRNG seeds a document's random source from the packer seed and the
// document id, so that packing a document does not depend on its
// neighbours.
func docRNG(seed uint64, id string) draws {
	h := fnv.New64a()
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Pack packs one document and calls emit for each example, in order. The
// example's slices are freshly allocated and owned by the receiver.
func (p *Packer) Pack(doc Doc, emit func(schemas.Example)) Stats {
	examples, st := p.AppendPacked(nil, doc, nil)
	for _, e := range examples {
		emit(e)
	}
	return st
}

// Arena hands out the token storage of examples from large blocks, so that
// packing costs a few allocations per chunk of examples rather than one per
// example. Release hands the blocks back for the next arenas: memory that
// is still mapped and likely in cache, where fresh blocks cost page faults
// and cache misses on every write. The zero value is ready to use.
type Arena struct {
	cur    *arenaBlock
	used   int
	blocks []*arenaBlock
}

// arenaBlockTokens is the size of a block in tokens (256 KiB): more than
// MaxSeqLength, so every example fits in one.
const arenaBlockTokens = 1 << 16

type arenaBlock [arenaBlockTokens]int32

// freeBlocks keeps released blocks for reuse, up to 16 MiB (64 blocks:
// four chunks of 8192 examples at L=128, what a stage holds at most, one
// open, two sealed, one being written); more are left to the garbage
// collector. A channel rather than a sync.Pool: the pool empties at every
// garbage collection, which comes every few chunks.
var freeBlocks = make(chan *arenaBlock, 64)

// take returns room for n token ids.
func (a *Arena) take(n int) []int32 {
	if a.cur == nil || a.used+n > arenaBlockTokens {
		select {
		case a.cur = <-freeBlocks:
		default:
			a.cur = new(arenaBlock)
		}
		a.used = 0
		a.blocks = append(a.blocks, a.cur)
	}
	k := a.used
	a.used += n
	return a.cur[k : k+n : k+n]
}

// Release hands the arena's blocks back for reuse and empties it. The
// examples built from it must not be used afterwards.
func (a *Arena) Release() {
	for _, b := range a.blocks {
		select {
		case freeBlocks <- b:
		default:
		}
	}
	clear(a.blocks)
	*a = Arena{blocks: a.blocks[:0]}
}

// AppendPacked packs one document and appends its examples to dst, in
// order, with their token ids taken from a (fresh allocations when a is
// nil): they are valid until a.Release. With an arena, the segment ids
// are shared with other examples and the Packer, and must not be written
// to.
func (p *Packer) AppendPacked(dst []schemas.Example, doc Doc, a *Arena) ([]schemas.Example, Stats) {
	st := Stats{Documents: 1}
	rng := p.source(p.cfg.Seed, doc.ID)
	target, randomTarget := p.nextTarget(rng)
	p.cur = p.cur[:0]
	curLen := 0
	flush := func() {
		if randomTarget {
			st.RandomTarget++
		}
		dst = p.create(dst, rng, target, doc, a, &st)
		p.cur = p.cur[:0]
		curLen = 0
		target, randomTarget = p.nextTarget(rng)
	}
	for _, s := range doc.Sentences {
		if len(s) == 0 {
			continue
		}
		st.TokensIn += int64(len(s))
		p.cur = append(p.cur, s)
		curLen += len(s)
		if curLen >= target {
			flush()
		}
	}
	if curLen > 0 {
		flush()
	}
	return dst, st
}

// nextTarget draws the target length of the next example: L, or with
// probability 0.05 uniform in [5, L] (Python's randint is inclusive).
func (p *Packer) nextTarget(rng draws) (int, bool) {
	if rng.Float64() < RandomTargetProb {
		return MinRandomTarget + rng.IntN(p.cfg.MaxSeqLength-MinRandomTarget+1), true
	}
	return p.cfg.MaxSeqLength, false
}

func (p *Packer) create(dst []schemas.Example, rng draws, target int, doc Doc, a *Arena, st *Stats) []schemas.Example {
	l := p.cfg.MaxSeqLength
	firstTarget := (target - 3) / 2
	if rng.Float64() < SingleSegmentProb {
		firstTarget = 100000 // the reference's "no second segment"
		st.ForcedSingle++
	}
	// Which segment each sentence joins is decided first, from lengths
	// alone, and the tokens are then copied once, straight into the
	// example, not into A and B buffers first.
	inFirst := p.inFirst[:0]
	nFirst, nSecond := 0, 0
	for _, s := range p.cur {
		// The order of the conditions matters: the 0.5 draw happens only
		// when the first two are false, exactly as Python's short-circuit.
		toA := nFirst == 0 || nFirst+len(s) < firstTarget ||
			(nSecond == 0 && nFirst < firstTarget && rng.Float64() < OverflowJoinProb)
		if toA {
			nFirst += len(s)
		} else {
			nSecond += len(s)
		}
		inFirst = append(inFirst, toA)
	}
	p.inFirst = inFirst
	total := nFirst + nSecond
	// Truncation from the end: A to L-2 tokens, B to what is left.
	keptFirst := min(nFirst, l-2)
	keptSecond := min(nSecond, max(0, l-keptFirst-3))
	kept := keptFirst + keptSecond
	st.TokensOut += int64(kept)
	st.TokensTruncate += int64(total - kept)
	st.Examples++

	n := 2 + keptFirst
	if keptSecond > 0 {
		n += keptSecond + 1
	} else {
		st.SingleSegment++
	}
	// Segment ids are [CLS] A [SEP] as 0s and B [SEP] as 1s: a slice of
	// one shared run of L 0s and L 1s. Written per example into the
	// arena, they were a fifth of its memory traffic, and a second place
	// the encoder read from when it lays out a batch. Pack's examples own
	// copies.
	segs := p.segRuns[l-(2+keptFirst):][:n:n]
	var ids []int32
	if a != nil {
		ids = a.take(n)
	} else {
		ids, segs = make([]int32, n), slices.Clone(segs)
	}
	ids[0] = p.cfg.CLS
	// A fills ids[1:1+keptFirst], B ids[2+keptFirst:2+keptFirst+keptSecond],
	// each with its sentences in order, cut where its room ends.
	fa, fb := ids[1:1+keptFirst], ids[2+keptFirst:2+keptFirst+keptSecond]
	for k, s := range p.cur {
		if inFirst[k] {
			fa = fa[copy(fa, s):]
		} else {
			fb = fb[copy(fb, s):]
		}
	}
	ids[1+keptFirst] = p.cfg.SEP
	if keptSecond > 0 {
		ids[n-1] = p.cfg.SEP
	}
	return append(dst, schemas.Example{InputIDs: ids, SegmentIDs: segs, DocID: doc.ID, Source: doc.Source})
}
