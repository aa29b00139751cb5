package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/finetune"
	"github.com/electra-go/electra/trainer/glue"
	"github.com/electra-go/electra/trainer/torch"
)

// Arm is one pre-training objective being compared.
type Arm string

const (
	// RTD is ELECTRA: generator + discriminator, replaced token detection.
	RTD Arm = "electra"
	// MLM is BERT-style masked language modelling with the discriminator's
	// shape (the generator built at full size and trained alone).
	MLM Arm = "mlm"
	// None fine-tunes a freshly initialised encoder: the floor that shows
	// what pre-training bought.
	None Arm = "none"
)

// Options configures Run.
type Options struct {
	Config trainer.Config // the encoder and pre-training recipe (tiny for CPU)
	// Exactly one budget: FLOPs per arm (counted as flops_computation.py
	// does) or wall-clock minutes per arm on this machine.
	BudgetFLOPs   float64
	BudgetMinutes float64
	Seeds         []uint64 // >= 3 to report a spread
	Corpora       string   // .cache/corpora: moby-dick/ and sotu/
	Tokenize      func(string) []int32
	Finetune      finetune.Config
	TaskTrain     int    // fine-tuning examples of the book-or-speech task
	TaskDev       int    // dev examples
	WorkDir       string // task TSVs go here
	Logger        *slog.Logger
	// Points is roughly how many curve points each run records (50).
	Points int
}

// Point is one sample of a pre-training curve.
type Point struct {
	Step    int     `json:"step"`
	FLOPs   float64 `json:"flops"`
	Seconds float64 `json:"seconds"`
	Loss    float64 `json:"loss"`     // the arm's own objective
	MLMLoss float64 `json:"mlm_loss"` // generator (RTD) or model (MLM) MLM loss
	MLMAcc  float64 `json:"mlm_acc"`
	DiscAcc float64 `json:"disc_acc,omitempty"` // RTD only
}

// RunResult is one (arm, seed) run.
type RunResult struct {
	Arm     Arm     `json:"arm"`
	Seed    uint64  `json:"seed"`
	Steps   int     `json:"pretrain_steps"`
	FLOPs   float64 `json:"pretrain_flops"`
	Seconds float64 `json:"pretrain_seconds"`
	Curve   []Point `json:"curve"`
	// Spread is the mean over hidden units of the standard deviation of
	// the encoder's output across the tokens of a fixed probe batch,
	// before fine-tuning: near 0 means every token maps to the same vector
	// (the representation collapse of very early pre-training).
	Spread    float64 `json:"representation_spread"`
	DevAcc    float64 `json:"dev_accuracy"`
	DevF1     float64 `json:"dev_f1"`
	FTSeconds float64 `json:"finetune_seconds"`
}

// Report is the whole experiment.
type Report struct {
	Config      trainer.Config  `json:"config"`
	BudgetFLOPs float64         `json:"budget_flops,omitempty"`
	BudgetMin   float64         `json:"budget_minutes,omitempty"`
	StepFLOPs   map[Arm]float64 `json:"step_flops"`
	Majority    float64         `json:"majority_accuracy"`
	TaskTrain   int             `json:"task_train"`
	TaskDev     int             `json:"task_dev"`
	Runs        []RunResult     `json:"runs"`
}

// Run pre-trains each arm at equal compute for every seed, fine-tunes it
// on the book-or-speech task and collects scores and curves. The caller
// holds the thread lock.
func Run(ctx context.Context, o Options) (*Report, error) {
	if (o.BudgetFLOPs > 0) == (o.BudgetMinutes > 0) {
		return nil, errors.New("experiment: give exactly one budget, FLOPs or minutes")
	}
	if o.Tokenize == nil {
		return nil, errors.New("experiment: no tokenizer")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Points <= 0 {
		o.Points = 50
	}
	c := o.Config
	if err := c.Validate(); err != nil {
		return nil, err
	}
	mlmCfg := c
	mlmCfg.GeneratorFraction = 1
	rep := &Report{Config: c, BudgetFLOPs: o.BudgetFLOPs, BudgetMin: o.BudgetMinutes, TaskTrain: o.TaskTrain, TaskDev: o.TaskDev,
		StepFLOPs: map[Arm]float64{RTD: ElectraStepFLOPs(c), MLM: MLMStepFLOPs(c)}}

	train, dev, trainGold, devGold, err := o.task()
	if err != nil {
		return nil, err
	}
	rep.Majority, _, _ = glue.Majority(glue.Accuracy, trainGold, devGold)
	files, err := CorpusFiles(filepath.Join(o.Corpora, "moby-dick"), filepath.Join(o.Corpora, "sotu"))
	if err != nil {
		return nil, err
	}

	steps := map[Arm]int{}
	if o.BudgetFLOPs > 0 {
		for _, a := range []Arm{RTD, MLM} {
			steps[a] = int(o.BudgetFLOPs / rep.StepFLOPs[a])
			if steps[a] < 1 {
				return nil, fmt.Errorf("experiment: a budget of %.3g FLOPs is less than one %s step (%.3g)", o.BudgetFLOPs, a, rep.StepFLOPs[a])
			}
		}
	}
	for _, seed := range o.Seeds {
		for _, arm := range []Arm{RTD, MLM, None} {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			cfg := c
			if arm == MLM {
				cfg = mlmCfg
			}
			n := steps[arm]
			if o.BudgetMinutes > 0 && arm != None {
				if n, err = calibrate(ctx, arm, cfg, files, o, seed); err != nil {
					return rep, err
				}
			}
			r, err := o.runOne(ctx, arm, cfg, seed, n, files, rep.StepFLOPs[arm], train, dev, devGold)
			if err != nil {
				return rep, err
			}
			o.Logger.Info("experiment run", "arm", arm, "seed", seed, "steps", r.Steps, "flops", fmt.Sprintf("%.3g", r.FLOPs),
				"pretrain_s", fmt.Sprintf("%.1f", r.Seconds), "dev_acc", fmt.Sprintf("%.3f", r.DevAcc))
			rep.Runs = append(rep.Runs, r)
		}
	}
	return rep, nil
}

// spread measures Spread on the first batch the packer yields.
func spread(ctx context.Context, body finetune.Body, files []string, o Options) (float64, error) {
	p := &Packer{Files: files, Tokenize: o.Tokenize, Config: o.Config}
	defer p.Close()
	b, _, err := p.Next(ctx)
	if err != nil {
		return 0, err
	}
	s := torch.NewScope()
	defer s.Close()
	defer torch.NoGrad()()
	ids := make([]int64, len(b.IDs))
	for i, v := range b.IDs {
		ids[i] = int64(v)
	}
	x := s.Keep(ts.MustOfSlice(ids).MustView([]int64{int64(b.Size), int64(b.SeqLen)}, true))
	segs := s.Keep(x.MustZerosLike(false))
	add := s.Keep(ts.MustZeros([]int64{int64(b.Size), 1, 1, int64(b.SeqLen)}, gotch.Float, gotch.CPU)) // packed: no padding
	h := body.Encoder.Forward(s, body.Embeddings.Forward(s, x, segs, false), add, false)               // [B, L, H]
	sd := s.Keep(h.MustStdDim([]int64{0, 1}, true, false, false))                                      // [H]
	return s.Keep(sd.MustMean(gotch.Float, false)).Float64Values()[0], nil
}

// calibrate turns a wall-clock budget into a step count for arm: a few
// timed steps on a throwaway model, then budget / seconds per step (the
// LR schedule needs the total in advance). The first step pays one-off
// costs and is not counted.
func calibrate(ctx context.Context, arm Arm, c trainer.Config, files []string, o Options, seed uint64) (int, error) {
	const probe = 3
	total := 0.0
	m, err := pretrain(ctx, arm, c, seed, probe+1, files, o, 0, func(step int, secs float64) {
		if step > 1 {
			total += secs
		}
	}, nil, 0)
	if err != nil {
		return 0, err
	}
	m.Close()
	return max(1, int(o.BudgetMinutes*60/(total/probe))), nil
}

// pretrain trains a fresh model with arm's objective for steps updates on
// the packed corpus and returns it (the caller closes it). onStep, if set,
// sees each step's duration; a curve point is recorded every every steps
// (0: none).
func pretrain(ctx context.Context, arm Arm, c trainer.Config, seed uint64, steps int, files []string, o Options,
	every int, onStep func(step int, secs float64), curve *[]Point, stepFLOPs float64) (*trainer.Model, error) {
	src := &Packer{Files: files, Tokenize: o.Tokenize, Config: c}
	defer src.Close()
	sched := trainer.Schedule{Peak: c.LearningRate, Warmup: steps / 10, Total: steps}
	var m *trainer.Model
	var step func(b trainer.Batch, pos trainer.Position, i int) (Point, error)
	var closeOpt func()
	switch arm {
	case RTD:
		tr, err := trainer.NewTrainer(c, gotch.CPU, seed, sched, trainer.DefaultAdam())
		if err != nil {
			return nil, err
		}
		m, closeOpt = tr.Model, tr.Opt.Close
		step = func(b trainer.Batch, pos trainer.Position, i int) (Point, error) {
			res, err := tr.Step(b, pos)
			return Point{Loss: res.Loss, MLMLoss: res.MLMLoss, MLMAcc: res.MLMAcc, DiscAcc: res.DiscAcc}, err
		}
	case MLM:
		torch.Seed(int64(seed))
		var err error
		if m, err = trainer.New(c, gotch.CPU); err != nil {
			return nil, err
		}
		var params []*trainer.Param
		for _, p := range m.Params.List() {
			// the generator (here full size) and the embeddings it uses
			if strings.HasPrefix(p.Name, "generator.") || strings.HasPrefix(p.Name, "discriminator.electra.embeddings.") {
				params = append(params, p)
			}
		}
		opt := trainer.NewOptimizer(params, trainer.DefaultAdam())
		closeOpt = opt.Close
		step = func(b trainer.Batch, _ trainer.Position, i int) (Point, error) {
			return mlmStep(m, opt, b, seed, i, sched.At(i))
		}
	default:
		return nil, fmt.Errorf("experiment: arm %q does not pre-train", arm)
	}
	defer closeOpt()
	start := time.Now()
	for i := 0; i < steps; i++ {
		if err := ctx.Err(); err != nil {
			m.Close()
			return nil, err
		}
		b, pos, err := src.Next(ctx)
		if err != nil {
			m.Close()
			return nil, err
		}
		t0 := time.Now()
		pt, err := step(b, pos, i)
		if err != nil {
			m.Close()
			return nil, err
		}
		if onStep != nil {
			onStep(i+1, time.Since(t0).Seconds())
		}
		if curve != nil && every > 0 && ((i+1)%every == 0 || i+1 == steps) {
			pt.Step, pt.FLOPs, pt.Seconds = i+1, float64(i+1)*stepFLOPs, time.Since(start).Seconds()
			*curve = append(*curve, pt)
		}
	}
	return m, nil
}

// mlmStep is one BERT-style update: the same masking as ELECTRA's
// generator input (85% [MASK], 15% kept), cross-entropy at the masked
// positions, no discriminator.
func mlmStep(m *trainer.Model, opt *trainer.Optimizer, b trainer.Batch, seed uint64, i int, lr float64) (Point, error) {
	c := m.Config
	if err := b.Validate(c); err != nil {
		return Point{}, err
	}
	torch.Seed(int64(seed*1_000_003 + uint64(i))) // dropout of this step
	mk := trainer.Mask(b, c, rand.New(rand.NewPCG(seed, uint64(i))))
	s := torch.NewScope()
	defer s.Close()
	B, L := int64(b.Size), int64(b.SeqLen)
	ids := make([]int64, len(mk.IDs))
	segs := make([]int64, len(b.Segments))
	add := make([]float32, len(b.IDs))
	for k := range mk.IDs {
		ids[k], segs[k] = int64(mk.IDs[k]), int64(b.Segments[k])
		if k%b.SeqLen >= int(b.Lengths[k/b.SeqLen]) {
			add[k] = -10000
		}
	}
	masked := s.Keep(ts.MustOfSlice(ids).MustView([]int64{B, L}, true))
	segments := s.Keep(ts.MustOfSlice(segs).MustView([]int64{B, L}, true))
	maskAdd := s.Keep(ts.MustOfSlice(add).MustView([]int64{B, 1, 1, L}, true))
	positions := s.Keep(ts.MustOfSlice(mk.Positions))
	targets := s.Keep(ts.MustOfSlice(mk.Originals))
	logits := m.Generator.Forward(s, masked, segments, maskAdd, positions, true) // [N, V]
	none := s.Keep(ts.NewTensor())
	loss := s.Keep(logits.MustCrossEntropyLoss(targets, none, 1, -100, 0, false))
	loss.MustBackward()
	opt.Step(lr)
	l := loss.Float64Values()[0]
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return Point{}, fmt.Errorf("experiment: MLM loss became %v at step %d", l, i)
	}
	pred := s.Keep(logits.MustArgmax([]int64{-1}, false, false))
	hits := s.Keep(s.Keep(pred.MustEqTensor(targets, false)).MustSum(gotch.Double, false)).Float64Values()[0]
	return Point{Loss: l, MLMLoss: l, MLMAcc: hits / float64(len(mk.Positions))}, nil
}

func (o Options) task() (train, dev []finetune.Example, trainGold, devGold []int, err error) {
	dir := o.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "electra-experiment-"); err != nil {
			return
		}
		defer os.RemoveAll(dir)
	}
	trainPath, devPath, err := WriteSourceTask(dir, SourceTask{Corpora: o.Corpora, Train: o.TaskTrain, Dev: o.TaskDev, Seed: 1})
	if err != nil {
		return
	}
	read := func(path string) (exs []finetune.Example, gold []int, err error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		task := glue.Tasks["sst-2"] // sentence<TAB>label with a header
		for ex, err := range glue.Read(path, f, task, glue.LabelIndex(task.Labels)) {
			if err != nil {
				return nil, nil, err
			}
			ids, segs := finetune.Encode(o.Tokenize(ex.TextA), nil, o.Config.SeqLen, o.Config.Tokens)
			exs = append(exs, finetune.Example{IDs: ids, Segments: segs, Label: ex.Label})
			gold = append(gold, ex.Label)
		}
		return exs, gold, nil
	}
	if train, trainGold, err = read(trainPath); err != nil {
		return
	}
	dev, devGold, err = read(devPath)
	return
}

func (o Options) runOne(ctx context.Context, arm Arm, c trainer.Config, seed uint64, steps int, files []string, stepFLOPs float64,
	train, dev []finetune.Example, devGold []int) (RunResult, error) {
	r := RunResult{Arm: arm, Seed: seed}
	var m *trainer.Model
	var err error
	if arm == None {
		torch.Seed(int64(seed))
		m, err = trainer.New(c, gotch.CPU)
	} else {
		start := time.Now()
		every := max(1, steps/o.Points)
		m, err = pretrain(ctx, arm, c, seed, steps, files, o, every, nil, &r.Curve, stepFLOPs)
		r.Seconds = time.Since(start).Seconds()
		r.Steps, r.FLOPs = steps, float64(steps)*stepFLOPs
	}
	if err != nil {
		return r, err
	}
	defer m.Close()

	body := finetune.DiscriminatorBody(m)
	if arm == MLM {
		body = finetune.GeneratorBody(m)
	}
	if r.Spread, err = spread(ctx, body, files, o); err != nil {
		return r, err
	}
	start := time.Now()
	torch.Seed(int64(seed) + 1000)
	clf := finetune.NewClassifier(m, body, 2)
	defer clf.Close()
	ft := o.Finetune
	ft.Seed = seed
	if _, err := finetune.Train(ctx, clf, train, ft, nil); err != nil {
		return r, err
	}
	pred, _ := finetune.Predict(clf, dev, 64)
	r.FTSeconds = time.Since(start).Seconds()
	if r.DevAcc, err = glue.Classification(glue.Accuracy, devGold, pred); err != nil {
		return r, err
	}
	r.DevF1, err = glue.Classification(glue.F1, devGold, pred)
	return r, err
}
