package ingest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// resumeState is the resume file: per input file the offset of the last
// record whose output is acknowledged, the sink's end at that moment, and
// how many text hashes (for duplicate detection) belong to it.
type resumeState struct {
	Version int                   `json:"version"`
	Format  string                `json:"format"`
	Files   map[string]*fileState `json:"files"`
	Sink    json.RawMessage       `json:"sink,omitempty"`
	Hashes  int64                 `json:"hashes"`
}

type fileState struct {
	// Offset of the last acknowledged record; records at or before it are
	// skipped on resume. -1: none yet.
	Offset int64 `json:"offset"`
	Done   bool  `json:"done,omitempty"`
}

func loadResume(path string) (*resumeState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st resumeState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("resume file %s is not valid JSON (%v); remove it to start over", path, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("resume file %s has version %d, this build reads 1", path, st.Version)
	}
	if st.Files == nil {
		st.Files = map[string]*fileState{}
	}
	return &st, nil
}

// save replaces the resume file atomically (write, fsync, rename), so a
// kill at any moment leaves either the old or the new checkpoint.
func (st *resumeState) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("writing resume file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing resume file %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing resume file %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing resume file %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// hashLog persists the text hashes of produced documents next to the
// resume file, so duplicate detection survives a restart.
type hashLog struct {
	f *os.File
	n int64
}

func openHashLog(path string, keep int64, seen map[uint64]struct{}) (*hashLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("hash log: %w", err)
	}
	var b [8]byte
	var n int64
	for ; n < keep; n++ {
		if _, err := io.ReadFull(f, b[:]); err != nil {
			f.Close()
			return nil, fmt.Errorf("hash log %s holds fewer than the %d hashes the resume file expects; remove both to start over", path, keep)
		}
		seen[binary.LittleEndian.Uint64(b[:])] = struct{}{}
	}
	if err := f.Truncate(keep * 8); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(keep*8, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &hashLog{f: f, n: keep}, nil
}

func (h *hashLog) append(hs []uint64) error {
	if len(hs) == 0 {
		return nil
	}
	b := make([]byte, 8*len(hs))
	for i, v := range hs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	if _, err := h.f.Write(b); err != nil {
		return fmt.Errorf("hash log: %w", err)
	}
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("hash log: %w", err)
	}
	h.n += int64(len(hs))
	return nil
}

func (h *hashLog) Close() error { return h.f.Close() }
