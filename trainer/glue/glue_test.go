package glue

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestClassificationMetrics(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gold, pred []int
		acc, f1    float64
		mcc        float64
	}{
		// tp=3 fn=1 fp=1 tn=3: acc 6/8, F1 6/8, MCC (9-1)/sqrt(4^4) = 0.5
		{"balanced", []int{1, 1, 0, 0, 1, 0, 1, 0}, []int{1, 0, 0, 1, 1, 0, 1, 0}, 0.75, 0.75, 0.5},
		// tp=2 fp=1 fn=1 tn=1: acc 3/5, F1 4/6, MCC (2-1)/sqrt(3*3*2*2) = 1/6
		{"skewed", []int{1, 0, 1, 1, 0}, []int{1, 1, 1, 0, 0}, 0.6, 4.0 / 6, 1.0 / 6},
		// always 0: acc 2/4, no positives predicted: F1 0, MCC 0 (undefined)
		{"constant", []int{1, 0, 1, 0}, []int{0, 0, 0, 0}, 0.5, 0, 0},
		// perfectly wrong: MCC -1
		{"inverted", []int{1, 0, 1, 0}, []int{0, 1, 0, 1}, 0, 0, -1},
		// three classes: accuracy counts exact matches; F1/MCC see class 1 vs rest
		// (tp=1 fp=1 fn=0 tn=2: F1 2/3, MCC (2-0)/sqrt(2*1*3*2) = 2/sqrt(12))
		{"three classes", []int{2, 1, 0, 2}, []int{2, 1, 1, 0}, 0.5, 2.0 / 3, 2 / math.Sqrt(12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []struct {
				metric Metric
				want   float64
			}{{Accuracy, tc.acc}, {F1, tc.f1}, {MCC, tc.mcc}} {
				got, err := Classification(m.metric, tc.gold, tc.pred)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(got-m.want) > 1e-12 {
					t.Errorf("%s = %.6f, want %.6f", m.metric, got, m.want)
				}
			}
		})
	}
	if _, err := Classification(Accuracy, []int{1}, []int{1, 0}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Classification(Pearson, []int{1}, []int{1}); err == nil {
		t.Error("pearson accepted as a classification metric")
	}
}

func TestRegressionMetrics(t *testing.T) {
	for _, tc := range []struct {
		name              string
		gold, pred        []float64
		pearson, spearman float64
	}{
		{"linear", []float64{1, 2, 3, 4}, []float64{2, 4, 6, 8}, 1, 1},
		// dx = dy up to order: sxy 4, sxx = syy = 5
		{"swapped middle", []float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 0.8, 0.8},
		// monotone but not linear: Spearman 1, Pearson 25/sqrt(5*129)
		{"squares", []float64{1, 2, 3, 4}, []float64{1, 4, 9, 16}, 25 / math.Sqrt(645), 1},
		// ties share ranks 2.5: Spearman 4.5/sqrt(4.5*5); Pearson on values
		// (mx 2, dx -1 0 0 1; dy -1.5 -.5 .5 1.5): 3/sqrt(2*5)
		{"ties", []float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 3 / math.Sqrt(10), 4.5 / math.Sqrt(22.5)},
		{"anti", []float64{1, 2, 3}, []float64{3, 2, 1}, -1, -1},
		{"constant prediction", []float64{1, 2, 3}, []float64{5, 5, 5}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []struct {
				metric Metric
				want   float64
			}{{Pearson, tc.pearson}, {Spearman, tc.spearman}} {
				got, err := Regression(m.metric, tc.gold, tc.pred)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(got-m.want) > 1e-12 {
					t.Errorf("%s = %.6f, want %.6f", m.metric, got, m.want)
				}
			}
		})
	}
	if _, err := Regression(Pearson, []float64{1}, []float64{1}); err == nil {
		t.Error("one example accepted")
	}
}

func TestMajority(t *testing.T) {
	// train has more 1s; dev gold 1,0,0,1,1 -> always 1 scores 3/5
	got, label, err := Majority(Accuracy, []int{1, 1, 0, 1, 0}, []int{1, 0, 0, 1, 1})
	if err != nil || label != 1 || got != 0.6 {
		t.Fatalf("majority = %v (label %d, %v), want 0.6 with label 1", got, label, err)
	}
	// a tie goes to the smaller label, deterministically
	if _, label, _ := Majority(Accuracy, []int{2, 1, 1, 2}, []int{1}); label != 1 {
		t.Fatalf("tie went to %d, want 1", label)
	}
}

func read(t *testing.T, text string, task Task, labels map[string]int) ([]Example, []*LineError) {
	t.Helper()
	var exs []Example
	var bad []*LineError
	for ex, err := range Read("f.tsv", strings.NewReader(text), task, labels) {
		var le *LineError
		switch {
		case errors.As(err, &le):
			bad = append(bad, le)
		case err != nil:
			t.Fatal(err)
		default:
			exs = append(exs, ex)
		}
	}
	return exs, bad
}

func TestReadGLUELayouts(t *testing.T) {
	for _, tc := range []struct {
		task  string
		text  string
		want  []Example
		badAt []int
	}{
		{"cola", "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.\n" +
			"gj04\t0\t*\tThey drank the pub.\n" +
			"gj04\t7\t\tBad label.\n",
			[]Example{{Line: 1, TextA: "Our friends won't buy this analysis, let alone the next one we propose.", Label: 1}, {Line: 2, TextA: "They drank the pub.", Label: 0}},
			[]int{3}},
		{"sst-2", "sentence\tlabel\r\nit 's a charming and often affecting journey . \t1\r\n\r\nunflinchingly bleak and desperate \t0\r\n",
			[]Example{{Line: 2, TextA: "it 's a charming and often affecting journey . ", Label: 1}, {Line: 4, TextA: "unflinchingly bleak and desperate ", Label: 0}},
			nil},
		{"mrpc", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused his brother.\tReferring to him, Amrozi accused his brother.\n0\t2108705\t2108831\tShort line\n",
			[]Example{{Line: 2, TextA: "Amrozi accused his brother.", TextB: "Referring to him, Amrozi accused his brother.", Label: 1}},
			[]int{3}},
		{"sts-b", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n" +
			"0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n" +
			"1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a flute.\tA man is playing a flute.\tNaN?\n",
			[]Example{{Line: 2, TextA: "A plane is taking off.", TextB: "An air plane is taking off.", Score: 5}},
			[]int{3}},
		{"mnli", "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n" +
			"0\t31193\t31193n\tgovernment\t(\t(\t(\t(\tConceptually cream skimming has two basic dimensions.\tProduct and geography are what make cream skimming work.\tneutral\tneutral\n",
			[]Example{{Line: 2, TextA: "Conceptually cream skimming has two basic dimensions.", TextB: "Product and geography are what make cream skimming work.", Label: 2}},
			nil},
	} {
		t.Run(tc.task, func(t *testing.T) {
			task := Tasks[tc.task]
			exs, bad := read(t, tc.text, task, LabelIndex(task.Labels))
			if len(exs) != len(tc.want) {
				t.Fatalf("%d examples %+v, want %d", len(exs), exs, len(tc.want))
			}
			for i := range exs {
				if exs[i] != tc.want[i] {
					t.Errorf("example %d = %+v, want %+v", i, exs[i], tc.want[i])
				}
			}
			if len(bad) != len(tc.badAt) {
				t.Fatalf("bad lines %v, want at %v", bad, tc.badAt)
			}
			for i, b := range bad {
				if b.Line != tc.badAt[i] || !strings.Contains(b.Error(), "f.tsv:") {
					t.Errorf("bad line reported as %v, want line %d", b, tc.badAt[i])
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		header      string
		a, b, label int
		regression  bool
		wantErr     bool
	}{
		{"sentence\tlabel", 0, -1, 1, false, false},
		{"id\tsentence1\tsentence2\tlabel", 1, 2, 3, false, false},
		{"index\tquestion\tsentence\tlabel", 1, 2, 3, false, false},
		{"text\tscore", 0, -1, 1, true, false},
		{"foo\tlabel", 0, 0, 0, false, true},
		{"sentence\tbar", 0, 0, 0, false, true},
	} {
		task, err := Detect("x", tc.header)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: accepted", tc.header)
			}
			continue
		}
		if err != nil || task.TextA != tc.a || task.TextB != tc.b || task.Label != tc.label || task.Regression != tc.regression {
			t.Errorf("%q: %+v %v", tc.header, task, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("sentence\tlabel\nhello\t1\nworld\t0\n")
	f.Add("sentence\tlabel\n\t1\nx\n\n")
	f.Add("sentence\tscore\nhello\t1e400\nx\tnan\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, task := range []Task{Tasks["sst-2"], {Name: "r", TextA: 0, TextB: 1, Label: -1, Header: true, Regression: true}} {
			for ex, err := range Read("fuzz.tsv", strings.NewReader(text), task, map[string]int{"0": 0, "1": 1}) {
				var le *LineError
				if err != nil {
					if !errors.As(err, &le) || le.Line < 1 {
						t.Fatalf("unexpected error %v", err)
					}
					continue
				}
				if strings.TrimSpace(ex.TextA) == "" || ex.Line < 2 || math.IsNaN(ex.Score) {
					t.Fatalf("bad example %+v", ex)
				}
			}
		}
	})
}
