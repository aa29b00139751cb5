package experiment

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/finetune"
	"github.com/electra-go/electra/trainer/torch"
)

const corpora = "../../.cache/corpora"

// wordTokenizer looks whole lower-cased words up in the BERT vocabulary
// ([UNK] otherwise); the real WordPiece tokenizer belongs to the transform
// stage, which the trainer does not import.
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

func TestSentences(t *testing.T) {
	got := Sentences(`Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail about a little. Is it? "Yes," he said, and walked away from the` + "\t" + `quiet harbour at once. short one here.`)
	want := []string{
		"Some years ago, never mind how long precisely, I thought I would sail about a little.",
		`"Yes," he said, and walked away from the quiet harbour at once. short one here.`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Sentences =\n%q\nwant\n%q", got, want)
	}
}

func TestWriteSourceTask(t *testing.T) {
	dir := t.TempDir()
	tr, dv, err := WriteSourceTask(dir, SourceTask{Corpora: corpora, Train: 100, Dev: 50, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	count := func(path string) (map[string]int, map[string]bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if lines[0] != "sentence\tlabel" {
			t.Fatalf("%s header %q", path, lines[0])
		}
		labels, sents := map[string]int{}, map[string]bool{}
		for _, l := range lines[1:] {
			cols := strings.Split(l, "\t")
			if len(cols) != 2 {
				t.Fatalf("%s: line %q has %d columns", path, l, len(cols))
			}
			labels[cols[1]]++
			sents[cols[0]] = true
		}
		return labels, sents
	}
	trl, trs := count(tr)
	dvl, dvs := count(dv)
	if trl["0"]+trl["1"] != 100 || dvl["0"]+dvl["1"] != 50 {
		t.Fatalf("train %v dev %v", trl, dvl)
	}
	if book := float64(trl["0"]+dvl["0"]) / 150; math.Abs(book-0.6) > 0.01 {
		t.Errorf("book share %.3f, want 0.6", book)
	}
	for s := range dvs {
		if trs[s] {
			t.Errorf("sentence in both train and dev: %q", s)
		}
	}
	again := t.TempDir()
	tr2, _, _ := WriteSourceTask(again, SourceTask{Corpora: corpora, Train: 100, Dev: 50, Seed: 4})
	a, _ := os.ReadFile(tr)
	b, _ := os.ReadFile(tr2)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different task")
	}
}

func tinyConfig() trainer.Config {
	c, _ := trainer.Preset("tiny")
	c.SeqLen, c.BatchSize, c.MaxPredictions = 32, 8, 5
	return c
}

func TestPacker(t *testing.T) {
	files, err := CorpusFiles(filepath.Join(corpora, "moby-dick"))
	if err != nil {
		t.Fatal(err)
	}
	c := tinyConfig()
	tok := wordTokenizer(t)
	p1 := &Packer{Files: files, Tokenize: tok, Config: c}
	p2 := &Packer{Files: files, Tokenize: tok, Config: c}
	defer p1.Close()
	defer p2.Close()
	for i := 0; i < 3; i++ {
		b1, _, err := p1.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b2, _, _ := p2.Next(context.Background())
		if err := b1.Validate(c); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(b1, b2) {
			t.Fatal("two packers over the same files disagree")
		}
		for r := 0; r < b1.Size; r++ {
			row := b1.IDs[r*c.SeqLen : (r+1)*c.SeqLen]
			if row[0] != c.Tokens.CLS || row[c.SeqLen-1] != c.Tokens.SEP || b1.Lengths[r] != int16(c.SeqLen) {
				t.Fatalf("row %d = %v", r, row)
			}
		}
	}
}

// TestPretrainIsReproducible: the same seed gives the same curve, for both
// objectives.
func TestPretrainIsReproducible(t *testing.T) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	files, _ := CorpusFiles(filepath.Join(corpora, "sotu"))
	o := Options{Tokenize: wordTokenizer(t)}
	for _, arm := range []Arm{RTD, MLM} {
		c := tinyConfig()
		if arm == MLM {
			c.GeneratorFraction = 1
		}
		var curves [2][]Point
		for k := range curves {
			m, err := pretrain(context.Background(), arm, c, 9, 3, files, o, 1, nil, &curves[k], 1)
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
		}
		for k := range curves[0] {
			curves[0][k].Seconds, curves[1][k].Seconds = 0, 0
		}
		if len(curves[0]) != 3 || !reflect.DeepEqual(curves[0], curves[1]) {
			t.Errorf("%s: %v vs %v", arm, curves[0], curves[1])
		}
	}
}

// TestRunTinyBudget runs the whole experiment with a budget of a few steps
// and checks the accounting and the outputs, not the science.
func TestRunTinyBudget(t *testing.T) {
	defer torch.LockThread()()
	torch.SetThreads(1)
	c := tinyConfig()
	budget := 4.5 * MLMStepFLOPs(c)
	ft := finetune.Defaults()
	ft.Epochs, ft.Batch, ft.LR = 1, 16, 1e-3
	rep, err := Run(context.Background(), Options{
		Config: c, BudgetFLOPs: budget, Seeds: []uint64{1, 2, 3}, Corpora: corpora, Tokenize: wordTokenizer(t),
		Finetune: ft, TaskTrain: 48, TaskDev: 32, WorkDir: t.TempDir(), Points: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 9 {
		t.Fatalf("%d runs, want 3 arms x 3 seeds", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if r.DevAcc < 0 || r.DevAcc > 1 {
			t.Errorf("%s seed %d: accuracy %g", r.Arm, r.Seed, r.DevAcc)
		}
		if r.Spread < 0 || math.IsNaN(r.Spread) {
			t.Errorf("%s seed %d: spread %g", r.Arm, r.Seed, r.Spread)
		}
		if r.Arm == None {
			// a freshly initialised encoder keeps tokens apart
			if r.Spread < 0.1 {
				t.Errorf("untrained encoder's spread %g, want well above 0", r.Spread)
			}
			if r.Steps != 0 || r.FLOPs != 0 {
				t.Errorf("none pre-trained: %+v", r)
			}
			continue
		}
		per := rep.StepFLOPs[r.Arm]
		if r.FLOPs > budget || r.FLOPs <= budget-per || r.Steps != int(budget/per) {
			t.Errorf("%s: %d steps, %.4g FLOPs for a budget of %.4g at %.4g per step", r.Arm, r.Steps, r.FLOPs, budget, per)
		}
		if len(r.Curve) == 0 || r.Curve[len(r.Curve)-1].Step != r.Steps {
			t.Errorf("%s seed %d: curve %v", r.Arm, r.Seed, r.Curve)
		}
		for _, p := range r.Curve {
			if math.IsNaN(p.Loss) || p.Loss <= 0 {
				t.Errorf("%s: bad point %+v", r.Arm, p)
			}
		}
	}
	sums := rep.Summaries()
	if len(sums) != 3 || len(sums[0].Scores) != 3 {
		t.Fatalf("summaries %+v", sums)
	}
	var tab bytes.Buffer
	rep.WriteTable(&tab)
	for _, want := range []string{"electra", "mlm", "none", "mean ± std", "majority baseline", "spread"} {
		if !strings.Contains(tab.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tab.String())
		}
	}
	t.Log("\n" + tab.String())
	dir := t.TempDir()
	if err := rep.WritePNG(filepath.Join(dir, "r.png")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "r.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dy() < 6*100 {
		t.Errorf("png is %v, want six panels", img.Bounds())
	}
	if err := rep.WriteJSON(filepath.Join(dir, "r.json")); err != nil {
		t.Fatal(err)
	}
	var back Report
	b, _ := os.ReadFile(filepath.Join(dir, "r.json"))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Runs) != 9 {
		t.Fatalf("json: %v, %d runs", err, len(back.Runs))
	}
}
