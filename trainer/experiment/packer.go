package experiment

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/electra-go/electra/trainer"
)

// Packer is a trainer.Source over plain-text corpus files: it tokenizes
// paragraph by paragraph and packs the ids into full [CLS] ... [SEP]
// sequences, cycling through the files for as many batches as asked. Only
// one file is open and one batch in memory at a time. Every Packer over the
// same files yields the same batches, so compared runs see the same data.
type Packer struct {
	Files    []string
	Tokenize func(string) []int32
	Config   trainer.Config // SeqLen, BatchSize, Tokens

	file    int
	sc      *bufio.Scanner
	fh      *os.File
	pending []int32
	batches int
	pass    int
}

// CorpusFiles lists the .txt files under each directory, sorted.
func CorpusFiles(dirs ...string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		fs, err := filepath.Glob(filepath.Join(d, "*.txt"))
		if err != nil {
			return nil, err
		}
		sort.Strings(fs)
		out = append(out, fs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("experiment: no .txt files in %v (scripts/setup.sh puts the corpora in .cache/corpora)", dirs)
	}
	return out, nil
}

// Next returns the next batch; it never runs out (the files repeat).
func (p *Packer) Next(ctx context.Context) (trainer.Batch, trainer.Position, error) {
	c := p.Config
	body := c.SeqLen - 2
	b := trainer.Batch{Size: c.BatchSize, SeqLen: c.SeqLen, IDs: make([]int32, 0, c.BatchSize*c.SeqLen),
		Segments: make([]int8, c.BatchSize*c.SeqLen), Lengths: make([]int16, c.BatchSize)}
	for i := 0; i < c.BatchSize; i++ {
		for len(p.pending) < body {
			if err := ctx.Err(); err != nil {
				return b, "", err
			}
			if err := p.fill(); err != nil {
				return b, "", err
			}
		}
		b.IDs = append(b.IDs, c.Tokens.CLS)
		b.IDs = append(b.IDs, p.pending[:body]...)
		b.IDs = append(b.IDs, c.Tokens.SEP)
		p.pending = p.pending[body:]
		b.Lengths[i] = int16(c.SeqLen)
	}
	p.batches++
	return b, trainer.Position(fmt.Sprintf("pass %d batch %d", p.pass, p.batches)), nil
}

// fill tokenizes the next non-empty line (a paragraph in these corpora).
func (p *Packer) fill() error {
	for {
		if p.sc == nil {
			if len(p.Files) == 0 {
				return fmt.Errorf("experiment: packer has no files")
			}
			f, err := os.Open(p.Files[p.file])
			if err != nil {
				return fmt.Errorf("experiment: %w", err)
			}
			p.fh, p.sc = f, bufio.NewScanner(f)
			p.sc.Buffer(make([]byte, 1<<20), 16<<20)
		}
		if p.sc.Scan() {
			if line := strings.TrimSpace(p.sc.Text()); line != "" {
				p.pending = append(p.pending, p.Tokenize(line)...)
				return nil
			}
			continue
		}
		err := p.sc.Err()
		p.fh.Close()
		p.sc, p.fh = nil, nil
		if err != nil {
			return fmt.Errorf("experiment: %s: %w", p.Files[p.file], err)
		}
		p.file++
		if p.file == len(p.Files) {
			p.file, p.pass = 0, p.pass+1
		}
	}
}

// Close releases the open file.
func (p *Packer) Close() {
	if p.fh != nil {
		p.fh.Close()
		p.sc, p.fh = nil, nil
	}
}
