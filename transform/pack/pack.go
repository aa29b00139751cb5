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
	first  []int32
	second []int32
	cur    [][]int32
}

// New returns a Packer for cfg.
func New(cfg Config) (*Packer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Packer{cfg: cfg, source: docRNG}, nil
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
	return p.PackInto(doc, nil, emit)
}

// Arena hands out the token storage of examples from large blocks, so that
// packing costs a few allocations per chunk of examples rather than two per
// example. Release hands the blocks back for the next arenas: memory that
// is still mapped and likely in cache, where fresh blocks cost page faults
// and cache misses on every write. The zero value is ready to use.
type Arena struct {
	cur    *arenaBlock
	used   int
	blocks []*arenaBlock
}

// arenaBlockTokens is the size of a block in tokens (320 KiB): more than
// MaxSeqLength, so every example fits in one.
const arenaBlockTokens = 1 << 16

type arenaBlock struct {
	ids  [arenaBlockTokens]int32
	segs [arenaBlockTokens]int8
}

// freeBlocks keeps released blocks for reuse, up to 20 MiB (64 blocks:
// four chunks of 8192 examples at L=128, what a stage holds at most, one
// open, two sealed, one being written); more are left to the garbage
// collector. A channel rather than a sync.Pool: the pool empties at every
// garbage collection, which comes every few chunks.
var freeBlocks = make(chan *arenaBlock, 64)

// take returns n token ids and n zero segment ids.
func (a *Arena) take(n int) ([]int32, []int8) {
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
	segs := a.cur.segs[k : k+n : k+n]
	clear(segs)
	return a.cur.ids[k : k+n : k+n], segs
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

// PackInto is Pack with the examples' slices taken from a (fresh
// allocations when a is nil): they are valid until a.Release.
func (p *Packer) PackInto(doc Doc, a *Arena, emit func(schemas.Example)) Stats {
	st := Stats{Documents: 1}
	rng := p.source(p.cfg.Seed, doc.ID)
	target, randomTarget := p.nextTarget(rng)
	p.cur = p.cur[:0]
	curLen := 0
	flush := func() {
		if randomTarget {
			st.RandomTarget++
		}
		p.create(rng, target, doc, a, &st, emit)
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
	return st
}

// nextTarget draws the target length of the next example: L, or with
// probability 0.05 uniform in [5, L] (Python's randint is inclusive).
func (p *Packer) nextTarget(rng draws) (int, bool) {
	if rng.Float64() < RandomTargetProb {
		return MinRandomTarget + rng.IntN(p.cfg.MaxSeqLength-MinRandomTarget+1), true
	}
	return p.cfg.MaxSeqLength, false
}

func (p *Packer) create(rng draws, target int, doc Doc, a *Arena, st *Stats, emit func(schemas.Example)) {
	l := p.cfg.MaxSeqLength
	firstTarget := (target - 3) / 2
	if rng.Float64() < SingleSegmentProb {
		firstTarget = 100000 // the reference's "no second segment"
		st.ForcedSingle++
	}
	first, second := p.first[:0], p.second[:0]
	for _, s := range p.cur {
		// The order of the conditions matters: the 0.5 draw happens only
		// when the first two are false, exactly as Python's short-circuit.
		if len(first) == 0 || len(first)+len(s) < firstTarget ||
			(len(second) == 0 && len(first) < firstTarget && rng.Float64() < OverflowJoinProb) {
			first = append(first, s...)
		} else {
			second = append(second, s...)
		}
	}
	p.first, p.second = first, second
	total := len(first) + len(second)
	if len(first) > l-2 {
		first = first[:l-2]
	}
	if keep := max(0, l-len(first)-3); len(second) > keep {
		second = second[:keep]
	}
	kept := len(first) + len(second)
	st.TokensOut += int64(kept)
	st.TokensTruncate += int64(total - kept)
	st.Examples++

	n := 2 + len(first)
	if len(second) > 0 {
		n += len(second) + 1
	} else {
		st.SingleSegment++
	}
	var ids []int32
	var segs []int8
	if a != nil {
		ids, segs = a.take(n)
	} else {
		ids, segs = make([]int32, n), make([]int8, n)
	}
	ids[0] = p.cfg.CLS
	copy(ids[1:], first)
	ids[1+len(first)] = p.cfg.SEP
	if len(second) > 0 {
		copy(ids[2+len(first):], second)
		ids[n-1] = p.cfg.SEP
		fillOnes(segs[2+len(first) : n])
	}
	emit(schemas.Example{InputIDs: ids, SegmentIDs: segs, DocID: doc.ID, Source: doc.Source})
}

// ones is a run of segment id 1 to copy from: a loop setting one byte at a
// time took a fifth of create's time.
var ones = func() (b [512]int8) {
	for i := range b {
		b[i] = 1
	}
	return
}()

// fillOnes sets every element of s to 1.
func fillOnes(s []int8) {
	for len(s) > 0 {
		s = s[copy(s, ones[:]):]
	}
}
