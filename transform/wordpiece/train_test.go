package wordpiece

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func mobyDick(t testing.TB) []string {
	files, _ := filepath.Glob("../../.cache/corpora/moby-dick/*.txt")
	if len(files) < 100 {
		t.Fatalf("Moby-Dick corpus missing (%d files): run scripts/setup.sh", len(files))
	}
	return files
}

// TestTrainRoundTrip: a vocabulary trained on a text tokenizes that text
// with under 1% [UNK], comes out in HuggingFace's layout (specials, then the
// alphabet in code point order, then "##" pieces and merges), and is the
// same on a second run.
func TestTrainRoundTrip(t *testing.T) {
	t.Parallel()
	files := mobyDick(t)
	train := func() []string {
		tr, err := NewTrainer(TrainConfig{VocabSize: 6000})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.AddReader(context.Background(), f, fh); err != nil {
				t.Fatal(err)
			}
			fh.Close()
		}
		if tr.Words() < 10000 {
			t.Fatalf("only %d distinct words counted in Moby-Dick", tr.Words())
		}
		v, err := tr.Train(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	vocab := train()
	if len(vocab) != 6000 {
		t.Fatalf("trained %d tokens, want 6000", len(vocab))
	}
	if !slices.Equal(vocab[:5], bertSpecials[:]) {
		t.Fatalf("first tokens %q, want the specials in order", vocab[:5])
	}
	// The alphabet: single characters in code point order right after the
	// specials.
	i := 5
	for i < len(vocab) && !strings.HasPrefix(vocab[i], "##") {
		if i > 5 && vocab[i] <= vocab[i-1] {
			t.Fatalf("alphabet not in code point order at %d: %q after %q", i, vocab[i], vocab[i-1])
		}
		i++
	}
	for _, want := range []string{"the", "whale", "##ing", "ahab"} {
		if !slices.Contains(vocab, want) {
			t.Errorf("trained vocab lacks %q", want)
		}
	}
	if again := train(); !slices.Equal(again, vocab) {
		t.Fatal("training twice on the same text gave different vocabularies")
	}

	var buf bytes.Buffer
	if err := WriteVocab(&buf, vocab); err != nil {
		t.Fatal(err)
	}
	tk, err := FromVocab(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	total, unk := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			ids = tk.Encode(ids[:0], line)
			total += len(ids)
			for _, id := range ids {
				if id == tk.Specials().UNK {
					unk++
				}
			}
		}
	}
	rate := float64(unk) / float64(total)
	t.Logf("%d tokens, %d [UNK] (%.4f%%)", total, unk, 100*rate)
	if total < 200000 || rate >= 0.01 {
		t.Fatalf("%d tokens with %.3f%% [UNK]; want a full tokenization with < 1%%", total, 100*rate)
	}
}

// TestTrainMerges: on a tiny corpus the merges follow frequency, with
// "##" continuations glued without their prefix.
func TestTrainMerges(t *testing.T) {
	tr, err := NewTrainer(TrainConfig{VocabSize: 100, MinFrequency: 2, Specials: []string{"[UNK]"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Add("hug hug hug hug hug pug pug bun bun bun [UNK] Hug!")
	vocab, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// specials, alphabet (! b g h n p u), then ##-pieces, then merges.
	if !slices.Equal(vocab[:8], []string{"[UNK]", "!", "b", "g", "h", "n", "p", "u"}) {
		t.Fatalf("vocab starts %q", vocab[:8])
	}
	for _, want := range []string{"##u", "##g", "##n", "##ug", "hug", "bun"} {
		if !slices.Contains(vocab, want) {
			t.Errorf("vocab %q lacks %q", vocab, want)
		}
	}
	// "##ug" (h-u-g x6 + p-u-g x2 = 8) is the first merge: u,g is the most
	// frequent pair.
	k := 8
	for k < len(vocab) && strings.HasPrefix(vocab[k], "##") && len(vocab[k]) == 3 {
		k++
	}
	first := vocab[k]
	if first != "##ug" {
		t.Errorf("first merge %q, want ##ug (vocab %q)", first, vocab)
	}
	for _, tok := range vocab {
		if tok == "[unk]" || strings.Contains(tok, "[") {
			if tok != "[UNK]" {
				t.Errorf("special token text leaked into training: %q", tok)
			}
		}
	}
}

func TestTrainConfigErrors(t *testing.T) {
	if _, err := NewTrainer(TrainConfig{VocabSize: 3}); err == nil {
		t.Error("vocab size smaller than the specials accepted")
	}
	if _, err := NewTrainer(TrainConfig{Specials: []string{"[A]", "[A]"}}); err == nil {
		t.Error("duplicate special accepted")
	}
}

// TestTrainMatchesHuggingFace: trained with HuggingFace's WordPieceTrainer
// defaults on the State of the Union speeches, we learn the vocabulary HF
// learned (testdata/hf-trained-sotu.txt.gz). HF breaks ties between equally
// frequent pairs by ids that follow hash map order, so a few tokens at the
// margin may differ; the alphabet must be identical and in the same order.
func TestTrainMatchesHuggingFace(t *testing.T) {
	t.Parallel()
	want := gunzipLines(t, "hf-trained-sotu.txt.gz")
	files, _ := filepath.Glob("../../.cache/corpora/sotu/*.txt")
	if len(files) < 200 {
		t.Fatalf("State of the Union corpus missing (%d files): run scripts/setup.sh", len(files))
	}
	tr, err := NewTrainer(TrainConfig{VocabSize: 30000, MinFrequency: 1, LimitAlphabet: -1, Specials: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		err = tr.AddReader(context.Background(), f, fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d tokens, HuggingFace %d", len(got), len(want))
	}
	alpha := 0
	for alpha < len(want) && utf8.RuneCountInString(want[alpha]) == 1 && !strings.HasPrefix(want[alpha], "##") {
		alpha++
	}
	if alpha < 30 || !slices.Equal(got[:alpha], want[:alpha]) {
		t.Fatalf("alphabet differs:\n got %q\nwant %q", got[:alpha], want[:alpha])
	}
	overlap := func(a, b []string) float64 {
		set := map[string]bool{}
		for _, s := range b {
			set[s] = true
		}
		n := 0
		for _, s := range a {
			if set[s] {
				n++
			}
		}
		return float64(n) / float64(len(a))
	}
	all, head := overlap(got, want), overlap(got[:5000], want[:5000])
	t.Logf("same tokens: %.3f%% overall, %.3f%% of the first 5000", 100*all, 100*head)
	if all < 0.995 || head < 0.995 {
		t.Fatalf("only %.2f%% (first 5000: %.2f%%) of the tokens HuggingFace learned", 100*all, 100*head)
	}
}
