package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveVocab(t *testing.T) {
	vocab, err := os.ReadFile(filepath.Join("..", "..", defaultVocab))
	if err != nil {
		t.Skipf("no vocabulary (run make setup): %v", err)
	}
	// A module cache holding the real vocabulary, and one holding another.
	good, bad := t.TempDir(), t.TempDir()
	for dir, data := range map[string][]byte{good: vocab, bad: []byte("[PAD]\n[UNK]\n")} {
		p := filepath.Join(dir, vocabModule, vocabInModule)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkout := t.TempDir()
	if err := os.MkdirAll(filepath.Join(checkout, filepath.Dir(defaultVocab)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(checkout, defaultVocab), vocab, 0o644); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	for _, tc := range []struct {
		name, flag, cwd, modCache string
		want                      string // "" where an error is expected
	}{
		{"a given path is taken as it is, even missing", "my/vocab.txt", elsewhere, bad, "my/vocab.txt"},
		{"the default in the checkout", defaultVocab, checkout, bad, defaultVocab},
		{"the default from elsewhere, in the module cache", defaultVocab, elsewhere, good, filepath.Join(good, vocabModule, vocabInModule)},
		{"a module-cache copy with another sha256 is refused", defaultVocab, elsewhere, bad, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(tc.cwd)
			t.Setenv("GOMODCACHE", tc.modCache)
			got, err := resolveVocab(tc.flag)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), tc.modCache) {
					t.Fatalf("resolveVocab(%q) = %q, %v; want an error naming where it looked and what to do", tc.flag, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("resolveVocab(%q) = %q, %v; want %q", tc.flag, got, err, tc.want)
			}
		})
	}
}
