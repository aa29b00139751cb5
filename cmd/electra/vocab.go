package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "vocab",
		summary: "train a WordPiece vocabulary (vocab train)",
		run:     runVocab,
	})
}

func runVocab(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "train" {
		fs := newFlags("vocab", "train [flags]", "Vocabulary tools. Subcommands:\n  train   learn a WordPiece vocab.txt from text files (electra vocab train -h)")
		if err := parse(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	return runVocabTrain(ctx, args[1:])
}

func runVocabTrain(ctx context.Context, args []string) error {
	fs := newFlags("vocab train", "--input FILES --out vocab.txt [--size 30522]",
		"Learns a WordPiece vocabulary as HuggingFace's WordPieceTrainer does: text is normalized and\n"+
			"split into words like BERT's BasicTokenizer, words are split into characters with \"##\" on\n"+
			"all but the first, and the most frequent adjacent pair is merged until the vocabulary is full.\n"+
			"The special tokens come first (ids 0..4), then the alphabet, then the learned pieces.\n"+
			"Only word counts are kept in memory, never the text. Extra arguments are inputs too.")
	var inputs stringList
	fs.Var(&inputs, "input", "text files or directories (all files below), repeatable or comma-separated; '-' is stdin (required)")
	out := fs.String("out", "", "where to write the vocab.txt (required)")
	size := fs.Int("size", 30522, "vocabulary size, specials and alphabet included")
	minFreq := fs.Int("min-frequency", 2, "stop merging when the most frequent pair occurs fewer times")
	limitAlpha := fs.Int("limit-alphabet", 1000, "keep at most this many distinct characters (-1: all)")
	cased := fs.Bool("cased", false, "keep case and accents (default: uncased, like bert-base-uncased)")
	specials := fs.String("specials", "[PAD],[UNK],[CLS],[SEP],[MASK]", "special tokens, comma-separated, in id order")
	if err := parse(fs, args); err != nil {
		return err
	}
	inputs = append(inputs, fs.Args()...)
	if len(inputs) == 0 || *out == "" {
		fmt.Fprintln(fs.Output(), "vocab train: --input and --out are required")
		fs.Usage()
		return errUsage
	}
	if *size <= 0 || *minFreq < 0 {
		fmt.Fprintln(fs.Output(), "vocab train: --size must be positive and --min-frequency not negative")
		return errUsage
	}
	tr, err := wordpiece.NewTrainer(wordpiece.TrainConfig{
		VocabSize: *size, MinFrequency: max(*minFreq, 1), LimitAlphabet: *limitAlpha,
		Specials: strings.Split(*specials, ","), Cased: *cased,
	})
	if err != nil {
		return err
	}
	files, err := vocabInputFiles(inputs)
	if err != nil {
		return err
	}
	start, lastLog := time.Now(), time.Now()
	for i, in := range files {
		if err := vocabAddInput(ctx, tr, in); err != nil {
			return err
		}
		// Progress for long runs without a line per file for short ones.
		if time.Since(lastLog) > 5*time.Second || i == len(files)-1 {
			slog.Info("vocab train: counting words", "files_done", i+1, "files", len(files), "distinct_words", tr.Words())
			lastLog = time.Now()
		}
	}
	slog.Info("vocab train: merging", "size", *size)
	vocab, err := tr.Train(ctx)
	if err != nil {
		return err
	}
	if len(vocab) < *size {
		slog.Warn("vocab train: ran out of pairs to merge before reaching --size", "tokens", len(vocab), "size", *size, "min_frequency", *minFreq)
	}
	if err := writeVocabFile(*out, vocab); err != nil {
		return err
	}
	slog.Info("vocab train: wrote", "out", *out, "tokens", len(vocab), "seconds", time.Since(start).Seconds())
	return nil
}

// vocabInputFiles expands directories into the regular files below them,
// in lexical order.
func vocabInputFiles(inputs []string) ([]string, error) {
	var files []string
	for _, in := range inputs {
		st, err := os.Stat(in)
		if in == "-" || err == nil && !st.IsDir() {
			files = append(files, in)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		err = filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	}
	return files, nil
}

func vocabAddInput(ctx context.Context, tr *wordpiece.Trainer, path string) error {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("opening input: %w", err)
		}
		defer f.Close()
		r = f
	}
	return tr.AddReader(ctx, path, r)
}

// writeVocabFile writes through a temporary file and a rename, so an
// interrupted run never leaves a truncated vocab.txt behind.
func writeVocabFile(path string, vocab []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vocab-*.txt")
	if err != nil {
		return fmt.Errorf("writing vocab: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := wordpiece.WriteVocab(tmp, vocab); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Chmod(path, 0o644)
}
