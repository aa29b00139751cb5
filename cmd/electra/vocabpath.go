package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// defaultVocab is where `make setup` puts the BERT uncased vocabulary,
// relative to the checkout.
const defaultVocab = ".cache/vocab/bert-base-uncased-vocab.txt"

// The vocabulary ships in this Go module (scripts/setup.sh copies it from
// there); its sha256 is the one BERT uncased has everywhere.
const (
	vocabModule    = "github.com/sugarme/tokenizer@v0.3.0"
	vocabInModule  = "pretrained/model/bert-base-uncased-vocab.txt"
	bertVocabSHA   = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
	vocabSetupHint = "run `make setup` in the electra checkout, or give --vocab PATH"
)

// resolveVocab returns the vocabulary file a --vocab flag names. A path
// given by the user is taken as it is. The default is relative to the
// checkout, so a binary run from another directory (bin/electra from a
// data directory, a copy on the PATH) would not find it; it is then looked
// for beside the executable (bin/.. is the checkout) and in the Go module
// cache, where the copy must have BERT uncased's sha256.
func resolveVocab(path string) (string, error) {
	if path != defaultVocab {
		return path, nil
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	var tried []string
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			dir := filepath.Dir(exe)
			for _, p := range []string{filepath.Join(dir, "..", defaultVocab), filepath.Join(dir, defaultVocab)} {
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				tried = append(tried, p)
			}
		}
	}
	if mod := goModCache(); mod != "" {
		p := filepath.Join(mod, vocabModule, vocabInModule)
		if sum, err := fileSHA256(p); err == nil && sum == bertVocabSHA {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("no vocabulary at %s (relative to the working directory) nor at %s: %s",
		defaultVocab, strings.Join(tried, ", "), vocabSetupHint)
}

// goModCache is where `go mod download` puts modules: $GOMODCACHE, else
// the first $GOPATH entry's pkg/mod, else ~/go/pkg/mod (the go command's
// own order).
func goModCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
