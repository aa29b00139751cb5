package metrics

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"
)

// Recorder is the one object a training loop talks to: each logged step
// goes to Prometheus (when serving), TensorBoard and an in-memory history;
// Checkpoint flushes the event file and redraws the loss plot.
type Recorder struct {
	Prom *Prom
	dir  string

	mu      sync.Mutex
	events  *EventWriter
	history []Step
	stride  int64 // keep one step in stride once history is full
}

// maxHistory bounds the plot's memory on million-step runs: past it,
// every other point is dropped and the stride doubles.
const maxHistory = 8192

// PlotFile is the loss plot's name inside the run directory.
const PlotFile = "loss.png"

// NewRecorder writes TensorBoard events under dir/tensorboard and the plot
// to dir/loss.png.
func NewRecorder(dir, run string) (*Recorder, error) {
	ev, err := NewEventWriter(filepath.Join(dir, "tensorboard"))
	if err != nil {
		return nil, err
	}
	return &Recorder{Prom: NewProm(run), dir: dir, events: ev, stride: 1}, nil
}

// Serve starts the Prometheus endpoint; see Prom.Serve.
func (r *Recorder) Serve(ctx context.Context, addr string) (string, error) {
	return r.Prom.Serve(ctx, addr)
}

// scalarOrder is the TensorBoard tag order (and names).
var scalarOrder = []string{"loss/total", "loss/mlm", "loss/disc", "accuracy/mlm", "accuracy/disc", "data/replaced_fraction", "optim/learning_rate", "speed/tokens_per_second", "speed/examples_per_second", "data/starvation"}

// Observe records one logged step everywhere.
func (r *Recorder) Observe(s Step) error {
	r.Prom.Observe(s)
	r.mu.Lock()
	if s.Step%r.stride == 0 {
		r.history = append(r.history, s)
		if len(r.history) > maxHistory {
			kept := r.history[:0]
			r.stride *= 2
			for _, h := range r.history {
				if h.Step%r.stride == 0 {
					kept = append(kept, h)
				}
			}
			r.history = kept
		}
	}
	r.mu.Unlock()
	return r.events.Scalars(s.Step, time.Now(), map[string]float64{
		"loss/total": s.Loss, "loss/mlm": s.MLMLoss, "loss/disc": s.DiscLoss,
		"accuracy/mlm": s.MLMAcc, "accuracy/disc": s.DiscAcc, "data/replaced_fraction": s.ReplacedFrac,
		"optim/learning_rate": s.LR, "speed/tokens_per_second": s.TokensPerS,
		"speed/examples_per_second": s.ExamplesPerS, "data/starvation": s.Starvation,
	}, scalarOrder)
}

// Checkpoint makes everything recorded so far durable and visible: the
// event file is flushed and the plot redrawn.
func (r *Recorder) Checkpoint() error {
	if err := r.events.Flush(); err != nil {
		return err
	}
	return WritePNG(r.PlotPath(), r.Series())
}

// PlotPath is where the loss plot is written.
func (r *Recorder) PlotPath() string { return filepath.Join(r.dir, PlotFile) }

// EventsPath is the TensorBoard event file.
func (r *Recorder) EventsPath() string { return r.events.Path() }

// Series are the plotted curves: MLM loss, discriminator loss, and
// discriminator accuracy against the all-original baseline (1 - the
// replaced fraction: what a discriminator that always says "original"
// scores).
func (r *Recorder) Series() []Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	mlm := Series{Name: "generator mlm loss"}
	disc := Series{Name: "discriminator loss"}
	acc := Series{Name: "discriminator accuracy (dashed: all-original baseline)"}
	var repl float64
	for _, h := range r.history {
		x := float64(h.Step)
		mlm.X, mlm.Y = append(mlm.X, x), append(mlm.Y, h.MLMLoss)
		disc.X, disc.Y = append(disc.X, x), append(disc.Y, h.DiscLoss)
		acc.X, acc.Y = append(acc.X, x), append(acc.Y, h.DiscAcc)
		repl += h.ReplacedFrac
	}
	if n := len(r.history); n > 0 {
		acc.Baseline, acc.HasBaseline = 1-repl/float64(n), true
	}
	return []Series{mlm, disc, acc}
}

// SummaryWindow is how many of the last recorded steps Summary averages:
// one batch's accuracy is noisy, and the baseline moves with each batch's
// replaced fraction.
const SummaryWindow = 10

// Summary is the last recorded step, and over the last SummaryWindow
// recorded steps the mean discriminator accuracy and the mean all-original
// baseline (1 - replaced fraction) it is to be compared with.
func (r *Recorder) Summary() (last Step, acc, baseline float64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.history) == 0 {
		return Step{}, math.NaN(), math.NaN(), fmt.Errorf("no steps recorded")
	}
	win := r.history[max(0, len(r.history)-SummaryWindow):]
	var a, repl float64
	for _, h := range win {
		a += h.DiscAcc
		repl += h.ReplacedFrac
	}
	n := float64(len(win))
	return r.history[len(r.history)-1], a / n, 1 - repl/n, nil
}

// BCE is, over the last SummaryWindow recorded steps, the mean
// discriminator loss and the mean entropy of the replaced fraction: the
// loss of the best context-free answer (always the base rate). A
// discriminator below it has learned something from context, which shows
// thousands of steps before its accuracy at the 0.5 threshold moves.
func (r *Recorder) BCE() (disc, prior float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.history) == 0 {
		return math.NaN(), math.NaN()
	}
	win := r.history[max(0, len(r.history)-SummaryWindow):]
	for _, h := range win {
		disc += h.DiscLoss
		if p := h.ReplacedFrac; p > 0 && p < 1 {
			prior += -(p*math.Log(p) + (1-p)*math.Log(1-p))
		}
	}
	n := float64(len(win))
	return disc / n, prior / n
}

// Close flushes and closes the event file.
func (r *Recorder) Close() error { return r.events.Close() }
