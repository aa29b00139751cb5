package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "tokenize",
		summary: "tokenize text with a BERT WordPiece vocabulary",
		run:     runTokenize,
	})
}

// tokenizeBatchBytes bounds how much input is held at once: lines are
// tokenized in batches of about this many bytes, in parallel, and written in
// input order.
const tokenizeBatchBytes = 4 << 20

func runTokenize(ctx context.Context, args []string) error {
	fs := newFlags("tokenize", "--vocab PATH [--input FILE|-] [--special]",
		"Tokenizes text exactly as HuggingFace's BERT tokenizer does (BasicTokenizer + WordPiece).\n"+
			"Writes one output line per input line: the ids separated by single spaces, nothing else;\n"+
			"an empty line stays empty. Literal [CLS], [SEP], [MASK], [UNK], [PAD] in the text are\n"+
			"matched as those tokens. Invalid UTF-8 bytes are dropped (HuggingFace drops U+FFFD).")
	vocab := fs.String("vocab", "", "vocab.txt or HuggingFace tokenizer.json (WordPiece) (required)")
	input := fs.String("input", "-", "input text file, '-' for stdin")
	output := fs.String("output", "-", "output file, '-' for stdout")
	special := fs.Bool("special", false, "wrap each line's ids in [CLS] ... [SEP]")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines tokenizing in parallel (0: GOMAXPROCS)")
	stats := fs.Bool("stats", false, "print input MB/s and tokens/s of the tokenization to stderr at the end")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *vocab == "" || fs.NArg() > 0 {
		fmt.Fprintln(fs.Output(), "tokenize: --vocab is required and there are no positional arguments")
		fs.Usage()
		return errUsage
	}
	tk, err := wordpiece.Load(*vocab)
	if err != nil {
		return err
	}
	in, size, err := openInput(*input)
	if err != nil {
		return err
	}
	defer in.Close()
	out, closeOut, err := openOutput(*output)
	if err != nil {
		return err
	}
	start := time.Now()
	var prog *tokenizeProgress
	if size > 0 && stderrIsTerminal() {
		prog = &tokenizeProgress{total: size, start: start}
	}
	nbytes, ntokens, nlines, err := tokenizeStream(ctx, tk, in, out, *special, tokenizeWorkers(*workers), prog)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	slog.Debug("tokenize done", "lines", nlines, "bytes", nbytes, "tokens", ntokens, "seconds", secs)
	if *stats {
		fmt.Fprintf(os.Stderr, "tokenize: %d lines, %d bytes, %d tokens in %.3fs: %.2f MB/s, %.0f tokens/s\n",
			nlines, nbytes, ntokens, secs, float64(nbytes)/1e6/secs, float64(ntokens)/secs)
	}
	return nil
}

func openInput(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("opening input: %w", err)
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, nil
}

func openOutput(path string) (io.Writer, func() error, error) {
	if path == "-" {
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		return w, w.Flush, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("creating output: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	return w, func() error {
		if err := w.Flush(); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return f.Close()
	}, nil
}

// tokenizeStream reads lines (split on "\n" only), tokenizes them in
// batches and writes the id lines in order.
func tokenizeStream(ctx context.Context, tk *wordpiece.Tokenizer, r io.Reader, w io.Writer, special bool, workers int, prog *tokenizeProgress) (nbytes, ntokens, nlines int64, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	sp := tk.Specials()
	if special && (sp.CLS < 0 || sp.SEP < 0) {
		return 0, 0, 0, errors.New("--special: the vocabulary has no [CLS] or [SEP]")
	}
	var (
		batch   []string
		size    int
		dst     []int32
		line    []byte
		outBuf  []byte
		readErr error
	)
	emit := func(ids []int32) error {
		outBuf = outBuf[:0]
		if special {
			outBuf = strconv.AppendInt(outBuf, int64(sp.CLS), 10)
		}
		for i, id := range ids {
			if i > 0 || special {
				outBuf = append(outBuf, ' ')
			}
			outBuf = strconv.AppendInt(outBuf, int64(id), 10)
		}
		if special {
			outBuf = append(outBuf, ' ')
			outBuf = strconv.AppendInt(outBuf, int64(sp.SEP), 10)
		}
		outBuf = append(outBuf, '\n')
		ntokens += int64(len(ids))
		_, err := w.Write(outBuf)
		return err
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch, size = batch[:0], 0 }()
		if workers == 1 {
			for _, s := range batch {
				dst = tk.Encode(dst[:0], s)
				if err := emit(dst); err != nil {
					return fmt.Errorf("writing output: %w", err)
				}
			}
			return ctx.Err()
		}
		res, err := tk.EncodeBatch(ctx, batch, workers)
		if err != nil {
			return err
		}
		for _, ids := range res {
			if err := emit(ids); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
		}
		return nil
	}
	for readErr == nil {
		line = line[:0]
		for {
			chunk, e := br.ReadSlice('\n')
			line = append(line, chunk...)
			if e != bufio.ErrBufferFull {
				readErr = e
				break
			}
		}
		if len(line) == 0 && readErr != nil {
			break
		}
		nbytes += int64(len(line))
		nlines++
		if line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		batch = append(batch, string(line))
		size += len(line) + 64
		if size >= tokenizeBatchBytes {
			if err := flush(); err != nil {
				return nbytes, ntokens, nlines, err
			}
			prog.update(nbytes)
		}
	}
	if readErr != io.EOF {
		return nbytes, ntokens, nlines, fmt.Errorf("reading input at byte %d: %w", nbytes, readErr)
	}
	if err := flush(); err != nil {
		return nbytes, ntokens, nlines, err
	}
	return nbytes, ntokens, nlines, nil
}

func stderrIsTerminal() bool {
	st, err := os.Stderr.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// tokenizeProgress draws a one-line progress bar on a terminal.
type tokenizeProgress struct {
	total int64
	start time.Time
	last  time.Time
}

func (p *tokenizeProgress) update(done int64) {
	if p == nil || time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	frac := float64(done) / float64(p.total)
	const width = 30
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if float64(i) < frac*width {
			bar[i] = '='
		}
	}
	fmt.Fprintf(os.Stderr, "\rtokenize [%s] %3.0f%% %.1f MB/s", bar, 100*frac, float64(done)/1e6/time.Since(p.start).Seconds())
}

func (p *tokenizeProgress) finish() { fmt.Fprintln(os.Stderr) }

func tokenizeWorkers(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}
