package experiment

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Source-classification task: "is this sentence from a book (Moby-Dick,
// label 0) or a speech (a State of the Union address, label 1)?". Built
// from the public-domain corpora scripts/setup.sh places in
// .cache/corpora, it is a real downstream task with a known majority
// baseline, small enough for CPU fine-tuning.

// SourceTask configures WriteSourceTask.
type SourceTask struct {
	Corpora  string  // directory holding moby-dick/ and sotu/ (.cache/corpora)
	Train    int     // training examples
	Dev      int     // dev examples
	BookFrac float64 // share of book sentences, so the majority class is known (0.6)
	Seed     uint64
}

// WriteSourceTask writes dir/train.tsv and dir/dev.tsv (header
// "sentence\tlabel") and returns their paths. Sentences are drawn by
// reservoir sampling while streaming the corpus files, so memory stays
// bounded by the sample, and train and dev never share a sentence.
func WriteSourceTask(dir string, t SourceTask) (train, dev string, err error) {
	if t.BookFrac <= 0 || t.BookFrac >= 1 {
		t.BookFrac = 0.6
	}
	n := t.Train + t.Dev
	nBook := int(float64(n)*t.BookFrac + 0.5)
	book, err := sample(filepath.Join(t.Corpora, "moby-dick"), nBook, t.Seed)
	if err != nil {
		return "", "", err
	}
	speech, err := sample(filepath.Join(t.Corpora, "sotu"), n-nBook, t.Seed+1)
	if err != nil {
		return "", "", err
	}
	type row struct {
		s     string
		label int
	}
	split := func(xs []string, label int, trainShare float64) (tr, dv []row) {
		k := int(float64(len(xs))*trainShare + 0.5)
		for i, x := range xs {
			if i < k {
				tr = append(tr, row{x, label})
			} else {
				dv = append(dv, row{x, label})
			}
		}
		return tr, dv
	}
	share := float64(t.Train) / float64(n)
	btr, bdv := split(book, 0, share)
	str, sdv := split(speech, 1, share)
	rng := rand.New(rand.NewPCG(t.Seed, 99))
	write := func(name string, rows []row) (string, error) {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		path := filepath.Join(dir, name)
		var b strings.Builder
		b.WriteString("sentence\tlabel\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "%s\t%d\n", r.s, r.label)
		}
		return path, os.WriteFile(path, []byte(b.String()), 0o644)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if train, err = write("train.tsv", append(btr, str...)); err != nil {
		return "", "", err
	}
	dev, err = write("dev.tsv", append(bdv, sdv...))
	return train, dev, err
}

// sample draws k sentences uniformly from every .txt file under dir
// (Algorithm R), in a fixed file order so the draw depends only on seed.
func sample(dir string, k int, seed uint64) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("source task: no .txt files in %s (scripts/setup.sh puts the corpora in .cache/corpora)", dir)
	}
	sort.Strings(files)
	rng := rand.New(rand.NewPCG(seed, 7))
	res := make([]string, 0, k)
	seen := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			for _, s := range Sentences(sc.Text()) {
				seen++
				if len(res) < k {
					res = append(res, s)
				} else if j := rng.IntN(seen); j < k {
					res[j] = s
				}
			}
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("source task: %s: %w", f, err)
		}
	}
	if len(res) < k {
		return nil, fmt.Errorf("source task: %s has %d usable sentences, %d wanted", dir, len(res), k)
	}
	return res, nil
}

// Sentences splits a paragraph after '.', '!' or '?' followed by a space
// and an upper-case letter or a quote, and keeps sentences of 6 to 40 words
// (headings and fragments carry no signal). Tabs become spaces (TSV).
func Sentences(p string) []string {
	var out []string
	keep := func(s string) {
		s = strings.Join(strings.Fields(s), " ")
		if n := len(strings.Fields(s)); n >= 6 && n <= 40 {
			out = append(out, s)
		}
	}
	rs := []rune(p)
	start := 0
	for i := 0; i+2 < len(rs); i++ {
		if (rs[i] == '.' || rs[i] == '!' || rs[i] == '?') && rs[i+1] == ' ' && (unicode.IsUpper(rs[i+2]) || rs[i+2] == '"' || rs[i+2] == '\'') {
			keep(string(rs[start : i+1]))
			start = i + 2
		}
	}
	if start < len(rs) {
		keep(string(rs[start:]))
	}
	return out
}
