// Package glue reads GLUE-style task files (tab-separated, one example a
// line, single sentences or pairs, class labels or a regression score) and
// computes GLUE's metrics: accuracy, F1, Matthews correlation, Pearson and
// Spearman correlation.
package glue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Example is one labelled line. For classification Label is the class
// index (into Task.Labels); for regression Score holds the target.
type Example struct {
	Line  int // 1-based line in the file
	TextA string
	TextB string // "" for single-sentence tasks
	Label int
	Score float64
}

// Task says where a file keeps its fields. Column indexes are 0-based; -1
// means absent. The GLUE presets (Tasks) fill it for the benchmark's files;
// for your own data, a header naming sentence (or sentence1/sentence2) and
// label columns is enough (see Detect).
type Task struct {
	Name       string
	TextA      int
	TextB      int      // -1 for single-sentence tasks
	Label      int      // the label or score column; negative counts from the end (-1: last)
	Header     bool     // the first line names the columns
	Regression bool     // Score instead of Label
	Labels     []string // class names in index order; nil: learnt from the train file (sorted)
	Metrics    []Metric // reported on dev; the first is the headline
	MinColumns int      // lines with fewer columns are rejected
}

// Tasks are the GLUE tasks' train/dev layouts, as distributed by the
// benchmark (and read by the reference's classification_tasks.py).
var Tasks = map[string]Task{
	"cola":  {Name: "cola", TextA: 3, TextB: -1, Label: 1, Labels: []string{"0", "1"}, Metrics: []Metric{MCC, Accuracy}},
	"sst-2": {Name: "sst-2", TextA: 0, TextB: -1, Label: 1, Header: true, Labels: []string{"0", "1"}, Metrics: []Metric{Accuracy}},
	"mrpc":  {Name: "mrpc", TextA: 3, TextB: 4, Label: 0, Header: true, Labels: []string{"0", "1"}, Metrics: []Metric{F1, Accuracy}},
	"qqp":   {Name: "qqp", TextA: 3, TextB: 4, Label: 5, Header: true, Labels: []string{"0", "1"}, Metrics: []Metric{F1, Accuracy}},
	"sts-b": {Name: "sts-b", TextA: 7, TextB: 8, Label: 9, Header: true, Regression: true, Metrics: []Metric{Pearson, Spearman}},
	"mnli":  {Name: "mnli", TextA: 8, TextB: 9, Label: -1, Header: true, Labels: []string{"contradiction", "entailment", "neutral"}, Metrics: []Metric{Accuracy}},
	"qnli":  {Name: "qnli", TextA: 1, TextB: 2, Label: 3, Header: true, Labels: []string{"entailment", "not_entailment"}, Metrics: []Metric{Accuracy}},
	"rte":   {Name: "rte", TextA: 1, TextB: 2, Label: 3, Header: true, Labels: []string{"entailment", "not_entailment"}, Metrics: []Metric{Accuracy}},
	"wnli":  {Name: "wnli", TextA: 1, TextB: 2, Label: 3, Header: true, Labels: []string{"0", "1"}, Metrics: []Metric{Accuracy}},
}

// Detect builds a Task from a header line naming the columns: sentence or
// sentence1 (and optionally sentence2, or question/question1 ...), and
// label (classification) or score (regression).
func Detect(name, header string) (Task, error) {
	cols := strings.Split(strings.TrimRight(header, "\r\n"), "\t")
	find := func(names ...string) int {
		for _, n := range names {
			for i, c := range cols {
				if strings.EqualFold(strings.TrimSpace(c), n) {
					return i
				}
			}
		}
		return -1
	}
	t := Task{Name: name, Header: true, TextB: find("sentence2", "question2", "text_b")}
	switch {
	case t.TextB >= 0:
		t.TextA = find("sentence1", "question1", "text_a")
	case find("question") >= 0 && find("sentence") >= 0: // QNLI's layout
		t.TextA, t.TextB = find("question"), find("sentence")
	default:
		t.TextA = find("sentence", "text", "text_a")
	}
	if t.TextA < 0 {
		return t, fmt.Errorf("glue: header %q names no text column (want sentence, or sentence1 and sentence2)", header)
	}
	if t.Label = find("label", "gold_label"); t.Label >= 0 {
		t.Metrics = []Metric{Accuracy, F1, MCC}
	} else if t.Label = find("score", "similarity"); t.Label >= 0 {
		t.Regression, t.Metrics = true, []Metric{Pearson, Spearman}
	} else {
		return t, fmt.Errorf("glue: header %q names no label or score column", header)
	}
	return t, nil
}

// LineError is a line that could not be read as an example. Read reports
// it and goes on with the next line.
type LineError struct {
	File   string
	Line   int
	Reason string
	Text   string // the offending line, truncated
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s (line %q)", e.File, e.Line, e.Reason, e.Text)
}

// Read streams the examples of r. A malformed line yields a *LineError and
// reading continues; any other error ends the sequence. labels maps class
// names to indexes; a name not in it is a LineError, so build it from the
// train file first (ScanLabels) when the task does not fix its labels.
func Read(file string, r io.Reader, t Task, labels map[string]int) iter.Seq2[Example, error] {
	return func(yield func(Example, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		line := 0
		for sc.Scan() {
			line++
			text := strings.TrimRight(sc.Text(), "\r")
			if line == 1 && t.Header {
				continue
			}
			if strings.TrimSpace(text) == "" {
				continue
			}
			ex, reason := parseLine(text, t, labels)
			if reason != "" {
				if !yield(Example{}, &LineError{File: file, Line: line, Reason: reason, Text: clip(text)}) {
					return
				}
				continue
			}
			ex.Line = line
			if !yield(ex, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Example{}, fmt.Errorf("glue: %s after line %d: %w", file, line, err))
		}
	}
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func column(cols []string, i int) (string, bool) {
	if i < 0 {
		i += len(cols) // -1 is the last column (MNLI's gold label)
	}
	if i < 0 || i >= len(cols) {
		return "", false
	}
	return cols[i], true
}

func parseLine(text string, t Task, labels map[string]int) (Example, string) {
	cols := strings.Split(text, "\t")
	need := max(t.TextA, t.TextB, t.Label, t.MinColumns-1) + 1
	if len(cols) < need {
		return Example{}, fmt.Sprintf("%d tab-separated columns, need at least %d", len(cols), need)
	}
	var ex Example
	ex.TextA, _ = column(cols, t.TextA)
	if t.TextB >= 0 {
		ex.TextB, _ = column(cols, t.TextB)
	}
	if strings.TrimSpace(ex.TextA) == "" {
		return ex, "empty text"
	}
	raw, ok := column(cols, t.Label)
	if !ok {
		return ex, "no label column"
	}
	raw = strings.TrimSpace(raw)
	if t.Regression {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v != v {
			return ex, fmt.Sprintf("score %q is not a number", raw)
		}
		ex.Score = v
		return ex, ""
	}
	id, ok := labels[raw]
	if !ok {
		return ex, fmt.Sprintf("label %q is not one of %v", raw, keys(labels))
	}
	ex.Label = id
	return ex, ""
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(a, b int) bool { return m[out[a]] < m[out[b]] })
	return out
}

// LabelIndex maps the task's fixed labels to their indexes.
func LabelIndex(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// ScanLabels reads the label column of a train file and returns the
// distinct labels, sorted, for tasks that do not fix theirs. Lines too
// short to have a label are skipped here; Read reports them.
func ScanLabels(path string, t Task) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if line == 1 && t.Header {
			continue
		}
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if v, ok := column(strings.Split(text, "\t"), t.Label); ok && strings.TrimSpace(v) != "" {
			seen[strings.TrimSpace(v)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("glue: %s: %w", path, err)
	}
	if len(seen) < 2 {
		return nil, errors.New("glue: " + path + ": fewer than two distinct labels; is the label column right?")
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
