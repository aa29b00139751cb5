package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/dataset"
	"github.com/electra-go/electra/trainer/torch"
)

func init() {
	register(&command{
		name:    "train",
		summary: "pre-train ELECTRA (generator + discriminator) from an Arrow dataset directory or the examples topic",
		run:     runTrain,
	})
}

func runTrain(ctx context.Context, args []string) error {
	fs := newFlags("train", "--config tiny|small|base|large --data DIR --steps N --out DIR [flags]",
		"Pre-trains ELECTRA with replaced token detection on the electra.examples.v1 Arrow files in --data\n"+
			"(written by `electra transform --sink dataset:DIR`). The run directory --out receives\n"+
			"metrics.jsonl (one JSON object per logged step: step, loss, mlm_loss, mlm_acc, disc_loss,\n"+
			"disc_acc, disc_precision, disc_recall, replaced_frac, lr, grad_norm, tokens_per_s, ...),\n"+
			"deadletter.jsonl (rejected batches, with the reason) and checkpoints ckpt-<step>.safetensors.\n"+
			"The learning rate warms up linearly for --warmup steps and decays linearly to 0 at --steps.\n"+
			"Training is deterministic on CPU for a given --seed and --threads; --resume continues exactly.")
	config := fs.String("config", "small", "model preset: "+strings.Join(trainer.PresetNames(), ", "))
	data := fs.String("data", "", "Arrow dataset directory (*.arrow files of electra.examples.v1)")
	steps := fs.Int("steps", 1000, "number of optimizer updates; the learning rate reaches 0 here")
	out := fs.String("out", "", "run directory for metrics.jsonl and checkpoints")
	device := fs.String("device", "auto", "auto (CUDA when available), cpu, cuda or cuda:N")
	precision := fs.String("precision", "auto", "forward-pass arithmetic: fp32, bf16 (autocast; weights, losses and sampling stay fp32) or auto (bf16 on CUDA, fp32 on CPU)")
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0 = one per core)")
	seed := fs.Uint64("seed", 1, "seed for initialisation, masking, sampling and dropout")
	resume := fs.Bool("resume", false, "continue from the newest checkpoint in --out (weights, Adam state, step, data position)")
	batch := fs.Int("batch", 0, "examples per batch (0 = the preset's)")
	lr := fs.Float64("lr", 0, "peak learning rate (0 = the preset's: small 5e-4, base/large 2e-4)")
	warmup := fs.Int("warmup", -1, "learning-rate warmup steps (-1 = the preset's, 10000 for the paper's models)")
	every := fs.Int("checkpoint-every", 1000, "write a checkpoint every N steps (and at the end and on interrupt)")
	keep := fs.Int("keep", 3, "checkpoints to keep (newest); 0 keeps all")
	logEvery := fs.Int("log-every", 10, "write a metrics.jsonl line every N steps")
	kafkaFlags := addTrainKafkaFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	pipeline, err := applyPipeline(fs, *kafkaFlags.pipeline, "train", 0)
	if err != nil {
		return err
	}
	c, err := trainer.Preset(*config)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	if (*data == "" && !kafkaFlags.enabled()) || *out == "" {
		fmt.Fprintln(fs.Output(), "electra train: --out and one of --data or --brokers (or --pipeline) are required")
		fs.Usage()
		return errUsage
	}
	if !kafkaFlags.enabled() {
		if err := kafkaFlags.kafka.unused("a dataset directory (--data)"); err != nil {
			return err
		}
	}
	if *batch > 0 {
		c.BatchSize = *batch
	}
	if *lr > 0 {
		c.LearningRate = *lr
	}
	if *warmup >= 0 {
		c.WarmupSteps = *warmup
	}
	if c.WarmupSteps >= *steps {
		slog.Warn("warmup is longer than the run; the learning rate never reaches its peak", "warmup", c.WarmupSteps, "steps", *steps)
	}

	defer torch.LockThread()()
	torch.SetThreads(*threads)
	dev, err := torch.Device(*device)
	if err != nil {
		return err
	}
	prec, err := torch.ParsePrecision(*precision, dev)
	if err != nil {
		return fmt.Errorf("--precision: %w", err)
	}
	var sources []*dataset.Source
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	open := func(from trainer.Position) (trainer.Source, error) {
		s, err := dataset.Open(*data, c.BatchSize, from)
		if err == nil {
			sources = append(sources, s)
		}
		return s, err
	}
	// The metrics file holds the figures; stderr gets a progress line.
	start := time.Now()
	progress := func(m trainer.Metrics) {
		if m.Step%max(1, *logEvery) != 0 && m.Step != *steps {
			return
		}
		frac := float64(m.Step) / float64(*steps)
		const width = 30
		bar := strings.Repeat("=", int(frac*width)) + strings.Repeat(" ", width-int(frac*width))
		eta := time.Duration(float64(time.Since(start)) / frac * (1 - frac)).Round(time.Second)
		fmt.Fprintf(os.Stderr, "\rstep %d/%d [%s] loss %.3f mlm %.3f disc_acc %.3f %.0f tok/s eta %s   ",
			m.Step, *steps, bar, m.Loss, m.MLMLoss, m.DiscAcc, m.TokensPerS, eta)
		if m.Step == *steps {
			fmt.Fprintln(os.Stderr)
		}
	}
	opts := trainer.RunOptions{
		Config: c, Adam: trainer.DefaultAdam(), Device: dev, Precision: prec, Seed: *seed, Steps: *steps, Warmup: c.WarmupSteps,
		OutDir: *out, Resume: *resume, Logger: slog.Default(),
		CheckpointEvery: *every, Keep: *keep, LogEvery: *logEvery, Progress: progress,
	}
	if kafkaFlags.enabled() {
		return trainFromKafka(ctx, kafkaFlags, opts, pipeline)
	}
	return trainer.Run(ctx, opts, open)
}
