package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/hf"
	"github.com/electra-go/electra/trainer/torch"
)

func init() {
	register(&command{
		name:    "import-model",
		summary: "turn a HuggingFace ELECTRA directory into a checkpoint to continue pre-training from",
		run:     runImportModel,
	})
}

func runImportModel(ctx context.Context, args []string) error {
	fs := newFlags("import-model", "--model DIR --out RUNDIR [--generator DIR] [--config NAME]",
		"Reads a HuggingFace ElectraForPreTraining directory (and an ElectraForMaskedLM generator,\n"+
			"by default MODEL/generator when present) and writes RUNDIR/ckpt-000000000.safetensors, a\n"+
			"step-0 checkpoint with fresh optimizer moments. `electra train --resume --out RUNDIR` then\n"+
			"continues pre-training from those weights. Without a generator one is initialised from --seed.")
	model := fs.String("model", "", "HuggingFace discriminator directory (required)")
	genDir := fs.String("generator", "", "HuggingFace generator directory (default: MODEL/generator if it exists)")
	out := fs.String("out", "", "run directory to write the checkpoint into (required)")
	preset := fs.String("config", "small", "preset whose recipe (lr, batch, steps, masking) the continued run starts from; the shape comes from the model")
	seed := fs.Uint64("seed", 1, "seed for weights the model directory lacks (a missing generator)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(fs.Output(), "import-model: --model and --out are required and there are no positional arguments")
		fs.Usage()
		return errUsage
	}
	base, err := trainer.Preset(*preset)
	if err != nil {
		return err
	}
	defer torch.LockThread()()
	disc, err := hf.Import(*model, gotch.CPU)
	if err != nil {
		return err
	}
	defer disc.Close()
	if *genDir == "" {
		if _, err := os.Stat(filepath.Join(*model, hf.GeneratorDir, "config.json")); err == nil {
			*genDir = filepath.Join(*model, hf.GeneratorDir)
		}
	}
	var gen *hf.Model
	var genCfg *hf.Config
	if *genDir != "" {
		if gen, err = hf.Import(*genDir, gotch.CPU); err != nil {
			return err
		}
		defer gen.Close()
		genCfg = &gen.Config
	}
	c, err := hf.TrainerConfig(disc.Config, genCfg, base)
	if err != nil {
		return fmt.Errorf("import-model: %w", err)
	}
	torch.Seed(int64(*seed))
	m, err := trainer.New(c, gotch.CPU)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := hf.LoadInto(m, disc, gen); err != nil {
		return err
	}
	o := trainer.NewOptimizer(m.Params.List(), trainer.DefaultAdam())
	defer o.Close()
	st := trainer.State{Seed: *seed, Config: c, Schedule: trainer.Schedule{Peak: c.LearningRate, Warmup: c.WarmupSteps, Total: c.TrainSteps}}
	path, err := trainer.SaveCheckpoint(*out, m, o, st, 0)
	if err != nil {
		return err
	}
	slog.Info("imported", "model", *model, "generator", *genDir, "checkpoint", path, "discriminator_params", m.DiscriminatorSize())
	return nil
}
