package experiment

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/electra-go/electra/trainer/metrics"
)

// Summary is one arm's dev accuracy over seeds.
type Summary struct {
	Arm       Arm
	Scores    []float64
	Mean, Std float64 // sample standard deviation (n-1)
	Steps     int
	FLOPs     float64
	Seconds   float64 // mean pre-training wall time
	FinalLoss float64 // mean over seeds of the last curve point's objective
	FinalMLM  float64
	FinalDisc float64
	Spread    float64 // mean representation spread over seeds
}

// Summaries aggregates the runs per arm, in RTD, MLM, None order.
func (r *Report) Summaries() []Summary {
	var out []Summary
	for _, a := range []Arm{RTD, MLM, None} {
		s := Summary{Arm: a}
		for _, run := range r.Runs {
			if run.Arm != a {
				continue
			}
			s.Scores = append(s.Scores, run.DevAcc)
			s.Steps, s.FLOPs = run.Steps, run.FLOPs
			s.Seconds += run.Seconds
			s.Spread += run.Spread
			if n := len(run.Curve); n > 0 {
				s.FinalLoss += run.Curve[n-1].Loss
				s.FinalMLM += run.Curve[n-1].MLMLoss
				s.FinalDisc += run.Curve[n-1].DiscAcc
			}
		}
		n := float64(len(s.Scores))
		if n == 0 {
			continue
		}
		s.Seconds, s.FinalLoss, s.FinalMLM, s.FinalDisc, s.Spread = s.Seconds/n, s.FinalLoss/n, s.FinalMLM/n, s.FinalDisc/n, s.Spread/n
		s.Mean, s.Std = meanStd(s.Scores)
		out = append(out, s)
	}
	return out
}

func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

// WriteTable prints the results table.
func (r *Report) WriteTable(w io.Writer) {
	c := r.Config
	budget := fmt.Sprintf("%.3g FLOPs", r.BudgetFLOPs)
	if r.BudgetMin > 0 {
		budget = fmt.Sprintf("%g min wall time", r.BudgetMin)
	}
	fmt.Fprintf(w, "RTD (ELECTRA) vs MLM (BERT) at equal pre-training compute: %s per arm\n", budget)
	fmt.Fprintf(w, "encoder %s: %d layers, hidden %d, embedding %d, %d heads, FFN %d; generator %.2g x; seq %d, batch %d, lr %g\n",
		c.Name, c.NumLayers, c.HiddenSize, c.EmbeddingSize, c.NumHeads, c.IntermediateSize, c.GeneratorFraction, c.SeqLen, c.BatchSize, c.LearningRate)
	fmt.Fprintf(w, "FLOPs per step (flops_computation.py rules): electra %.3g, mlm %.3g\n", r.StepFLOPs[RTD], r.StepFLOPs[MLM])
	fmt.Fprintf(w, "downstream: book-or-speech, %d train / %d dev sentences; majority baseline accuracy %.3f\n", r.TaskTrain, r.TaskDev, r.Majority)
	fmt.Fprintf(w, "spread: std of the encoder output across tokens before fine-tuning (near 0: collapsed representations)\n\n")
	fmt.Fprintf(w, "%-8s %8s %10s %9s %10s %9s %9s %7s  %-24s %s\n", "arm", "steps", "FLOPs", "pretrain", "objective", "mlm loss", "disc acc", "spread", "dev accuracy per seed", "mean ± std")
	for _, s := range r.Summaries() {
		per := make([]string, len(s.Scores))
		for i, v := range s.Scores {
			per[i] = fmt.Sprintf("%.3f", v)
		}
		disc, obj, mlm := "-", "-", "-"
		if s.Arm == RTD {
			disc = fmt.Sprintf("%.3f", s.FinalDisc)
		}
		if s.Arm != None {
			obj, mlm = fmt.Sprintf("%.3f", s.FinalLoss), fmt.Sprintf("%.3f", s.FinalMLM)
		}
		fmt.Fprintf(w, "%-8s %8d %10.3g %8.1fs %10s %9s %9s %7.4f  %-24s %.3f ± %.3f\n",
			s.Arm, s.Steps, s.FLOPs, s.Seconds, obj, mlm, disc, s.Spread, strings.Join(per, " "), s.Mean, s.Std)
	}
}

// WriteJSON writes the whole report (every curve point) to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WritePNG draws the pre-training curves against FLOPs, averaged over
// seeds: ELECTRA's generator MLM loss, the MLM baseline's loss, and
// ELECTRA's discriminator accuracy; then dev accuracy per seed for each
// arm with the majority baseline dashed.
func (r *Report) WritePNG(path string) error {
	mean := func(a Arm, y func(Point) float64) metrics.Series {
		var s metrics.Series
		n := 0
		for _, run := range r.Runs {
			if run.Arm != a || len(run.Curve) == 0 {
				continue
			}
			if s.X == nil {
				for _, p := range run.Curve {
					s.X = append(s.X, p.FLOPs/1e9)
					s.Y = append(s.Y, 0)
				}
			}
			for i := range s.Y {
				if i < len(run.Curve) {
					s.Y[i] += y(run.Curve[i])
				}
			}
			n++
		}
		for i := range s.Y {
			s.Y[i] /= float64(max(n, 1))
		}
		return s
	}
	genMLM := mean(RTD, func(p Point) float64 { return p.MLMLoss })
	genMLM.Name = "electra generator mlm loss vs gflops"
	bert := mean(MLM, func(p Point) float64 { return p.MLMLoss })
	bert.Name = "bert mlm loss vs gflops"
	disc := mean(RTD, func(p Point) float64 { return p.DiscAcc })
	disc.Name = "electra disc accuracy vs gflops"
	series := []metrics.Series{genMLM, bert, disc}
	for _, s := range r.Summaries() {
		d := metrics.Series{Name: fmt.Sprintf("%s dev accuracy by seed", s.Arm), Baseline: r.Majority, HasBaseline: true}
		for i, v := range s.Scores {
			d.X, d.Y = append(d.X, float64(i+1)), append(d.Y, v)
		}
		if len(d.X) == 1 { // a single point draws nothing
			d.X, d.Y = append(d.X, 2), append(d.Y, d.Y[0])
		}
		series = append(series, d)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return metrics.WritePNG(path, series)
}
