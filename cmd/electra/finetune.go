package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sugarme/gotch"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/finetune"
	"github.com/electra-go/electra/trainer/glue"
	"github.com/electra-go/electra/trainer/hf"
	"github.com/electra-go/electra/trainer/torch"
	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "finetune",
		summary: "fine-tune a HuggingFace-format ELECTRA discriminator on a GLUE-style TSV task",
		run:     runFinetune,
	})
}

type finetuneResult struct {
	Task      string             `json:"task"`
	Train     int                `json:"train_examples"`
	Dev       int                `json:"dev_examples"`
	Rejected  int                `json:"rejected_lines"`
	Metrics   map[string]float64 `json:"metrics"`
	Majority  map[string]float64 `json:"majority_baseline,omitempty"`
	Epochs    []float64          `json:"epoch_train_loss"`
	Seconds   float64            `json:"seconds"`
	Recipe    finetune.Config    `json:"recipe"`
	Model     string             `json:"model"`
	OutputDir string             `json:"output_dir,omitempty"`
}

func runFinetune(ctx context.Context, args []string) error {
	fs := newFlags("finetune", "--model DIR --task TRAIN.tsv [--dev DEV.tsv] [--glue NAME] [flags]",
		"Fine-tunes the discriminator of a HuggingFace ELECTRA directory (from export-model) with the\n"+
			"paper's recipe: Adam without bias correction, weight decay 0.01, layer-wise learning-rate\n"+
			"decay, linear warmup then decay, clipping at norm 1. The head is HuggingFace's\n"+
			"ElectraClassificationHead (regression for score tasks). The TSV layout is a GLUE task's\n"+
			"(--glue cola, sst-2, mrpc, qqp, sts-b, mnli, qnli, rte, wnli) or, without --glue, a header\n"+
			"naming sentence (or sentence1, sentence2) and label (or score) columns. Prints the task's\n"+
			"metrics on the dev file next to the majority-class baseline. Malformed lines are skipped and\n"+
			"listed (with file:line and the reason) in OUT/deadletter.jsonl, or logged without --out.")
	model := fs.String("model", "", "HuggingFace ELECTRA directory (config.json, model.safetensors, vocab.txt) (required)")
	task := fs.String("task", "", "training TSV (required)")
	devPath := fs.String("dev", "", "dev TSV (default: dev.tsv next to --task)")
	glueName := fs.String("glue", "", "GLUE task layout of the files; empty: detect from the header")
	vocab := fs.String("vocab", "", "vocab.txt (default: MODEL/vocab.txt)")
	d := finetune.Defaults()
	lr := fs.Float64("lr", d.LR, "peak learning rate of the head (1e-4 is the recipe for ELECTRA-Small; larger models want less)")
	decay := fs.Float64("layer-decay", d.LayerDecay, "layer-wise learning-rate decay: depth d of L layers trains at lr * decay^(L+2-d) (0.8; 0.9 for Large)")
	epochs := fs.Int("epochs", d.Epochs, "training epochs (paper: 3; 10 for RTE and STS-B)")
	batch := fs.Int("batch", d.Batch, "batch size")
	warmup := fs.Float64("warmup", d.WarmupFrac, "fraction of steps with linear learning-rate warmup")
	maxLen := fs.Int("max-len", d.MaxLen, "tokens per example including [CLS] and [SEP]; longer inputs are truncated")
	seed := fs.Uint64("seed", 1, "seed for the head, dropout and shuffling")
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0 = one per core)")
	out := fs.String("out", "", "directory for the fine-tuned model (ElectraForSequenceClassification), results.json and deadletter.jsonl")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" || *task == "" || fs.NArg() > 0 {
		fmt.Fprintln(fs.Output(), "finetune: --model and --task are required and there are no positional arguments")
		fs.Usage()
		return errUsage
	}
	if *devPath == "" {
		*devPath = filepath.Join(filepath.Dir(*task), "dev.tsv")
	}
	if *vocab == "" {
		*vocab = filepath.Join(*model, "vocab.txt")
	}
	cfg := finetune.Config{LR: *lr, LayerDecay: *decay, Epochs: *epochs, Batch: *batch, WarmupFrac: *warmup, MaxLen: *maxLen, Seed: *seed, Adam: trainer.DefaultAdam()}

	spec, labels, err := finetuneTask(*glueName, *task)
	if err != nil {
		return err
	}
	tk, err := wordpiece.Load(*vocab)
	if err != nil {
		return err
	}
	defer torch.LockThread()()
	torch.SetThreads(*threads)
	disc, err := hf.Import(*model, gotch.CPU)
	if err != nil {
		return err
	}
	base, _ := trainer.Preset("small")
	base.SeqLen = min(*maxLen, disc.Config.MaxPositionEmbeddings)
	tc, err := hf.TrainerConfig(disc.Config, nil, base)
	if err != nil {
		disc.Close()
		return err
	}
	torch.Seed(int64(*seed))
	m, err := trainer.New(tc, gotch.CPU)
	if err != nil {
		disc.Close()
		return err
	}
	defer m.Close()
	err = hf.LoadInto(m, disc, nil)
	disc.Close()
	if err != nil {
		return err
	}

	var dead io.Writer
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(*out, "deadletter.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		dead = f
	}
	encode := func(text string) []int32 { return tk.Encode(nil, text) }
	train, trainGold, rej1, err := readFinetune(*task, spec, labels, encode, cfg.MaxLen, tc.Tokens, dead)
	if err != nil {
		return err
	}
	dev, devGold, rej2, err := readFinetune(*devPath, spec, labels, encode, cfg.MaxLen, tc.Tokens, dead)
	if err != nil {
		return err
	}
	numLabels := len(labels)
	if spec.Regression {
		numLabels = 1
	}
	torch.Seed(int64(*seed))
	clf := finetune.NewClassifier(m, finetune.DiscriminatorBody(m), numLabels)
	defer clf.Close()
	slog.Info("fine-tuning", "task", spec.Name, "train", len(train), "dev", len(dev), "labels", numLabels,
		"encoder_layers", tc.NumLayers, "hidden", tc.HiddenSize, "lr", cfg.LR, "epochs", cfg.Epochs)
	start := time.Now()
	progress := finetuneProgress(start)
	losses, err := finetune.Train(ctx, clf, train, cfg, progress)
	if err != nil {
		return err
	}
	labelsPred, scores := finetune.Predict(clf, dev, 64)
	res := finetuneResult{Task: spec.Name, Train: len(train), Dev: len(dev), Rejected: rej1 + rej2, Metrics: map[string]float64{},
		Epochs: losses, Seconds: time.Since(start).Seconds(), Recipe: cfg, Model: *model, OutputDir: *out}
	for _, mt := range spec.Metrics {
		var v float64
		if spec.Regression {
			v, err = glue.Regression(mt, devGoldScores(dev), scores)
		} else {
			v, err = glue.Classification(mt, devGold, labelsPred)
			if err == nil {
				if res.Majority == nil {
					res.Majority = map[string]float64{}
				}
				res.Majority[string(mt)], _, _ = glue.Majority(mt, trainGold, devGold)
			}
		}
		if err != nil {
			return err
		}
		res.Metrics[string(mt)] = v
	}
	printFinetune(os.Stdout, res, spec)
	if *out == "" {
		return nil
	}
	hc := hf.NewConfig(hf.SequenceClassification, hf.DiscriminatorConfig(tc).Shape(), tc.LayerNormEps, tc.Dropout)
	hc = withLabels(hc, labels, spec.Regression)
	if err := hf.Export(*out, hc, clf.HFTensors(), hf.Tokenizer{VocabPath: *vocab, DoLowerCase: true, MaxLength: tc.MaxPositions}); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(filepath.Join(*out, "results.json"), append(b, '\n'), 0o644)
}

// withLabels names the classes in config.json as the task file does.
func withLabels(c hf.Config, labels []string, regression bool) hf.Config {
	if regression {
		c.ID2Label, c.Label2ID = map[string]string{"0": "LABEL_0"}, map[string]int{"LABEL_0": 0}
		c.ProblemType = "regression"
		return c
	}
	c.ID2Label, c.Label2ID = map[string]string{}, map[string]int{}
	for i, l := range labels {
		c.ID2Label[fmt.Sprint(i)], c.Label2ID[l] = l, i
	}
	c.ProblemType = "single_label_classification"
	return c
}

func devGoldScores(dev []finetune.Example) []float64 {
	out := make([]float64, len(dev))
	for i, e := range dev {
		out[i] = e.Score
	}
	return out
}

func finetuneTask(name, trainPath string) (glue.Task, []string, error) {
	var spec glue.Task
	if name != "" {
		t, ok := glue.Tasks[strings.ToLower(name)]
		if !ok {
			return spec, nil, fmt.Errorf("finetune: unknown GLUE task %q (cola, sst-2, mrpc, qqp, sts-b, mnli, qnli, rte, wnli)", name)
		}
		spec = t
	} else {
		f, err := os.Open(trainPath)
		if err != nil {
			return spec, nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		sc.Scan()
		header := sc.Text()
		f.Close()
		if spec, err = glue.Detect(filepath.Base(trainPath), header); err != nil {
			return spec, nil, fmt.Errorf("%w; or name the layout with --glue", err)
		}
	}
	if spec.Regression {
		return spec, nil, nil
	}
	if spec.Labels != nil {
		return spec, spec.Labels, nil
	}
	labels, err := glue.ScanLabels(trainPath, spec)
	return spec, labels, err
}

// readFinetune encodes a task file. Fine-tuning sets are small (GLUE's
// largest is ~400k lines) and are shuffled every epoch, so they are held in
// memory as token ids; malformed lines go to dead (or the log) and are
// skipped.
func readFinetune(path string, spec glue.Task, labels []string, encode func(string) []int32, maxLen int,
	tok trainer.SpecialTokens, dead io.Writer) ([]finetune.Example, []int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("finetune: %w", err)
	}
	defer f.Close()
	var exs []finetune.Example
	var gold []int
	rejected := 0
	for ex, err := range glue.Read(path, f, spec, glue.LabelIndex(labels)) {
		var le *glue.LineError
		if errors.As(err, &le) {
			rejected++
			if dead != nil {
				b, _ := json.Marshal(map[string]any{"file": le.File, "line": le.Line, "reason": le.Reason, "text": le.Text})
				dead.Write(append(b, '\n'))
			} else {
				slog.Warn("skipping line", "file", le.File, "line", le.Line, "reason", le.Reason)
			}
			continue
		}
		if err != nil {
			return nil, nil, rejected, err
		}
		var b []int32
		if spec.TextB >= 0 {
			b = encode(ex.TextB)
			if b == nil {
				b = []int32{}
			}
		}
		ids, segs := finetune.Encode(encode(ex.TextA), b, maxLen, tok)
		exs = append(exs, finetune.Example{IDs: ids, Segments: segs, Label: ex.Label, Score: ex.Score})
		gold = append(gold, ex.Label)
	}
	if len(exs) == 0 {
		return nil, nil, rejected, fmt.Errorf("finetune: %s holds no usable examples (%d lines rejected)", path, rejected)
	}
	return exs, gold, rejected, nil
}

// finetuneProgress draws a one-line progress bar on a terminal and logs
// every 10% otherwise.
func finetuneProgress(start time.Time) func(finetune.Progress) {
	tty := stderrIsTerminal()
	lastTenth := -1
	return func(p finetune.Progress) {
		if tty {
			const width = 30
			done := p.Step * width / p.Steps
			fmt.Fprintf(os.Stderr, "\r[%s%s] step %d/%d epoch %d loss %.4f lr %.2e %.0fs",
				strings.Repeat("=", done), strings.Repeat(" ", width-done), p.Step, p.Steps, p.Epoch, p.Loss, p.LR, time.Since(start).Seconds())
			if p.Step == p.Steps {
				fmt.Fprintln(os.Stderr)
			}
			return
		}
		if tenth := p.Step * 10 / p.Steps; tenth != lastTenth {
			lastTenth = tenth
			slog.Info("fine-tuning", "step", p.Step, "of", p.Steps, "epoch", p.Epoch, "loss", fmt.Sprintf("%.4f", p.Loss))
		}
	}
}

func printFinetune(w io.Writer, r finetuneResult, spec glue.Task) {
	fmt.Fprintf(w, "task %s: %d train, %d dev examples (%d lines rejected), %.1fs\n", r.Task, r.Train, r.Dev, r.Rejected, r.Seconds)
	fmt.Fprintf(w, "%-10s %10s %10s\n", "metric", "dev", "majority")
	for _, mt := range spec.Metrics {
		maj := "-"
		if v, ok := r.Majority[string(mt)]; ok {
			maj = fmt.Sprintf("%.4f", v)
		}
		fmt.Fprintf(w, "%-10s %10.4f %10s\n", mt, r.Metrics[string(mt)], maj)
	}
}
