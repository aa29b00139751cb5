package wordpiece

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// TrainConfig configures vocabulary training. The zero value trains like
// HuggingFace's BertWordPieceTokenizer.train: 30522 tokens, pairs seen at
// least twice, at most 1000 alphabet characters, the five BERT specials.
type TrainConfig struct {
	// VocabSize is the number of tokens to produce (default 30522),
	// specials and alphabet included.
	VocabSize int
	// MinFrequency stops merging once the most frequent pair occurs fewer
	// times (default 2).
	MinFrequency int
	// LimitAlphabet keeps only the most frequent characters (default 1000;
	// negative: no limit). Words lose the characters that are dropped.
	LimitAlphabet int
	// Specials come first, ids 0.. in this order (default [PAD], [UNK],
	// [CLS], [SEP], [MASK]). They are cut out of training text as when
	// encoding.
	Specials []string
	// Cased keeps case and accents (BertNormalizer lowercase=false); the
	// default is uncased, like bert-base-uncased.
	Cased bool
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.VocabSize == 0 {
		c.VocabSize = 30522
	}
	if c.MinFrequency == 0 {
		c.MinFrequency = 2
	}
	if c.LimitAlphabet == 0 {
		c.LimitAlphabet = 1000
	}
	if c.Specials == nil {
		c.Specials = bertSpecials[:]
	}
	return c
}

// Trainer learns a WordPiece vocabulary the way HuggingFace's
// WordPieceTrainer does: BertNormalizer + BertPreTokenizer words are counted,
// split into characters (every character but the first with the "##"
// prefix), and the most frequent adjacent pair is merged until the
// vocabulary is full (BPE). It only keeps word counts, never the text.
type Trainer struct {
	cfg    TrainConfig
	norm   *Tokenizer // normalizes and pre-tokenizes; has no vocabulary
	counts map[string]int64
}

// NewTrainer returns a trainer; feed it with Add or AddReader, then Train.
func NewTrainer(cfg TrainConfig) (*Trainer, error) {
	cfg = cfg.withDefaults()
	if cfg.VocabSize < len(cfg.Specials) {
		return nil, fmt.Errorf("vocab size %d is smaller than the %d special tokens", cfg.VocabSize, len(cfg.Specials))
	}
	vocab := map[string]int32{}
	var added []addedToken
	for i, s := range cfg.Specials {
		if s == "" {
			return nil, errors.New("empty special token")
		}
		if _, dup := vocab[s]; dup {
			return nil, fmt.Errorf("special token %q listed twice", s)
		}
		vocab[s] = int32(i)
		added = append(added, addedToken{s, int32(i)})
	}
	norm, err := build(config{
		// No word-length cut: the trainer counts every word whole, as
		// HuggingFace's does.
		vocab: vocab, added: added, prefix: "##", maxChars: 1 << 30,
		cleanText: true, chinese: true, stripAccents: !cfg.Cased, lowercase: !cfg.Cased,
	})
	if err != nil {
		return nil, err
	}
	return &Trainer{cfg: cfg, norm: norm, counts: map[string]int64{}}, nil
}

// Add counts the words of one text.
func (tr *Trainer) Add(text string) {
	e := encoder{t: tr.norm}
	e.words = func(w []byte) { tr.counts[string(w)]++ }
	e.run(text)
}

// AddReader counts the words of every line of r. name labels errors.
func (tr *Trainer) AddReader(ctx context.Context, name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var line []byte
	var off int64
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line = line[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			line = append(line, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if len(line) > 0 {
			tr.Add(string(line))
			off += int64(len(line))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s at byte %d: %w", name, off, err)
		}
	}
}

// Words is the number of distinct words counted so far.
func (tr *Trainer) Words() int { return len(tr.counts) }

// pair is two adjacent symbol ids packed into one map key.
type pair uint64

func mkPair(a, b int32) pair       { return pair(uint64(uint32(a))<<32 | uint64(uint32(b))) }
func (p pair) parts() (a, b int32) { return int32(p >> 32), int32(uint32(p)) }

type merge struct {
	p     pair
	count int64
}

// mergeQueue pops the most frequent pair, the smallest pair of ids on ties
// (HuggingFace's order).
type mergeQueue []merge

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].count != q[j].count {
		return q[i].count > q[j].count
	}
	return q[i].p < q[j].p
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(merge)) }
func (q *mergeQueue) Pop() any {
	old := *q
	m := old[len(old)-1]
	*q = old[:len(old)-1]
	return m
}

// Train runs the merges and returns the vocabulary in id order. Word order
// is fixed (sorted) where HuggingFace iterates a hash map, so the result is
// deterministic; HuggingFace's own ids for equally frequent pairs vary from
// run to run.
func (tr *Trainer) Train(ctx context.Context) ([]string, error) {
	cfg := tr.cfg
	const prefix = "##"
	var vocab []string
	ids := map[string]int32{}
	addTok := func(s string) int32 {
		if id, ok := ids[s]; ok {
			return id
		}
		id := int32(len(vocab))
		vocab = append(vocab, s)
		ids[s] = id
		return id
	}
	for _, s := range cfg.Specials {
		addTok(s)
	}

	words := make([]string, 0, len(tr.counts))
	for w := range tr.counts {
		words = append(words, w)
	}
	slices.Sort(words)

	// Alphabet: every character, weighted by word counts; the rarest are
	// dropped beyond LimitAlphabet; the rest enter in code point order.
	alpha := map[rune]int64{}
	for _, w := range words {
		for _, r := range w {
			alpha[r] += tr.counts[w]
		}
	}
	kept := make([]rune, 0, len(alpha))
	for r := range alpha {
		kept = append(kept, r)
	}
	if cfg.LimitAlphabet > 0 && len(kept) > cfg.LimitAlphabet {
		slices.SortFunc(kept, func(a, b rune) int {
			if alpha[a] != alpha[b] {
				if alpha[a] > alpha[b] {
					return -1
				}
				return 1
			}
			return int(a - b)
		})
		kept = kept[:cfg.LimitAlphabet]
	}
	slices.Sort(kept)
	inAlpha := map[rune]bool{}
	for _, r := range kept {
		addTok(string(r))
		inAlpha[r] = true
	}

	// Each word as symbol ids: its characters, "##"-prefixed after the first.
	syms := make([][]int32, len(words))
	counts := make([]int64, len(words))
	for i, w := range words {
		counts[i] = tr.counts[w]
		first := true
		for _, r := range w {
			if !inAlpha[r] {
				continue
			}
			s := string(r)
			if !first {
				s = prefix + s
			}
			syms[i] = append(syms[i], addTok(s))
			first = false
		}
	}

	pairCount := map[pair]int64{}
	where := map[pair]map[int32]struct{}{}
	for i, s := range syms {
		for j := 0; j+1 < len(s); j++ {
			p := mkPair(s[j], s[j+1])
			pairCount[p] += counts[i]
			if where[p] == nil {
				where[p] = map[int32]struct{}{}
			}
			where[p][int32(i)] = struct{}{}
		}
	}
	q := make(mergeQueue, 0, len(pairCount))
	for p, c := range pairCount {
		q = append(q, merge{p, c})
	}
	heap.Init(&q)

	for steps := 0; len(vocab) < cfg.VocabSize && q.Len() > 0; steps++ {
		if steps%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		top := heap.Pop(&q).(merge)
		if c := pairCount[top.p]; c != top.count {
			// Counts changed since it was queued: requeue with the
			// current count.
			if c > 0 {
				heap.Push(&q, merge{top.p, c})
			}
			continue
		}
		if top.count < 1 || top.count < int64(cfg.MinFrequency) {
			break
		}
		a, b := top.p.parts()
		newTok := vocab[a] + strings.TrimPrefix(vocab[b], prefix)
		nid := addTok(newTok)

		touched := map[pair]struct{}{}
		positions := where[top.p]
		delete(where, top.p)
		wordIdx := make([]int32, 0, len(positions))
		for i := range positions {
			wordIdx = append(wordIdx, i)
		}
		slices.Sort(wordIdx)
		for _, i := range wordIdx {
			s, c := syms[i], counts[i]
			out := s[:0:0]
			for j := 0; j < len(s); j++ {
				if j+1 < len(s) && s[j] == a && s[j+1] == b {
					if len(out) > 0 {
						prev := out[len(out)-1]
						pairCount[mkPair(prev, a)] -= c
						np := mkPair(prev, nid)
						pairCount[np] += c
						tr.note(where, touched, np, i)
					}
					if j+2 < len(s) {
						next := s[j+2]
						pairCount[mkPair(b, next)] -= c
						np := mkPair(nid, next)
						pairCount[np] += c
						tr.note(where, touched, np, i)
					}
					pairCount[top.p] -= c
					out = append(out, nid)
					j++
					continue
				}
				out = append(out, s[j])
			}
			syms[i] = out
		}
		for p := range touched {
			if c := pairCount[p]; c > 0 {
				heap.Push(&q, merge{p, c})
			}
		}
	}
	return vocab, nil
}

func (tr *Trainer) note(where map[pair]map[int32]struct{}, touched map[pair]struct{}, p pair, word int32) {
	if where[p] == nil {
		where[p] = map[int32]struct{}{}
	}
	where[p][word] = struct{}{}
	touched[p] = struct{}{}
}

// WriteVocab writes tokens as a vocab.txt: one per line, line number = id.
func WriteVocab(w io.Writer, tokens []string) error {
	bw := bufio.NewWriter(w)
	for i, t := range tokens {
		if strings.ContainsAny(t, "\n\r") || !utf8.ValidString(t) {
			return fmt.Errorf("token %d %q cannot be written to a vocab.txt", i, t)
		}
		bw.WriteString(t)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
