package warc

import (
	"bytes"
	"errors"
	"io"
)

// stream is the decompressed input with the few operations the record
// parser needs (lines, exact-length reads, lookahead, push-back) and the
// offset of every byte. bufio.Reader cannot push back more than a byte,
// and pushing back a whole record body is how a wrong Content-Length is
// recovered from.
type stream struct {
	src  io.Reader
	buf  []byte
	r, w int
	off  int64 // stream offset of buf[r]
	err  error // sticky error from src (never a *memberError)
}

const streamBuf = 128 << 10

func newStream(src io.Reader) *stream {
	return &stream{src: src, buf: make([]byte, streamBuf)}
}

func (s *stream) buffered() []byte { return s.buf[s.r:s.w] }

func (s *stream) consume(n int) {
	s.r += n
	s.off += int64(n)
}

// fill reads more input after what is buffered. It returns nil when it added
// at least one byte. A *memberError for a damaged member is returned once
// and is not sticky: the bytes buffered before it belong to the damaged
// member and are dropped, since they cannot be trusted and must not glue
// onto the next member's. A cut (truncated) member is sticky like EOF.
func (s *stream) fill() error {
	if s.err != nil {
		return s.err
	}
	if s.r > 0 {
		copy(s.buf, s.buf[s.r:s.w])
		s.w -= s.r
		s.r = 0
	}
	if s.w == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.w])
		s.buf = nb
	}
	for empty := 0; empty < 100; empty++ {
		n, err := s.src.Read(s.buf[s.w:])
		s.w += n
		if err != nil {
			var me *memberError
			if errors.As(err, &me) {
				if me.reason == ReasonTruncated {
					// What inflated before the cut is good; the
					// error stays until the reader has reported it.
					s.err = err
					if n > 0 {
						return nil
					}
					return err
				}
				s.off += int64(s.w - s.r)
				s.r, s.w = 0, 0
				return err
			}
			s.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	s.err = io.ErrNoProgress
	return s.err
}

// peek returns at least n buffered bytes, or fewer with the error that
// stopped it.
func (s *stream) peek(n int) ([]byte, error) {
	for s.w-s.r < n {
		if err := s.fill(); err != nil {
			return s.buffered(), err
		}
	}
	return s.buffered(), nil
}

// line returns the next line including its '\n' (valid until the next
// call). errLineTooLong when no '\n' comes within max bytes; at the end of
// input a last line without '\n' comes back with io.ErrUnexpectedEOF.
func (s *stream) line(max int) ([]byte, error) {
	scanned := 0
	for {
		b := s.buffered()
		if i := bytes.IndexByte(b[scanned:], '\n'); i >= 0 {
			l := b[:scanned+i+1]
			s.consume(len(l))
			return l, nil
		}
		scanned = len(b)
		if scanned >= max {
			return nil, errLineTooLong
		}
		if err := s.fill(); err != nil {
			if err == io.EOF {
				if b := s.buffered(); len(b) > 0 {
					s.consume(len(b))
					return b, io.ErrUnexpectedEOF
				}
			}
			return nil, err
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readFull fills dst, reading straight into it once the buffer is drained
// so large bodies are copied once.
func (s *stream) readFull(dst []byte) (int, error) {
	n := copy(dst, s.buffered())
	s.consume(n)
	for n < len(dst) {
		if s.err != nil {
			return n, s.err
		}
		m, err := s.src.Read(dst[n:])
		n += m
		s.off += int64(m)
		if err != nil {
			var me *memberError
			if !errors.As(err, &me) || me.reason == ReasonTruncated {
				s.err = err
			}
			return n, err
		}
	}
	return n, nil
}

// discard skips n bytes without keeping them.
func (s *stream) discard(n int64) (int64, error) {
	var done int64
	for done < n {
		b := s.buffered()
		if len(b) == 0 {
			if err := s.fill(); err != nil {
				return done, err
			}
			continue
		}
		k := int64(len(b))
		if k > n-done {
			k = n - done
		}
		s.consume(int(k))
		done += k
	}
	return done, nil
}

// unread pushes p back in front of the unread input, as if it had not been
// read; p is copied.
func (s *stream) unread(p []byte) {
	rest := s.buffered()
	nb := make([]byte, max(len(p)+len(rest), streamBuf))
	copy(nb, p)
	copy(nb[len(p):], rest)
	s.buf = nb
	s.r, s.w = 0, len(p)+len(rest)
	s.off -= int64(len(p))
}
