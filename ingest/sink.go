package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/electra-go/electra/schemas"
)

// Sink is where documents and dead letters go. Write returns only once
// everything it was given is durable (acknowledged by Kafka, or written
// and fsynced): the pipeline records progress in the resume file after a
// Write returns and never before. This is the ack that makes a killed
// ingest resumable without loss or duplicates.
type Sink interface {
	Write(ctx context.Context, docs []schemas.Document, dead []schemas.DeadLetter) error
	// State describes the sink's current end (topic offsets, file sizes),
	// stored in the resume file with each checkpoint.
	State(ctx context.Context) (json.RawMessage, error)
	// Resume is called once before the first Write. With a nil state it
	// starts fresh; otherwise it brings the sink back to a checkpointed
	// State and returns the ids of documents written after it (by a run
	// that was killed before it could checkpoint), which the new run must
	// not write again.
	Resume(ctx context.Context, state json.RawMessage) (map[string]bool, error)
	Close() error
}

// encodeJSON writes v without HTML escaping (the text is prose; "<"
// should stay "<") and without the trailing newline.
func encodeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1)
	return nil
}

// JSONLSink writes one JSON document per line to a file, and dead letters
// to a sibling file (out.jsonl → out.dlq.jsonl). Path "-" writes documents
// to stdout and dead letters to stderr, without resume.
type JSONLSink struct {
	docPath, dlqPath string
	docs, dlq        *os.File
	dw, lw           *bufio.Writer
	buf              bytes.Buffer
}

// DLQPath is the dead-letter file that goes with a JSON-lines output.
func DLQPath(path string) string {
	return strings.TrimSuffix(path, ".jsonl") + ".dlq.jsonl"
}

// NewJSONLSink writes to path and its dead-letter file. Nothing is opened
// until Resume: a fresh start truncates both, a resume cuts them back to
// the checkpoint.
func NewJSONLSink(path string) *JSONLSink {
	s := &JSONLSink{docPath: path}
	if path == "-" {
		s.dw, s.lw = bufio.NewWriter(os.Stdout), bufio.NewWriter(os.Stderr)
	} else {
		s.dlqPath = DLQPath(path)
	}
	return s
}

type jsonlState struct {
	Docs int64 `json:"docs_bytes"`
	DLQ  int64 `json:"dlq_bytes"`
}

// open opens both files; a size >= 0 truncates the file to that size
// (dropping lines a killed run wrote after its last checkpoint), -1
// truncates to empty.
func (s *JSONLSink) open(docSize, dlqSize int64) error {
	if s.docs != nil {
		s.docs.Close()
		s.dlq.Close()
	}
	var err error
	if s.docs, err = openAt(s.docPath, docSize); err != nil {
		return err
	}
	if s.dlq, err = openAt(s.dlqPath, dlqSize); err != nil {
		s.docs.Close()
		return err
	}
	s.dw, s.lw = bufio.NewWriterSize(s.docs, 1<<20), bufio.NewWriterSize(s.dlq, 64<<10)
	return nil
}

func openAt(path string, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	if size < 0 {
		size = 0
	}
	if fi, err := f.Stat(); err == nil && fi.Size() < size {
		f.Close()
		return nil, fmt.Errorf("jsonl sink: %s is %d bytes but the resume file says %d were written; it was changed outside this ingest, remove the resume file to start over", path, fi.Size(), size)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	return f, nil
}

func (s *JSONLSink) Write(ctx context.Context, docs []schemas.Document, dead []schemas.DeadLetter) error {
	for i := range docs {
		s.buf.Reset()
		if err := encodeJSON(&s.buf, &docs[i]); err != nil {
			return err
		}
		s.buf.WriteByte('\n')
		if _, err := s.dw.Write(s.buf.Bytes()); err != nil {
			return fmt.Errorf("jsonl sink %s: %w", s.docPath, err)
		}
	}
	for i := range dead {
		s.buf.Reset()
		if err := encodeJSON(&s.buf, &dead[i]); err != nil {
			return err
		}
		s.buf.WriteByte('\n')
		if _, err := s.lw.Write(s.buf.Bytes()); err != nil {
			return fmt.Errorf("jsonl sink %s: %w", s.dlqPath, err)
		}
	}
	if err := s.dw.Flush(); err != nil {
		return fmt.Errorf("jsonl sink %s: %w", s.docPath, err)
	}
	if err := s.lw.Flush(); err != nil {
		return fmt.Errorf("jsonl sink %s: %w", s.dlqPath, err)
	}
	if s.docs != nil {
		if err := s.docs.Sync(); err != nil {
			return fmt.Errorf("jsonl sink %s: %w", s.docPath, err)
		}
		if len(dead) > 0 {
			if err := s.dlq.Sync(); err != nil {
				return fmt.Errorf("jsonl sink %s: %w", s.dlqPath, err)
			}
		}
	}
	return nil
}

func (s *JSONLSink) State(context.Context) (json.RawMessage, error) {
	if s.docs == nil {
		return nil, nil
	}
	var st jsonlState
	var err error
	if st.Docs, err = s.docs.Seek(0, io.SeekCurrent); err != nil {
		return nil, err
	}
	if st.DLQ, err = s.dlq.Seek(0, io.SeekCurrent); err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// Resume truncates both files to the checkpointed sizes: whatever a
// killed run wrote after its checkpoint is cut and written again, so no
// id needs skipping.
func (s *JSONLSink) Resume(_ context.Context, state json.RawMessage) (map[string]bool, error) {
	if s.docPath == "-" {
		if state != nil {
			return nil, errors.New("jsonl sink: cannot resume writing to stdout")
		}
		return nil, nil
	}
	var st jsonlState
	if len(state) > 0 {
		if err := json.Unmarshal(state, &st); err != nil {
			return nil, fmt.Errorf("jsonl sink: resume state: %w", err)
		}
	}
	return nil, s.open(st.Docs, st.DLQ)
}

func (s *JSONLSink) Close() error {
	if s.dw == nil {
		return nil
	}
	err := errors.Join(s.dw.Flush(), s.lw.Flush())
	if s.docs != nil {
		err = errors.Join(err, s.docs.Close(), s.dlq.Close())
	}
	return err
}
