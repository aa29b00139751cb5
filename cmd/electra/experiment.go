package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/experiment"
	"github.com/electra-go/electra/trainer/finetune"
	"github.com/electra-go/electra/trainer/torch"
	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "experiment",
		summary: "the paper's experiment in miniature: RTD vs MLM at equal compute (experiment rtd-vs-mlm)",
		run:     runExperiment,
	})
}

func runExperiment(ctx context.Context, args []string) error {
	fs := newFlags("experiment", "rtd-vs-mlm --budget FLOPS|MINUTESm [flags]",
		"Pre-trains a small ELECTRA (replaced token detection) and a BERT-style masked language model\n"+
			"of the same encoder size on the same text (the Moby-Dick and State of the Union corpora) with\n"+
			"the same compute, then fine-tunes each, and an untrained encoder as a floor, on the\n"+
			"book-or-speech sentence classification task. Compute is FLOPs counted as the reference's\n"+
			"flops_computation.py counts them (e.g. --budget 2e12), or wall time on this machine\n"+
			"(--budget 5m). Every seed runs all arms; the table reports dev accuracy per seed and its mean\n"+
			"and standard deviation. OUT receives table.txt, report.json (all curves) and curves.png.")
	budget := fs.String("budget", "", "compute per arm: FLOPs (2e12) or minutes (5m) (required)")
	preset := fs.String("config", "tiny", "encoder preset: "+strings.Join(trainer.PresetNames(), ", "))
	seqLen := fs.Int("seq-len", 64, "pre-training sequence length (also the fine-tuning max length)")
	batchSize := fs.Int("batch", 16, "pre-training batch size")
	lr := fs.Float64("lr", 1e-4, "pre-training peak learning rate (0: the preset's); short runs at the tiny preset's 1e-3 collapse every token onto one vector (see the spread column)")
	seedList := fs.String("seeds", "1,2,3", "comma-separated seeds; each runs every arm")
	corpora := fs.String("corpora", ".cache/corpora", "directory with moby-dick/ and sotu/ (scripts/setup.sh)")
	vocab := fs.String("vocab", defaultVocab, "WordPiece vocab.txt")
	taskTrain := fs.Int("task-train", 512, "fine-tuning examples")
	taskDev := fs.Int("task-dev", 400, "dev examples")
	ftLR := fs.Float64("ft-lr", 1e-3, "fine-tuning peak learning rate; the paper's 1e-4 is for Small after 1M steps, a briefly pre-trained tiny encoder needs more")
	ftEpochs := fs.Int("ft-epochs", 3, "fine-tuning epochs")
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0 = one per core)")
	out := fs.String("out", "runs/rtd-vs-mlm", "output directory")
	// The experiment's name comes first; flags follow it.
	name := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if name != "rtd-vs-mlm" || fs.NArg() != 0 || *budget == "" {
		fmt.Fprintln(fs.Output(), "experiment: want `experiment rtd-vs-mlm --budget ...` (rtd-vs-mlm is the only experiment)")
		fs.Usage()
		return errUsage
	}
	var o experiment.Options
	if m, ok := strings.CutSuffix(strings.TrimSuffix(*budget, "in"), "m"); ok {
		v, err := strconv.ParseFloat(m, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("experiment: --budget %q: want FLOPs (2e12) or minutes (5m)", *budget)
		}
		o.BudgetMinutes = v
	} else {
		v, err := strconv.ParseFloat(*budget, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("experiment: --budget %q: want FLOPs (2e12) or minutes (5m)", *budget)
		}
		o.BudgetFLOPs = v
	}
	for _, s := range strings.Split(*seedList, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("experiment: --seeds %q: %w", *seedList, err)
		}
		o.Seeds = append(o.Seeds, v)
	}
	c, err := trainer.Preset(*preset)
	if err != nil {
		return err
	}
	c.SeqLen, c.BatchSize = *seqLen, *batchSize
	c.MaxPredictions = int((c.MaskProb + 0.005) * float64(c.SeqLen))
	if *lr > 0 {
		c.LearningRate = *lr
	}
	path, err := resolveVocab(*vocab)
	if err != nil {
		return err
	}
	tk, err := wordpiece.Load(path)
	if err != nil {
		return err
	}
	ft := finetune.Defaults()
	ft.LR, ft.Epochs, ft.MaxLen = *ftLR, *ftEpochs, *seqLen
	o.Config, o.Corpora, o.Finetune, o.TaskTrain, o.TaskDev = c, *corpora, ft, *taskTrain, *taskDev
	o.Tokenize = func(s string) []int32 { return tk.Encode(nil, s) }
	o.WorkDir = filepath.Join(*out, "task")
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return err
	}
	defer torch.LockThread()()
	torch.SetThreads(*threads)
	slog.Info("experiment rtd-vs-mlm", "config", c.Name, "seq_len", c.SeqLen, "batch", c.BatchSize, "budget", *budget,
		"seeds", o.Seeds, "electra_step_flops", fmt.Sprintf("%.3g", experiment.ElectraStepFLOPs(c)),
		"mlm_step_flops", fmt.Sprintf("%.3g", experiment.MLMStepFLOPs(c)))
	rep, err := experiment.Run(ctx, o)
	if err != nil {
		return err
	}
	var tab strings.Builder
	rep.WriteTable(&tab)
	fmt.Print(tab.String())
	if err := os.WriteFile(filepath.Join(*out, "table.txt"), []byte(tab.String()), 0o644); err != nil {
		return err
	}
	if err := rep.WriteJSON(filepath.Join(*out, "report.json")); err != nil {
		return err
	}
	if err := rep.WritePNG(filepath.Join(*out, "curves.png")); err != nil {
		return err
	}
	slog.Info("experiment written", "dir", *out)
	return nil
}
