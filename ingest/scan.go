package ingest

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// elementKind says what scanElements found.
type elementKind int

const (
	elemWhole     elementKind = iota // a complete element, open tag to close tag
	elemTooLarge                     // longer than the cap: raw holds its start only
	elemTruncated                    // input ended inside the element: raw holds what there was (capped)
)

// scanElements finds the byte ranges from each occurrence of open to the
// next close in r, without holding more than max bytes of one element in
// memory, and calls fn with each one's absolute offset. raw is only valid
// during the call. Text outside elements is ignored; that is how dumps
// without a single root (Gigaword) and multistream fragments parse alike.
func scanElements(r io.Reader, open, close []byte, max int, fn func(off int64, raw []byte, kind elementKind) bool) error {
	const chunk = 256 << 10
	var (
		buf      = make([]byte, 0, 2*chunk)
		base     int64 // absolute offset of buf[0]
		inside   bool
		skipping bool // inside an over-long element, discarding to its close
		from     int  // where the next search for close starts
		eof      bool
	)
	discard := func(n int) {
		base += int64(n)
		buf = buf[:copy(buf, buf[n:])]
	}
	for {
		if !eof {
			if cap(buf)-len(buf) < chunk {
				nb := make([]byte, len(buf), 2*cap(buf)+chunk)
				copy(nb, buf)
				buf = nb
			}
			n, err := io.ReadAtLeast(r, buf[len(buf):cap(buf)], 1)
			buf = buf[:len(buf)+n]
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					return &readError{offset: base + int64(len(buf)), err: err}
				}
				eof = true
			}
		}
		for {
			if !inside {
				i := bytes.Index(buf, open)
				if i < 0 {
					discard(max0(len(buf) - len(open) + 1))
					break
				}
				discard(i)
				inside, skipping, from = true, false, len(open)
			}
			j := bytes.Index(buf[from:], close)
			if j >= 0 {
				end := from + j + len(close)
				kind := elemWhole
				raw := buf[:end]
				if end > max {
					kind, raw = elemTooLarge, buf[:min(end, 4096)]
				}
				if !skipping && !fn(base, raw, kind) {
					return nil
				}
				discard(end)
				inside = false
				continue
			}
			if !skipping && len(buf) > max {
				if !fn(base, buf[:min(len(buf), 4096)], elemTooLarge) {
					return nil
				}
				skipping = true
			}
			if skipping {
				// Keep just enough to recognise a close tag split across reads;
				// base stays correct because discard advances it.
				keep := len(close) - 1
				if len(buf) > keep {
					discard(len(buf) - keep)
				}
				from = 0
			} else {
				from = max0(len(buf) - len(close) + 1)
			}
			break
		}
		if eof {
			if inside && !skipping && len(buf) > 0 {
				fn(base, buf[:min(len(buf), max)], elemTruncated)
			}
			return nil
		}
	}
}

func max0(n int) int { return max(n, 0) }

// readError is an I/O or decompression failure at a decompressed offset.
type readError struct {
	offset int64
	err    error
}

func (e *readError) Error() string {
	return "reading at decompressed offset " + strconv.FormatInt(e.offset, 10) + ": " + e.err.Error()
}
func (e *readError) Unwrap() error { return e.err }
