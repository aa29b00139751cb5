package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/electra-go/electra/transform/wordpiece"
)

const testVocab = "../../.cache/vocab/bert-base-uncased-vocab.txt"

func readGzLines(t *testing.T, path string, n int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(z)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() && len(lines) < n {
		lines = append(lines, sc.Text())
	}
	return lines
}

// `electra tokenize` on golden lines writes HuggingFace's ids, one line per
// input line, single spaces, in order, whatever the worker count; --special
// wraps them in [CLS] ... [SEP].
func TestTokenizeCommand(t *testing.T) {
	lines := readGzLines(t, "../../transform/wordpiece/testdata/lines.txt.gz", 6000)
	want := readGzLines(t, "../../transform/wordpiece/testdata/ids.txt.gz", 6000)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	// No newline after the last line: it is still a line.
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []string{"1", "3"} {
		out := filepath.Join(dir, "out"+workers+".txt")
		var stdout, stderr bytes.Buffer
		if rc := realMain([]string{"tokenize", "--vocab", testVocab, "--input", in, "--output", out, "--workers", workers}, &stdout, &stderr); rc != 0 {
			t.Fatalf("exit %d: %s", rc, stderr.String())
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != strings.Join(want, "\n")+"\n" {
			gl := strings.Split(string(got), "\n")
			for i := range want {
				if i >= len(gl) || gl[i] != want[i] {
					t.Fatalf("workers=%s: line %d %q:\n got %q\nwant %q", workers, i+1, lines[i], gl[min(i, len(gl)-1)], want[i])
				}
			}
			t.Fatalf("workers=%s: %d output lines for %d input lines", workers, len(gl)-1, len(want))
		}
	}

	tk, err := wordpiece.Load(testVocab)
	if err != nil {
		t.Fatal(err)
	}
	sp := tk.Specials()
	out := filepath.Join(dir, "special.txt")
	var stderr bytes.Buffer
	if rc := realMain([]string{"tokenize", "--vocab", testVocab, "--input", in, "--output", out, "--special"}, &bytes.Buffer{}, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	got, _ := os.ReadFile(out)
	for i, l := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
		w := strings.TrimSpace(strconv.Itoa(int(sp.CLS)) + " " + want[i] + " " + strconv.Itoa(int(sp.SEP)))
		w = strings.Join(strings.Fields(w), " ")
		if l != w {
			t.Fatalf("--special line %d: got %q want %q", i+1, l, w)
		}
	}
}

func TestTokenizeCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rc   int
	}{
		{[]string{"tokenize"}, 2},
		{[]string{"tokenize", "--vocab", testVocab, "--input", "/nonexistent/in.txt"}, 1},
		{[]string{"tokenize", "--vocab", "/nonexistent/vocab.txt"}, 1},
	} {
		var stderr bytes.Buffer
		if rc := realMain(tc.args, &bytes.Buffer{}, &stderr); rc != tc.rc {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, rc, tc.rc, stderr.String())
		}
	}
}

// `electra vocab train` on Moby-Dick writes a vocab.txt of the asked size
// that tokenizes the book with under 1% [UNK].
func TestVocabTrainCommand(t *testing.T) {
	corpus := "../../.cache/corpora/moby-dick"
	out := filepath.Join(t.TempDir(), "vocab.txt")
	var stderr bytes.Buffer
	if rc := realMain([]string{"vocab", "train", "--input", corpus, "--size", "4000", "--out", out}, &bytes.Buffer{}, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	tk, err := wordpiece.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Size() != 4000 || tk.Token(0) != "[PAD]" || tk.Token(tk.Specials().MASK) != "[MASK]" {
		t.Fatalf("trained vocab: size %d, specials %+v", tk.Size(), tk.Specials())
	}
	text, err := os.ReadFile(filepath.Join(corpus, "chapter-001.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids := tk.Encode(nil, string(text))
	unk := 0
	for _, id := range ids {
		if id == tk.Specials().UNK {
			unk++
		}
	}
	if len(ids) < 1000 || float64(unk) >= 0.01*float64(len(ids)) {
		t.Fatalf("%d tokens, %d [UNK]", len(ids), unk)
	}
	if rc := realMain([]string{"vocab"}, &bytes.Buffer{}, &bytes.Buffer{}); rc != 2 {
		t.Errorf("electra vocab without a subcommand: exit %d, want 2", rc)
	}
}
