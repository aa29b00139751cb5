package trainer

import (
	"bufio"
	"cmp"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer/torch"
	"github.com/electra-go/electra/transform/wordpiece"
)

// corpusBatches tokenizes Moby-Dick (setup puts it in .cache/corpora) with
// the project's WordPiece and packs paragraphs into [CLS] ... [SEP]
// examples of up to seqLen tokens, then groups them into batches.
func corpusBatches(t testing.TB, c Config, size, count int) []Batch {
	t.Helper()
	root := "../.cache"
	tok, err := wordpiece.Load(filepath.Join(root, "vocab", "bert-base-uncased-vocab.txt"))
	if err != nil {
		t.Fatalf("vocab (run make setup): %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "corpora", "moby-dick", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no Moby-Dick chapters in .cache/corpora (run make setup)")
	}
	l := c.SeqLen
	var out []Batch
	cur := Batch{Size: size, SeqLen: l, IDs: make([]int32, size*l), Segments: make([]int8, size*l), Lengths: make([]int16, size)}
	row := 0
	example := []int32{c.Tokens.CLS}
	emit := func() {
		example = append(example, c.Tokens.SEP)
		copy(cur.IDs[row*l:], example)
		cur.Lengths[row] = int16(len(example))
		row++
		example = append(example[:0], c.Tokens.CLS)
		if row == size {
			out = append(out, cur)
			cur = Batch{Size: size, SeqLen: l, IDs: make([]int32, size*l), Segments: make([]int8, size*l), Lengths: make([]int16, size)}
			row = 0
		}
	}
	var ids []int32
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			ids = tok.Encode(ids[:0], line)
			for len(ids) > 0 {
				room := l - 1 - len(example)
				n := min(room, len(ids))
				example = append(example, ids[:n]...)
				ids = ids[n:]
				if len(example) == l-1 {
					emit()
				}
			}
			if len(out) == count {
				fh.Close()
				return out
			}
		}
		fh.Close()
	}
	t.Fatalf("corpus gave only %d batches, want %d", len(out), count)
	return nil
}

// compactVocab renumbers the batches' ids to the k-1 most frequent tokens
// (specials first: pad 0, [CLS] 1, [SEP] 2, [MASK] 3, [UNK] 4), everything
// else [UNK], and returns the config to train them with. Fewer, more
// frequent tokens let a small CPU budget show contextual learning.
func compactVocab(c Config, batches []Batch, k int) Config {
	freq := map[int32]int{}
	for _, b := range batches {
		for i, id := range b.IDs {
			if int(i%b.SeqLen) < int(b.Lengths[i/b.SeqLen]) && id != c.Tokens.CLS && id != c.Tokens.SEP {
				freq[id]++
			}
		}
	}
	ids := make([]int32, 0, len(freq))
	for id := range freq {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int32) int { return cmp.Or(freq[b]-freq[a], int(a-b)) })
	remap := map[int32]int32{c.Tokens.Pad: 0, c.Tokens.CLS: 1, c.Tokens.SEP: 2, c.Tokens.Mask: 3}
	for i, id := range ids[:min(len(ids), k-5)] {
		remap[id] = int32(5 + i)
	}
	for _, b := range batches {
		for i, id := range b.IDs {
			if r, ok := remap[id]; ok {
				b.IDs[i] = r
			} else {
				b.IDs[i] = 4
			}
		}
	}
	c.VocabSize = k
	c.Tokens = SpecialTokens{Pad: 0, CLS: 1, SEP: 2, Mask: 3}
	return c
}

// TestLearnsOnRealText trains the tiny model on Moby-Dick (WordPiece ids
// renumbered to the 1000 most frequent, sequences of 32) for a few hundred
// CPU steps. It asserts that the generator's MLM loss falls well below its
// start and that the discriminator beats the best context-free predictor:
// its BCE ends below the entropy of the replaced fraction, which is what
// always answering the base rate scores. Within this budget the
// discriminator does not yet become confident enough to flip tokens to
// "replaced" (accuracy at the 0.5 threshold stays at the all-original
// baseline); that takes thousands of steps.
func TestLearnsOnRealText(t *testing.T) {
	defer torch.LockThread()()
	// One thread: on a shared 2-core machine a second one mostly waits.
	torch.SetThreads(1)
	c, _ := Preset("tiny")
	c.SeqLen, c.BatchSize = 32, 32
	c.MaxPredictions = maxPredictions(c.MaskProb, c.SeqLen)
	const steps = 400
	batches := corpusBatches(t, c, c.BatchSize, 100)
	c = compactVocab(c, batches, 1000)
	// lr 5e-4 as for ELECTRA-Small; without bias correction Adam's first
	// hundreds of steps are several times larger than lr, so higher rates
	// with this short warmup make the discriminator collapse to the prior.
	tr, err := NewTrainer(c, gotch.CPU, 1, Schedule{Peak: 5e-4, Warmup: steps / 10, Total: steps}, DefaultAdam())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var first, last []StepResult
	for i := range steps {
		r, err := tr.Step(batches[i%len(batches)], "")
		if err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			first = append(first, r)
		}
		if i >= steps-100 {
			last = append(last, r)
		}
	}
	mean := func(rs []StepResult, f func(StepResult) float64) float64 {
		var s float64
		for _, r := range rs {
			s += f(r)
		}
		return s / float64(len(rs))
	}
	entropy := func(p float64) float64 { return -(p*math.Log(p) + (1-p)*math.Log(1-p)) }
	mlm0 := mean(first, func(r StepResult) float64 { return r.MLMLoss })
	mlm1 := mean(last, func(r StepResult) float64 { return r.MLMLoss })
	disc := mean(last, func(r StepResult) float64 { return r.DiscLoss })
	prior := mean(last, func(r StepResult) float64 { return entropy(r.ReplacedFrac) })
	acc := mean(last, func(r StepResult) float64 { return r.DiscAcc })
	base := mean(last, func(r StepResult) float64 { return 1 - r.ReplacedFrac })
	t.Logf("MLM loss %.3f -> %.3f (mlm acc %.3f); disc BCE %.4f vs base-rate entropy %.4f; disc acc %.4f vs all-original %.4f",
		mlm0, mlm1, mean(last, func(r StepResult) float64 { return r.MLMAcc }), disc, prior, acc, base)
	if !(mlm1 < mlm0-1.5) {
		t.Errorf("MLM loss did not fall: first steps %.3f, last steps %.3f", mlm0, mlm1)
	}
	if !(disc < prior-0.004) {
		t.Errorf("discriminator BCE %.4f does not beat the base-rate predictor's %.4f", disc, prior)
	}
	if acc < base-0.002 {
		t.Errorf("discriminator accuracy %.4f below the all-original baseline %.4f", acc, base)
	}
}
