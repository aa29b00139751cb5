package finetune_test

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/experiment"
	"github.com/electra-go/electra/trainer/finetune"
	"github.com/electra-go/electra/trainer/glue"
	"github.com/electra-go/electra/trainer/torch"
)

var bert = trainer.SpecialTokens{Pad: 0, CLS: 101, SEP: 102, Mask: 103}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     []int32
		maxLen   int
		ids      []int32
		segments []int8
	}{
		{"single fits", []int32{5, 6}, nil, 8, []int32{101, 5, 6, 102}, []int8{0, 0, 0, 0}},
		{"single truncated", []int32{5, 6, 7, 8}, nil, 4, []int32{101, 5, 6, 102}, []int8{0, 0, 0, 0}},
		{"pair fits", []int32{5}, []int32{7, 8}, 8, []int32{101, 5, 102, 7, 8, 102}, []int8{0, 0, 0, 1, 1, 1}},
		// longest first: b loses 9, then a and b alternate from the longer
		{"pair truncated longest first", []int32{1, 2, 3}, []int32{7, 8, 9, 10}, 7, []int32{101, 1, 2, 102, 7, 8, 102}, []int8{0, 0, 0, 0, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, segs := finetune.Encode(tc.a, tc.b, tc.maxLen, bert)
			if !reflect.DeepEqual(ids, tc.ids) || !reflect.DeepEqual(segs, tc.segments) {
				t.Fatalf("Encode = %v %v, want %v %v", ids, segs, tc.ids, tc.segments)
			}
		})
	}
}

func TestLayerScales(t *testing.T) {
	names := []string{"electra.embeddings.word_embeddings.weight", "electra.embeddings_project.weight",
		"electra.encoder.layer.0.attention.self.query.weight", "electra.encoder.layer.1.output.dense.bias", "classifier.out_proj.weight"}
	var ps []*trainer.Param
	for _, n := range names {
		ps = append(ps, &trainer.Param{Name: n})
	}
	got, err := finetune.LayerScales(ps, 2, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	// depths 0, 0, 1, 2, 4 with 2 layers: 0.8^(4-d)
	want := []float64{0.4096, 0.4096, 0.512, 0.64, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("%s: scale %g, want %g", names[i], got[i], want[i])
		}
	}
	for _, bad := range []string{"electra.encoder.layer.2.output.dense.bias", "discriminator_predictions.dense.weight", "electra.encoder.layer.x.y"} {
		if _, err := finetune.LayerScales([]*trainer.Param{{Name: bad}}, 2, 0.8); err == nil {
			t.Errorf("%s got a learning rate", bad)
		}
	}
}

// wordTokenizer looks whole lower-cased words up in the BERT vocabulary
// ([UNK] otherwise): enough for a test, and no dependency on the transform
// stage.
func wordTokenizer(t *testing.T) func(string) []int32 {
	f, err := os.Open("../../.cache/vocab/bert-base-uncased-vocab.txt")
	if err != nil {
		t.Fatalf("%v (scripts/setup.sh fetches the vocabulary)", err)
	}
	defer f.Close()
	vocab := map[string]int32{}
	sc := bufio.NewScanner(f)
	for id := int32(0); sc.Scan(); id++ {
		vocab[sc.Text()] = id
	}
	return func(s string) []int32 {
		var ids []int32
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if id, ok := vocab[w]; ok {
				ids = append(ids, id)
			} else {
				ids = append(ids, 100)
			}
		}
		return ids
	}
}

func load(t *testing.T, path string, tok func(string) []int32) ([]finetune.Example, []int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	task := glue.Tasks["sst-2"] // same layout: sentence, label; header
	var exs []finetune.Example
	var gold []int
	for ex, err := range glue.Read(path, f, task, glue.LabelIndex(task.Labels)) {
		var le *glue.LineError
		if errors.As(err, &le) {
			t.Fatalf("generated task has a bad line: %v", err)
		} else if err != nil {
			t.Fatal(err)
		}
		ids, segs := finetune.Encode(tok(ex.TextA), nil, 48, bert)
		exs = append(exs, finetune.Example{IDs: ids, Segments: segs, Label: ex.Label})
		gold = append(gold, ex.Label)
	}
	return exs, gold
}

// TestFineTuningBeatsMajority: the paper's recipe on the book-or-speech
// task must beat always guessing the majority class by a clear margin. The
// encoder here is a freshly initialised tiny one, not a pre-trained one, so
// the peak learning rate is 1e-3 instead of Small's 1e-4 (a random encoder
// barely moves in 60 steps at 1e-4); everything else is the recipe.
func TestFineTuningBeatsMajority(t *testing.T) {
	defer torch.LockThread()()
	torch.SetThreads(2)
	dir := t.TempDir()
	trainPath, devPath, err := experiment.WriteSourceTask(dir, experiment.SourceTask{Corpora: "../../.cache/corpora", Train: 512, Dev: 160, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tok := wordTokenizer(t)
	train, trainGold := load(t, trainPath, tok)
	dev, devGold := load(t, devPath, tok)

	c, _ := trainer.Preset("tiny")
	torch.Seed(3)
	m, err := trainer.New(c, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	clf := finetune.NewClassifier(m, finetune.DiscriminatorBody(m), 2)
	defer clf.Close()
	cfg := finetune.Defaults()
	cfg.Seed = 3
	cfg.LR = 1e-3
	losses, err := finetune.Train(context.Background(), clf, train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := finetune.Predict(clf, dev, 64)
	acc, err := glue.Classification(glue.Accuracy, devGold, pred)
	if err != nil {
		t.Fatal(err)
	}
	base, label, _ := glue.Majority(glue.Accuracy, trainGold, devGold)
	t.Logf("epoch losses %.4f; dev accuracy %.3f vs majority (label %d) %.3f", losses, acc, label, base)
	if !(losses[len(losses)-1] < losses[0]) {
		t.Errorf("training loss did not fall: %v", losses)
	}
	if acc < base+0.15 {
		t.Fatalf("fine-tuned accuracy %.3f does not beat the majority baseline %.3f by 0.15", acc, base)
	}
}
