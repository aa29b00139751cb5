package wordpiece

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The goldens in testdata/ come from HuggingFace's Rust tokenizer through
// scripts/hf/golden.js.

const vocabPath = "../../.cache/vocab/bert-base-uncased-vocab.txt"

var updateUnicode = flag.Bool("update-unicode", false, "rewrite unicode_hf.go from testdata/codepoints.tsv.gz")

func bertUncased(t testing.TB) *Tokenizer {
	t.Helper()
	tk, err := Load(vocabPath)
	if err != nil {
		t.Fatalf("%v (run scripts/setup.sh to fetch the vocab)", err)
	}
	return tk
}

func gunzipLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
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
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return lines
}

func parseIDs(t testing.TB, s string) []int32 {
	t.Helper()
	var ids []int32
	for f := range strings.FieldsSeq(s) {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			t.Fatalf("bad golden id %q: %v", f, err)
		}
		ids = append(ids, int32(v))
	}
	return ids
}

// TestGolden: every golden line encodes to exactly HuggingFace's ids, with
// the fast encoder and with the slow reference.
func TestGolden(t *testing.T) {
	t.Parallel()
	tk := bertUncased(t)
	lines := gunzipLines(t, "lines.txt.gz")
	want := gunzipLines(t, "ids.txt.gz")
	if len(lines) != len(want) || len(lines) < 20000 {
		t.Fatalf("golden corpus: %d lines, %d id lines; want equal and >= 20000", len(lines), len(want))
	}
	var dst []int32
	bad, badRef, tokens := 0, 0, 0
	for i, line := range lines {
		w := parseIDs(t, want[i])
		tokens += len(w)
		dst = tk.Encode(dst[:0], line)
		if !slices.Equal(dst, w) {
			if bad++; bad <= 5 {
				t.Errorf("line %d %q:\n got %v\nwant %v", i+1, line, dst, w)
			}
		}
		if ref := refEncode(tk, line); !slices.Equal(ref, w) {
			if badRef++; badRef <= 5 {
				t.Errorf("reference, line %d %q:\n got %v\nwant %v", i+1, line, ref, w)
			}
		}
	}
	t.Logf("%d lines, %d tokens; %d differ (fast), %d differ (reference)", len(lines), tokens, bad, badRef)
	if bad > 0 || badRef > 0 {
		t.Fatalf("%d/%d lines differ from HuggingFace (reference: %d)", bad, len(lines), badRef)
	}
}

// TestTokenizerJSON: HuggingFace's own tokenizer.json for the same vocab
// loads into a tokenizer that behaves exactly like the vocab.txt one.
func TestTokenizerJSON(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/tokenizer.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(z); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fromVocab := bertUncased(t)
	if fromJSON.Size() != fromVocab.Size() || fromJSON.Specials() != fromVocab.Specials() || fromJSON.SHA256() != fromVocab.SHA256() {
		t.Fatalf("tokenizer.json: size %d specials %+v sha %s; vocab.txt: size %d specials %+v sha %s",
			fromJSON.Size(), fromJSON.Specials(), fromJSON.SHA256(), fromVocab.Size(), fromVocab.Specials(), fromVocab.SHA256())
	}
	lines := gunzipLines(t, "lines.txt.gz")
	want := gunzipLines(t, "ids.txt.gz")
	for i := 0; i < len(lines); i += 7 {
		if got := fromJSON.Encode(nil, lines[i]); !slices.Equal(got, parseIDs(t, want[i])) {
			t.Fatalf("line %d %q: got %v want %s", i+1, lines[i], got, want[i])
		}
	}
}

type cpWant struct {
	norm   string
	pieces int
}

func readCodepoints(t *testing.T) map[rune]cpWant {
	rows := gunzipLines(t, "codepoints.tsv.gz")
	m := make(map[rune]cpWant, len(rows))
	var cp int64
	for _, row := range rows {
		f := strings.Split(row, "\t")
		if len(f) != 3 {
			t.Fatalf("codepoints.tsv: bad row %q", row)
		}
		d, err1 := strconv.ParseInt(f[0], 16, 32)
		p, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("codepoints.tsv: bad row %q", row)
		}
		cp += d
		var rs []rune
		if f[1] != "" {
			for h := range strings.SplitSeq(f[1], ",") {
				v, err := strconv.ParseInt(h, 16, 32)
				if err != nil {
					t.Fatalf("codepoints.tsv: bad row %q", row)
				}
				rs = append(rs, rune(v))
			}
		}
		m[rune(cp)] = cpWant{string(rs), p}
	}
	return m
}

// TestCodePoints: for every code point, our normalization of it alone and
// the pre-tokenizer's cut of "a"+c+"a" are HuggingFace's; and the fast
// encoder agrees with the reference around every code point.
func TestCodePoints(t *testing.T) {
	t.Parallel()
	tk := bertUncased(t)
	want := readCodepoints(t)
	if *updateUnicode {
		writeUnicodeTables(t, tk, want)
		return
	}
	bad := 0
	var dst []int32
	var chunk strings.Builder
	check := func() {
		in := chunk.String()
		chunk.Reset()
		dst = tk.Encode(dst[:0], in)
		if ref := refEncode(tk, in); !slices.Equal(dst, ref) {
			if bad++; bad <= 10 {
				t.Errorf("%+q: encoder %v, reference %v", in, dst, ref)
			}
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		w, ok := want[r]
		if !ok {
			w = cpWant{string(r), 1}
		}
		s := string(r)
		got := cpWant{refNormalize(tk, s), len(refPreTokenize("a" + s + "a"))}
		if got != w {
			if bad++; bad <= 10 {
				t.Errorf("%U: normalized %+q, %d pieces; HuggingFace: %+q, %d pieces", r, got.norm, got.pieces, w.norm, w.pieces)
			}
		}
		// Each character inside a word, after a base letter and before a
		// combining mark, batched so the test stays fast under -race.
		chunk.WriteString(" a" + s + "a c" + s + "\u0301")
		if r%64 == 63 {
			check()
		}
	}
	check()
	if bad > 0 {
		t.Fatalf("%d code points differ", bad)
	}
}

// writeUnicodeTables derives the hf* exception tables: which code points
// HuggingFace classifies differently from Go's Unicode tables.
func writeUnicodeTables(t *testing.T, tk *Tokenizer, want map[rune]cpWant) {
	var other, notOther, punct, notPunct, mn, notMn, noDecomp []rune
	lower := map[rune]rune{}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		w, ok := want[r]
		if !ok {
			w = cpWant{string(r), 1}
		}
		hfPunct := w.pieces == 3
		if hfPunct != goIsPunct(r) && r >= 0x80 {
			if hfPunct {
				punct = append(punct, r)
			} else {
				notPunct = append(notPunct, r)
			}
		}
		d := []rune(norm.NFD.String(string(r)))
		if isCJK(r) || unicode.Is(unicode.White_Space, r) || r < 0x80 {
			continue
		}
		wr := []rune(w.norm)
		goDrop := goIsOther(r)
		switch {
		case w.norm == "" && !goDrop && len(d) == 1 && !goIsMn(r):
			if unicode.In(r, unicode.M) {
				mn = append(mn, r)
			} else {
				other = append(other, r)
			}
		case w.norm != "" && goDrop:
			notOther = append(notOther, r)
		case len(d) == 1 && goIsMn(r) && w.norm != "":
			notMn = append(notMn, r)
			if len(wr) == 1 && wr[0] != unicode.ToLower(r) {
				lower[r] = wr[0]
			}
		case len(d) == 1 && len(wr) == 1 && wr[0] != unicode.ToLower(r) && r != 0x130:
			lower[r] = wr[0]
		case len(d) > 1 && w.norm == string(r):
			noDecomp = append(noDecomp, r)
		}
	}
	var b strings.Builder
	b.WriteString("// Code generated by TestCodePoints -update-unicode from testdata/codepoints.tsv.gz; DO NOT EDIT.\n\npackage wordpiece\n\nimport \"unicode\"\n\nvar (\n")
	for _, tab := range []struct {
		name string
		rs   []rune
	}{{"hfOther", other}, {"hfNotOther", notOther}, {"hfPunct", punct}, {"hfNotPunct", notPunct}, {"hfMn", mn}, {"hfNotMn", notMn}, {"hfNoDecompose", noDecomp}} {
		fmt.Fprintf(&b, "\t%s = %s\n", tab.name, rangeTableSource(tab.rs))
	}
	b.WriteString(")\n\nvar hfLower = map[rune]rune{\n")
	keys := make([]rune, 0, len(lower))
	for k := range lower {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%#x: %#x,\n", k, lower[k])
	}
	b.WriteString("}\n")
	if err := os.WriteFile("unicode_hf.go", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("unicode_hf.go: other %d, notOther %d, punct %d, notPunct %d, mn %d, notMn %d, noDecompose %d, lower %d",
		len(other), len(notOther), len(punct), len(notPunct), len(mn), len(notMn), len(noDecomp), len(lower))
}

func rangeTableSource(rs []rune) string {
	var r16, r32 []string
	for i := 0; i < len(rs); {
		j := i
		for j+1 < len(rs) && rs[j+1] == rs[j]+1 {
			j++
		}
		s := fmt.Sprintf("{%#x, %#x, 1}", rs[i], rs[j])
		if rs[j] <= 0xFFFF {
			r16 = append(r16, s)
		} else {
			r32 = append(r32, s)
		}
		i = j + 1
	}
	var b strings.Builder
	b.WriteString("&unicode.RangeTable{")
	if len(r16) > 0 {
		b.WriteString("\n\t\tR16: []unicode.Range16{" + strings.Join(r16, ", ") + "},")
	}
	if len(r32) > 0 {
		b.WriteString("\n\t\tR32: []unicode.Range32{" + strings.Join(r32, ", ") + "},")
	}
	if len(r16)+len(r32) > 0 {
		b.WriteString("\n\t")
	}
	b.WriteString("}")
	return b.String()
}
