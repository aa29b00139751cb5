package trainer

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer/torch"
)

// Trainer is a model, its optimizer and where the run stands. It is not
// safe for concurrent use; all calls come from one goroutine holding the
// thread lock (torch.LockThread).
type Trainer struct {
	Model *Model
	Opt   *Optimizer
	State State
}

// NewTrainer initialises a model from seed.
func NewTrainer(c Config, device gotch.Device, seed uint64, sched Schedule, adam AdamConfig) (*Trainer, error) {
	torch.Seed(int64(seed))
	m, err := New(c, device)
	if err != nil {
		return nil, err
	}
	return &Trainer{
		Model: m,
		Opt:   NewOptimizer(m.Params.List(), adam),
		State: State{Seed: seed, Config: c, Schedule: sched},
	}, nil
}

// Close frees the model and the optimizer state.
func (t *Trainer) Close() {
	t.Opt.Close()
	t.Model.Close()
}

// StepResult is what one update reports.
type StepResult struct {
	Stats
	LR       float64
	GradNorm float64
}

// Step trains on one batch: mask, objective, backward, update. The random
// draws of step s depend only on (Seed, s); see State.
func (t *Trainer) Step(b Batch, pos Position) (StepResult, error) {
	c := t.Model.Config
	if err := b.Validate(c); err != nil {
		return StepResult{}, err
	}
	step := uint64(t.State.Step)
	torch.Seed(int64(splitmix(t.State.Seed ^ splitmix(step))))
	rng := rand.New(rand.NewPCG(t.State.Seed, step))

	mk := Mask(b, c, rng)
	s := torch.NewScope()
	defer s.Close()
	out := t.Model.Objective(s, b, mk, true)
	out.Loss.MustBackward()
	lr := t.State.Schedule.At(t.State.Step)
	norm := t.Opt.Step(lr)
	st := out.Stats()

	t.State.Step++
	t.State.Position = pos
	t.State.Tokens += int64(b.Tokens())
	return StepResult{Stats: st, LR: lr, GradNorm: norm}, nil
}

// splitmix is SplitMix64's finaliser: decorrelates consecutive step seeds.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// RunOptions configures Run.
type RunOptions struct {
	Config Config
	Adam   AdamConfig
	Device gotch.Device
	// Precision of the forward passes: FP32 (the zero value) or BF16
	// autocast (see torch.ParsePrecision).
	Precision torch.Precision
	Seed      uint64
	Steps     int    // stop once this many updates are done (also the schedule's end)
	Warmup    int    // LR warmup steps
	OutDir    string // metrics.jsonl, deadletter.jsonl, checkpoints
	Resume    bool   // continue from the newest checkpoint in OutDir
	Logger    *slog.Logger
	// CheckpointEvery writes a checkpoint every this many steps (and at the
	// end, and on cancellation); Keep is how many to keep.
	CheckpointEvery, Keep int
	// LogEvery writes a metrics line every this many steps (default 1).
	LogEvery int
	// Progress, if set, is called after every step.
	Progress func(r Metrics)
	// OnCheckpoint, if set, is called after each checkpoint is durable,
	// with its path and the state it holds (e.g. to commit the Kafka
	// offsets of State.Position). An error stops the run.
	OnCheckpoint func(path string, st State) error
}

// Metrics is one line of metrics.jsonl, the contract other tools read.
type Metrics struct {
	Step int `json:"step"`
	Stats
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"`
	TokensPerS float64 `json:"tokens_per_s"` // non-pad tokens per second since the last line
	StepS      float64 `json:"step_s"`       // wall time of this step
	Total      int64   `json:"tokens_total"`
	Time       string  `json:"time"`
}

// OpenSource opens the training data positioned after from ("" = start).
type OpenSource func(from Position) (Source, error)

// Run trains until opt.Steps updates are done, the data ends, or ctx is
// cancelled (then it checkpoints and returns ctx.Err()). The calling
// goroutine must hold the thread lock.
func Run(ctx context.Context, opt RunOptions, open OpenSource) error {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if opt.LogEvery <= 0 {
		opt.LogEvery = 1
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return fmt.Errorf("train: output directory: %w", err)
	}
	sched := Schedule{Peak: opt.Config.LearningRate, Warmup: opt.Warmup, Total: opt.Steps}
	t, err := NewTrainer(opt.Config, opt.Device, opt.Seed, sched, opt.Adam)
	if err != nil {
		return err
	}
	defer t.Close()
	t.Model.Precision = opt.Precision

	if opt.Resume {
		path, err := LatestCheckpoint(opt.OutDir)
		if err != nil {
			return err
		}
		if path == "" {
			log.Info("no checkpoint to resume from; starting fresh", "dir", opt.OutDir)
		} else {
			st, err := LoadCheckpoint(path, t.Model, t.Opt)
			if err != nil {
				return err
			}
			st.Schedule = sched // --steps may extend the run
			t.State = st
			log.Info("resumed", "checkpoint", path, "step", st.Step, "position", st.Position)
		}
	}
	log.Info("model", "config", opt.Config.Name, "device", opt.Device, "precision", cmp.Or(opt.Precision, torch.FP32), "discriminator_params", t.Model.DiscriminatorSize(),
		"generator_params", t.Model.GeneratorSize(), "threads", torch.Threads())

	src, err := open(t.State.Position)
	if err != nil {
		return err
	}
	batches := prefetch(ctx, src, 2)

	mf, err := os.OpenFile(filepath.Join(opt.OutDir, "metrics.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer mf.Close()
	mw := bufio.NewWriter(mf)
	defer mw.Flush()
	dead := &deadLetters{path: filepath.Join(opt.OutDir, "deadletter.jsonl")}
	defer dead.close()

	checkpoint := func() error {
		path, err := SaveCheckpoint(opt.OutDir, t.Model, t.Opt, t.State, opt.Keep)
		if err == nil {
			log.Info("checkpoint", "path", path, "step", t.State.Step)
			if opt.OnCheckpoint != nil {
				err = opt.OnCheckpoint(path, t.State)
			}
		}
		return err
	}
	lastSaved := t.State.Step
	intervalStart, intervalTokens := time.Now(), int64(0)
	for t.State.Step < opt.Steps {
		if ctx.Err() != nil { // checked first: select picks ready cases at random
			return errors.Join(ctx.Err(), checkpoint())
		}
		var item fetched
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), checkpoint())
		case it, ok := <-batches:
			if !ok { // the reader stopped because ctx ended
				return errors.Join(ctx.Err(), checkpoint())
			}
			item = it
		}
		if errors.Is(item.err, io.EOF) {
			log.Info("data exhausted", "step", t.State.Step)
			break
		}
		if item.err != nil {
			return errors.Join(fmt.Errorf("train: reading data after %q: %w", t.State.Position, item.err), checkpoint())
		}
		start := time.Now()
		res, err := t.Step(item.batch, item.pos)
		if err != nil {
			// A malformed batch is set aside, never trained on, never fatal.
			log.Warn("batch rejected", "position", item.pos, "err", err)
			if derr := dead.add(item.pos, err); derr != nil {
				return derr
			}
			continue
		}
		intervalTokens += int64(res.Tokens)
		m := Metrics{Step: t.State.Step, Stats: res.Stats, LR: res.LR, GradNorm: res.GradNorm,
			StepS: time.Since(start).Seconds(), Total: t.State.Tokens}
		if t.State.Step%opt.LogEvery == 0 || t.State.Step == opt.Steps {
			el := time.Since(intervalStart).Seconds()
			m.TokensPerS = float64(intervalTokens) / el
			m.Time = time.Now().UTC().Format(time.RFC3339Nano)
			js, _ := json.Marshal(m)
			mw.Write(append(js, '\n'))
			if err := mw.Flush(); err != nil {
				return fmt.Errorf("train: metrics.jsonl: %w", err)
			}
			intervalStart, intervalTokens = time.Now(), 0
		}
		if opt.Progress != nil {
			opt.Progress(m)
		}
		if opt.CheckpointEvery > 0 && t.State.Step%opt.CheckpointEvery == 0 {
			if err := checkpoint(); err != nil {
				return err
			}
			lastSaved = t.State.Step
		}
	}
	if t.State.Step != lastSaved || t.State.Step == 0 {
		return checkpoint()
	}
	return nil
}

type fetched struct {
	batch Batch
	pos   Position
	err   error
}

// prefetch reads ahead up to n batches on its own goroutine, so decoding
// overlaps training; the bounded channel is the backpressure.
func prefetch(ctx context.Context, src Source, n int) <-chan fetched {
	ch := make(chan fetched, n)
	go func() {
		defer close(ch)
		for {
			b, p, err := src.Next(ctx)
			select {
			case ch <- fetched{b, p, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// deadLetters records rejected batches with the reason, one JSON line each.
type deadLetters struct {
	path string
	f    *os.File
}

func (d *deadLetters) add(pos Position, reason error) error {
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("train: dead letters: %w", err)
		}
		d.f = f
	}
	js, _ := json.Marshal(map[string]string{"position": string(pos), "reason": reason.Error(), "time": time.Now().UTC().Format(time.RFC3339)})
	_, err := d.f.Write(append(js, '\n'))
	return err
}

func (d *deadLetters) close() {
	if d.f != nil {
		d.f.Close()
	}
}
