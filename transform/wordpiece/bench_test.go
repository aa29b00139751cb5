package wordpiece

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchText is Moby-Dick as prepared by setup, one paragraph per text.
func benchText(b *testing.B) []string {
	files, _ := filepath.Glob("../../.cache/corpora/moby-dick/*.txt")
	if len(files) == 0 {
		b.Skip("no corpus: run scripts/setup.sh")
	}
	var paras []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for p := range strings.SplitSeq(string(data), "\n\n") {
			if p = strings.TrimSpace(p); p != "" {
				paras = append(paras, p)
			}
		}
	}
	return paras
}

func BenchmarkEncode(b *testing.B) {
	tk := bertUncased(b)
	paras := benchText(b)
	n := 0
	for _, p := range paras {
		n += len(p)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	dst := make([]int32, 0, 1<<16)
	tokens := 0
	for b.Loop() {
		tokens = 0
		for _, p := range paras {
			dst = tk.Encode(dst[:0], p)
			tokens += len(dst)
		}
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkEncodeGolden(b *testing.B) {
	tk := bertUncased(b)
	lines := gunzipLines(b, "lines.txt.gz")
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	b.SetBytes(int64(n))
	dst := make([]int32, 0, 1<<16)
	for b.Loop() {
		for _, l := range lines {
			dst = tk.Encode(dst[:0], l)
		}
	}
}
