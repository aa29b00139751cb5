package ingest

import (
	"bytes"
	"compress/bzip2"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// benchRead reads every record of path, b.N times, and reports MB/s of
// stored input.
func benchRead(b *testing.B, format, path string, opts Options) {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		r, err := Open(format, path, opts)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range r.Records() {
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}

// BenchmarkReadWikipediaXML: MediaWiki XML parsing and wikitext cleaning
// on one core, without decompression.
func BenchmarkReadWikipediaXML(b *testing.B) {
	benchRead(b, "wikipedia", writeFile(b, b.TempDir(), "plain.xml", realXML(b)), Options{})
}

// BenchmarkReadWikipediaBz2: the same from the .bz2 dump, serially.
func BenchmarkReadWikipediaBz2(b *testing.B) {
	benchRead(b, "wikipedia", realWikiDump(b), Options{})
}

// BenchmarkBz2Decode: decompression alone, serial versus the multistream
// streams decoded in parallel (Workers = GOMAXPROCS).
func BenchmarkBz2Decode(b *testing.B) {
	dir := b.TempDir()
	dump, index := buildMultistream(b, dir, 20, realXML(b))
	data, _ := os.ReadFile(dump)
	b.Run("serial", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			io.Copy(io.Discard, bzip2.NewReader(bytes.NewReader(data)))
		}
	})
	// The C bzip2 tool on the same file, one core: the reference.
	b.Run("bzip2-tool", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := exec.Command("bzip2", "-dc", dump).Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("multistream-parallel", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, err := openMultistream(dump, index, Options{Workers: runtime.GOMAXPROCS(0)})
			if err != nil {
				b.Fatal(err)
			}
			m := r.(*multistreamReader)
			n := len(m.streams) - 1
			done := make(chan struct{}, n)
			sem := make(chan struct{}, m.opts.Workers)
			for i := range n {
				sem <- struct{}{}
				go func() {
					m.decode(i)
					<-sem
					done <- struct{}{}
				}()
			}
			for range n {
				<-done
			}
			r.Close()
		}
	})
}

func BenchmarkReadBooks(b *testing.B) {
	chapters, _ := filepath.Glob(filepath.Join(repoRoot(b), ".cache", "corpora", "moby-dick", "chapter-*.txt"))
	var book bytes.Buffer
	for _, c := range chapters {
		t, _ := os.ReadFile(c)
		book.Write(t)
	}
	benchRead(b, "books", writeFile(b, b.TempDir(), "moby.txt", book.Bytes()), Options{})
}

func BenchmarkReadGigaword(b *testing.B) {
	raw, _ := os.ReadFile("testdata/gigaword.sgml")
	benchRead(b, "gigaword", writeFile(b, b.TempDir(), "g.sgml", bytes.Repeat(raw, 2000)), Options{KeepAllTypes: true})
}

// BenchmarkSplitter: Punkt sentence layout, the costliest step per byte.
func BenchmarkSplitter(b *testing.B) {
	chapters, _ := filepath.Glob(filepath.Join(repoRoot(b), ".cache", "corpora", "moby-dick", "chapter-00*.txt"))
	var text bytes.Buffer
	for _, c := range chapters {
		t, _ := os.ReadFile(c)
		text.Write(t)
	}
	sp, err := NewSplitter()
	if err != nil {
		b.Fatal(err)
	}
	s := text.String()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		sp.Split(s)
	}
}
