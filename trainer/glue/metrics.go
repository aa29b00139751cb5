package glue

import (
	"fmt"
	"math"
	"sort"
)

// Metric is a GLUE score; higher is better for all of them.
type Metric string

// GLUE's metrics. F1 and MCC treat class 1 as positive.
const (
	Accuracy Metric = "accuracy"
	F1       Metric = "f1"
	MCC      Metric = "mcc"
	Pearson  Metric = "pearson"
	Spearman Metric = "spearman"
)

// Classification scores predicted against gold class indexes.
func Classification(m Metric, gold, pred []int) (float64, error) {
	if len(gold) != len(pred) {
		return 0, fmt.Errorf("glue: %d gold labels, %d predictions", len(gold), len(pred))
	}
	if len(gold) == 0 {
		return 0, fmt.Errorf("glue: %s of no examples", m)
	}
	var tp, tn, fp, fn, hit float64
	for i := range gold {
		if gold[i] == pred[i] {
			hit++
		}
		switch g, p := gold[i] == 1, pred[i] == 1; {
		case g && p:
			tp++
		case !g && !p:
			tn++
		case !g && p:
			fp++
		default:
			fn++
		}
	}
	switch m {
	case Accuracy:
		return hit / float64(len(gold)), nil
	case F1:
		if tp == 0 {
			return 0, nil // no true positives: precision or recall is 0 (or undefined), F1 is 0 as in sklearn
		}
		return 2 * tp / (2*tp + fp + fn), nil
	case MCC:
		den := math.Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
		if den == 0 {
			return 0, nil // a constant predictor or a one-class gold set: no correlation
		}
		return (tp*tn - fp*fn) / den, nil
	}
	return 0, fmt.Errorf("glue: %s is not a classification metric", m)
}

// Regression scores predicted against gold values.
func Regression(m Metric, gold, pred []float64) (float64, error) {
	if len(gold) != len(pred) {
		return 0, fmt.Errorf("glue: %d gold values, %d predictions", len(gold), len(pred))
	}
	if len(gold) < 2 {
		return 0, fmt.Errorf("glue: %s needs at least two examples, have %d", m, len(gold))
	}
	switch m {
	case Pearson:
		return pearson(gold, pred), nil
	case Spearman:
		return pearson(ranks(gold), ranks(pred)), nil
	}
	return 0, fmt.Errorf("glue: %s is not a regression metric", m)
}

// pearson is 0 when either side is constant (the correlation is undefined).
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks gives 1-based ranks, ties sharing the mean of their positions (as
// scipy.stats.spearmanr does).
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

// Majority is the score of always predicting the most frequent class of
// train: the baseline a fine-tuned model has to beat.
func Majority(m Metric, train, gold []int) (float64, int, error) {
	count := map[int]int{}
	best := 0
	for _, l := range train {
		count[l]++
		if count[l] > count[best] || (count[l] == count[best] && l < best) {
			best = l
		}
	}
	pred := make([]int, len(gold))
	for i := range pred {
		pred[i] = best
	}
	s, err := Classification(m, gold, pred)
	return s, best, err
}
