package wordpiece

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
