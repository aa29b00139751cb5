package pack

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/neurosnap/sentences/english"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/wordpiece"
)

const cls, sep = 101, 102

// script is a random source that returns pre-set draws and fails the test
// on a draw the rules should not make.
type script struct {
	t     *testing.T
	draws []float64
}

func (s *script) next(kind string) float64 {
	if len(s.draws) == 0 {
		s.t.Fatalf("unexpected %s draw: the rules drew more often than the reference", kind)
	}
	v := s.draws[0]
	s.draws = s.draws[1:]
	return v
}
func (s *script) Float64() float64 { return s.next("Float64") }
func (s *script) IntN(n int) int {
	v := int(s.next("IntN"))
	if v < 0 || v >= n {
		s.t.Fatalf("scripted IntN %d outside [0,%d)", v, n)
	}
	return v
}

// sent returns a sentence of n ids starting at base, so tests can see which
// sentence a token came from.
func sent(base, n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(base + i)
	}
	return s
}

func cat(parts ...[]int32) []int32 { return slices.Concat(parts...) }

func segs(a, b int) []int8 {
	s := make([]int8, a+b)
	for i := a; i < a+b; i++ {
		s[i] = 1
	}
	return s
}

const (
	no  = 0.99 // a draw that fails every probability test
	yes = 0.01 // a draw that passes every probability test
)

func TestPackRules(t *testing.T) {
	s1, s2, s3, s4 := sent(1000, 5), sent(2000, 5), sent(3000, 5), sent(4000, 5)
	for _, tc := range []struct {
		name  string
		l     int
		sents [][]int32
		draws []float64 // in the reference's order
		want  []schemas.Example
		trunc int64
	}{
		{
			// target 16, A target (16-3)/2=6: s1 opens A; s2 would overflow
			// A, joins with the 0.5 draw; s3, s4 go to B, which is cut to
			// 16-10-3 = 3 tokens.
			name: "accumulate to target, overflow joins A, B truncated from the end", l: 16,
			sents: [][]int32{s1, s2, s3, s4},
			draws: []float64{no /*random target*/, no /*single*/, 0.4 /*join*/, no /*next target*/},
			want:  []schemas.Example{{InputIDs: cat([]int32{cls}, s1, s2, []int32{sep}, s3[:3], []int32{sep}), SegmentIDs: segs(12, 4)}},
			trunc: 7,
		},
		{
			name: "overflowing sentence goes to B when the 0.5 draw fails", l: 16,
			sents: [][]int32{s1, s2, s3, s4},
			draws: []float64{no, no, 0.5, no},
			want:  []schemas.Example{{InputIDs: cat([]int32{cls}, s1, []int32{sep}, s2, s3[:3], []int32{sep}), SegmentIDs: segs(7, 9)}},
			trunc: 7,
		},
		{
			// Target 32, A target 14: s2 (10) fails the 0.5 draw and opens
			// B; s3 (3) still fits A (10+3 < 14, no draw) and joins it
			// after B has begun; s4 goes to B (no draw once B is not
			// empty). B is cut to 32-13-3 = 16 tokens.
			name: "a short sentence after B has begun still joins A", l: 32,
			sents: [][]int32{sent(1000, 10), sent(2000, 10), sent(3000, 3), sent(4000, 12)},
			draws: []float64{no, no, 0.5, no},
			want: []schemas.Example{{
				InputIDs:   cat([]int32{cls}, sent(1000, 10), sent(3000, 3), []int32{sep}, sent(2000, 10), sent(4000, 6), []int32{sep}),
				SegmentIDs: segs(15, 17),
			}},
			trunc: 6,
		},
		{
			name: "single segment with probability 0.1, cut to L-2", l: 16,
			sents: [][]int32{s1, s2, s3, s4},
			draws: []float64{no, 0.0999, no},
			want:  []schemas.Example{{InputIDs: cat([]int32{cls}, s1, s2, s3[:4], []int32{sep}), SegmentIDs: segs(16, 0)}},
			trunc: 6,
		},
		{
			// Random target 5 + 3 = 8: s1 (5) < 8, s1+s2 = 10 >= 8 builds
			// an example; A target (8-3)/2 = 2: s1 opens A, s2 cannot join
			// (len(A) 5 >= 2, no draw) -> B. Then s3 + s4 = 10 < 16 is the
			// document's tail.
			name: "random target length with probability 0.05", l: 16,
			sents: [][]int32{s1, s2, s3, s4},
			draws: []float64{0.0499, 3, no, no /*next target*/, no /*single*/, 0.1 /*join s4*/, no},
			want: []schemas.Example{
				{InputIDs: cat([]int32{cls}, s1, []int32{sep}, s2, []int32{sep}), SegmentIDs: segs(7, 6)},
				{InputIDs: cat([]int32{cls}, s3, s4, []int32{sep}), SegmentIDs: segs(12, 0)},
			},
		},
		{
			name: "document tail becomes a short example; empty sentences ignored", l: 32,
			sents: [][]int32{{}, s1, {}, s2},
			draws: []float64{no, no, no /*s2 overflows A target 14? 10<14 joins without draw*/, no},
			want:  []schemas.Example{{InputIDs: cat([]int32{cls}, s1, s2, []int32{sep}), SegmentIDs: segs(12, 0)}},
		},
		{
			name: "one sentence longer than L fills A and is cut", l: 8,
			sents: [][]int32{sent(1, 20)},
			draws: []float64{no, no, no},
			want:  []schemas.Example{{InputIDs: cat([]int32{cls}, sent(1, 6), []int32{sep}), SegmentIDs: segs(8, 0)}},
			trunc: 14,
		},
		{
			name: "empty document yields nothing", l: 8,
			sents: [][]int32{{}, {}},
			draws: []float64{no},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The fifth case's middle draw is not made (s2 fits in A);
			// scripts list exactly the draws the reference makes.
			if tc.name == "document tail becomes a short example; empty sentences ignored" {
				tc.draws = []float64{no, no, no}
			}
			p, err := New(Config{MaxSeqLength: tc.l, CLS: cls, SEP: sep})
			if err != nil {
				t.Fatal(err)
			}
			sc := &script{t: t, draws: tc.draws}
			p.source = func(uint64, string) draws { return sc }
			var got []schemas.Example
			st := p.Pack(Doc{ID: "d", Source: "books", Sentences: tc.sents}, func(e schemas.Example) { got = append(got, e) })
			if len(sc.draws) != 0 {
				t.Fatalf("%d scripted draws left: the rules drew less often than the reference", len(sc.draws))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d examples, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if !slices.Equal(got[i].InputIDs, w.InputIDs) || !slices.Equal(got[i].SegmentIDs, w.SegmentIDs) {
					t.Fatalf("example %d\n got %v %v\nwant %v %v", i, got[i].InputIDs, got[i].SegmentIDs, w.InputIDs, w.SegmentIDs)
				}
				if got[i].DocID != "d" || got[i].Source != "books" {
					t.Fatalf("example %d labels %q/%q", i, got[i].DocID, got[i].Source)
				}
				if len(got[i].InputIDs) > tc.l {
					t.Fatalf("example %d has %d tokens > L=%d", i, len(got[i].InputIDs), tc.l)
				}
			}
			if st.TokensTruncate != tc.trunc {
				t.Fatalf("truncated %d tokens, want %d", st.TokensTruncate, tc.trunc)
			}
			if st.TokensIn != st.TokensOut+st.TokensTruncate {
				t.Fatalf("tokens in %d != out %d + truncated %d", st.TokensIn, st.TokensOut, st.TokensTruncate)
			}
		})
	}
}

func TestPackNeverSpansDocuments(t *testing.T) {
	p, err := New(Config{MaxSeqLength: 64, Seed: 7, CLS: cls, SEP: sep})
	if err != nil {
		t.Fatal(err)
	}
	for d := 0; d < 200; d++ {
		id := fmt.Sprint("doc-", d)
		var sents [][]int32
		for i := 0; i < 1+d%13; i++ {
			sents = append(sents, sent(10000*(d+1), 1+(d*7+i*3)%40))
		}
		p.Pack(Doc{ID: id, Sentences: sents}, func(e schemas.Example) {
			for _, tok := range e.InputIDs {
				if tok != cls && tok != sep && int(tok)/10000 != d+1 {
					t.Fatalf("example of %s holds token %d of another document", id, tok)
				}
			}
			if e.DocID != id {
				t.Fatalf("example labelled %q, want %q", e.DocID, id)
			}
		})
	}
}

func TestPackDeterministic(t *testing.T) {
	docs := []Doc{}
	for d := 0; d < 50; d++ {
		var sents [][]int32
		for i := 0; i < 30; i++ {
			sents = append(sents, sent(i, 3+(d+i)%17))
		}
		docs = append(docs, Doc{ID: fmt.Sprint(d), Sentences: sents})
	}
	run := func(seed uint64, order []int) map[string][]schemas.Example {
		p, _ := New(Config{MaxSeqLength: 32, Seed: seed, CLS: cls, SEP: sep})
		out := map[string][]schemas.Example{}
		for _, i := range order {
			p.Pack(docs[i], func(e schemas.Example) { out[e.DocID] = append(out[e.DocID], e) })
		}
		return out
	}
	fwd := make([]int, len(docs))
	rev := make([]int, len(docs))
	for i := range docs {
		fwd[i], rev[i] = i, len(docs)-1-i
	}
	a, b, c := run(1, fwd), run(1, rev), run(2, fwd)
	same := func(x, y map[string][]schemas.Example) bool {
		for k, xs := range x {
			ys := y[k]
			if len(xs) != len(ys) {
				return false
			}
			for i := range xs {
				if !slices.Equal(xs[i].InputIDs, ys[i].InputIDs) || !slices.Equal(xs[i].SegmentIDs, ys[i].SegmentIDs) {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("packing a document depends on the documents before it")
	}
	if same(a, c) {
		t.Fatal("seeds 1 and 2 packed 50 documents identically: the seed is not used")
	}
}

// TestPackStatistics packs real text (Moby-Dick and State of the Union
// speeches, tokenized with the BERT vocabulary) and checks the reference's
// rates: 10% forced single-segment, 5% random targets, and that examples
// built towards the full target length are full.
func TestPackStatistics(t *testing.T) {
	tok, err := wordpiece.Load(filepath.Join("..", "..", ".cache", "vocab", "bert-base-uncased-vocab.txt"))
	if err != nil {
		t.Fatalf("%v (run scripts/setup.sh)", err)
	}
	sp := tok.Specials()
	const l = 128
	p, err := New(Config{MaxSeqLength: l, Seed: 42, CLS: sp.CLS, SEP: sp.SEP})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, dir := range []string{"moby-dick", "sotu"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", ".cache", "corpora", dir, "*.txt"))
		files = append(files, m...)
	}
	if len(files) < 300 {
		t.Fatalf("found %d corpus files, want >= 300 (run scripts/setup.sh)", len(files))
	}
	// The corpus files hold paragraphs; the document contract holds
	// sentences, split by Punkt as ingest does.
	punkt, err := english.NewSentenceTokenizer(nil)
	if err != nil {
		t.Fatal(err)
	}
	// ~4 MB of text gives ~8000 examples: enough for 4-sigma bands of a
	// few tenths of a percent, small enough for -race on 2 cores.
	budget := 4 << 20
	var st Stats
	var arena Arena
	lengths := make([]int, l+1)
	var specials, exampleTokens int64
	for _, f := range files {
		if budget <= 0 {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		budget -= len(b)
		var sents [][]int32
		for para := range strings.Lines(string(b)) {
			for _, s := range punkt.Tokenize(para) {
				sents = append(sents, tok.Encode(nil, s.Text))
			}
		}
		doc := Doc{ID: f, Source: "test", Sentences: sents}
		var plain, inArena []schemas.Example
		inArena, _ = p.AppendPacked(inArena, doc, &arena)
		st.Add(p.Pack(doc, func(e schemas.Example) {
			plain = append(plain, e)
			lengths[len(e.InputIDs)]++
			exampleTokens += int64(len(e.InputIDs))
			for _, id := range e.InputIDs {
				if id == sp.CLS || id == sp.SEP {
					specials++
				}
			}
		}))
		// The arena changes where examples live, nothing else (also when
		// its blocks held another document's examples); each one's
		// slices end where it ends, so appending to one cannot overwrite
		// the next.
		if !reflect.DeepEqual(inArena, plain) {
			t.Fatalf("%s: AppendPacked with an arena gave other examples than Pack", f)
		}
		for _, e := range inArena {
			if cap(e.InputIDs) != len(e.InputIDs) || cap(e.SegmentIDs) != len(e.SegmentIDs) {
				t.Fatalf("%s: arena example with spare capacity", f)
			}
		}
		// The next document reuses these blocks, segment ids of 1
		// included: they must come back zeroed.
		arena.Release()
	}
	n := float64(st.Examples)
	if st.Examples < 5000 {
		t.Fatalf("only %d examples; the corpus should give > 5000", st.Examples)
	}
	within := func(name string, got int64, p float64) {
		mean, sd := n*p, math.Sqrt(n*p*(1-p))
		if math.Abs(float64(got)-mean) > 4*sd {
			t.Errorf("%s: %d of %d examples (%.2f%%), want %.1f%% +- 4 sd (%.0f +- %.0f)", name, got, st.Examples, 100*float64(got)/n, 100*p, mean, 4*sd)
		}
	}
	within("forced single segment", st.ForcedSingle, SingleSegmentProb)
	within("random target", st.RandomTarget, RandomTargetProb)
	if st.TokensIn != st.TokensOut+st.TokensTruncate || exampleTokens != st.TokensOut+specials {
		t.Fatalf("token ledger: in %d, out %d, truncated %d, in examples %d (+%d specials)", st.TokensIn, st.TokensOut, st.TokensTruncate, exampleTokens, specials)
	}
	// Long documents: most examples reach L (all but random-target ones and
	// each document's tail).
	full := float64(lengths[l]) / n
	if full < 0.7 {
		t.Errorf("only %.1f%% of examples are full length %d", 100*full, l)
	}
	// Truncation is the reference's own: bounded by a fraction of the input.
	if tr := float64(st.TokensTruncate) / float64(st.TokensIn); tr > 0.25 {
		t.Errorf("truncated %.1f%% of tokens", 100*tr)
	}
	t.Logf("%d docs, %d examples, %.1f%% full, %.2f%% forced single, %.2f%% random target, %.2f%% single segment, %.2f%% tokens truncated",
		st.Documents, st.Examples, 100*full, 100*float64(st.ForcedSingle)/n, 100*float64(st.RandomTarget)/n, 100*float64(st.SingleSegment)/n, 100*float64(st.TokensTruncate)/float64(st.TokensIn))
}

// FuzzPack: for any sentence lengths, L and seed, examples are well formed
// ([CLS] A [SEP] (B [SEP]), segment ids 0 then 1, at most L long) and the
// token ledger balances.
func FuzzPack(f *testing.F) {
	f.Add([]byte{5, 5, 5, 5}, uint16(16), uint64(1))
	f.Add([]byte{200, 0, 1, 130}, uint16(128), uint64(7))
	f.Add([]byte{}, uint16(5), uint64(0))
	f.Fuzz(func(t *testing.T, lens []byte, l uint16, seed uint64) {
		cfg := Config{MaxSeqLength: 5 + int(l)%600, Seed: seed, CLS: cls, SEP: sep}
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var sents [][]int32
		for i, n := range lens {
			sents = append(sents, sent(1000*(i+1), int(n)))
		}
		var out int64
		st := p.Pack(Doc{ID: "d", Sentences: sents}, func(e schemas.Example) {
			n := len(e.InputIDs)
			if n > cfg.MaxSeqLength || n < 2 || len(e.SegmentIDs) != n {
				t.Fatalf("example of %d tokens (%d segment ids), L=%d", n, len(e.SegmentIDs), cfg.MaxSeqLength)
			}
			if e.InputIDs[0] != cls || e.InputIDs[n-1] != sep || e.SegmentIDs[0] != 0 {
				t.Fatalf("malformed example %v %v", e.InputIDs, e.SegmentIDs)
			}
			seps := 0
			for i, id := range e.InputIDs {
				if id == sep {
					seps++
				}
				if i > 0 && e.SegmentIDs[i] < e.SegmentIDs[i-1] {
					t.Fatalf("segment ids go back: %v", e.SegmentIDs)
				}
			}
			if b := e.SegmentIDs[n-1] == 1; (b && seps != 2) || (!b && seps != 1) {
				t.Fatalf("%d [SEP]s with segments %v", seps, e.SegmentIDs)
			}
			out += int64(n - seps - 1)
		})
		if st.TokensIn != st.TokensOut+st.TokensTruncate || out != st.TokensOut {
			t.Fatalf("ledger: in %d out %d truncated %d, counted %d", st.TokensIn, st.TokensOut, st.TokensTruncate, out)
		}
	})
}
