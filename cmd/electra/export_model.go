package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/hf"
	"github.com/electra-go/electra/trainer/safetensors"
	"github.com/electra-go/electra/trainer/torch"
)

func init() {
	register(&command{
		name:    "export-model",
		summary: "write a training checkpoint as a HuggingFace ELECTRA model directory",
		run:     runExportModel,
	})
}

func runExportModel(ctx context.Context, args []string) error {
	fs := newFlags("export-model", "--checkpoint DIR|FILE --out DIR [--generator]",
		"Writes the discriminator of a training checkpoint as a HuggingFace ElectraForPreTraining\n"+
			"directory (model.safetensors, config.json, vocab.txt, tokenizer_config.json,\n"+
			"special_tokens_map.json) that transformers' from_pretrained(DIR) loads with no missing or\n"+
			"unexpected keys. With --generator, the generator goes to DIR/generator as ElectraForMaskedLM.")
	ckpt := fs.String("checkpoint", "", "a run directory (its newest ckpt-*.safetensors is used) or one checkpoint file (required)")
	out := fs.String("out", "", "output directory, created if missing (required)")
	withGen := fs.Bool("generator", false, "also export the generator to OUT/generator")
	vocab := fs.String("vocab", defaultVocab, "the WordPiece vocab.txt the model was trained with, copied into OUT")
	lower := fs.Bool("lowercase", true, "tokenizer_config.json do_lower_case (true for BERT uncased)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckpt == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(fs.Output(), "export-model: --checkpoint and --out are required and there are no positional arguments")
		fs.Usage()
		return errUsage
	}
	vocabPath, err := resolveVocab(*vocab)
	if err != nil {
		return err
	}
	defer torch.LockThread()()
	m, path, st, err := loadCheckpoint(*ckpt)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := hf.ExportModel(*out, m, *withGen, hf.Tokenizer{VocabPath: vocabPath, DoLowerCase: *lower, MaxLength: m.Config.MaxPositions}); err != nil {
		return err
	}
	slog.Info("exported", "checkpoint", path, "step", st.Step, "out", *out, "generator", *withGen,
		"discriminator_params", m.DiscriminatorSize())
	return nil
}

// loadCheckpoint builds the model a checkpoint was saved from (its config
// travels in the file's metadata) and loads the weights.
func loadCheckpoint(pathOrDir string) (*trainer.Model, string, trainer.State, error) {
	var st trainer.State
	path := pathOrDir
	if fi, err := os.Stat(pathOrDir); err != nil {
		return nil, "", st, fmt.Errorf("checkpoint: %w", err)
	} else if fi.IsDir() {
		p, err := trainer.LatestCheckpoint(pathOrDir)
		if err != nil {
			return nil, "", st, err
		}
		if p == "" {
			return nil, "", st, fmt.Errorf("checkpoint: no ckpt-*.safetensors in %s (is it a run directory of electra train?)", pathOrDir)
		}
		path = p
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, "", st, err
	}
	state := f.Metadata["state"]
	f.Close()
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return nil, "", st, fmt.Errorf("checkpoint %s: no readable training state in its metadata: %w", path, err)
	}
	m, err := trainer.New(st.Config, gotch.CPU)
	if err != nil {
		return nil, "", st, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	o := trainer.NewOptimizer(m.Params.List(), trainer.DefaultAdam())
	defer o.Close()
	if _, err := trainer.LoadCheckpoint(path, m, o); err != nil {
		m.Close()
		return nil, "", st, err
	}
	return m, path, st, nil
}
