package warc

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// maxRescanBack bounds how far back a seekable source is re-read to look for
// the member after a damaged one.
const maxRescanBack = 16 << 20

// verifyLimit is how much of a member is inflated and checked before any
// of it is handed out. Per-record members (CommonCrawl, wget) are far
// smaller, so their damage never reaches the record parser as garbage.
var verifyLimit = 16 << 20

// countReader counts the compressed bytes pulled from the source so member
// offsets can be reported in terms a user can seek to.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// memberError is a damaged gzip member. The record layer uses decompStart to
// decide whether the record it is parsing lies (partly) inside the member.
type memberError struct {
	compOffset  int64 // where the member starts in the compressed input
	decompStart int64 // decompressed offset at which the member's output began
	at          int64 // decompressed offset at which the damage surfaced
	reason      string
	err         error
}

func (e *memberError) Error() string {
	return fmt.Sprintf("gzip member at compressed offset %d: %v", e.compOffset, e.err)
}

func (e *memberError) Unwrap() error { return e.err }

// mark ties a member's compressed start to the decompressed offset where
// its output begins.
type mark struct{ comp, decomp int64 }

// gunzip decompresses a sequence of gzip members one at a time (so that a
// damaged member costs only itself) and presents them as one stream.
type gunzip struct {
	src  *countReader
	seek io.Seeker // non-nil when the source can seek; used to rescan a damaged member
	br   *bufio.Reader
	zr   *gzip.Reader

	inMember  bool
	member    mark  // the member being decoded
	out       int64 // decompressed bytes produced so far
	resyncing bool  // after damage, until a member decodes cleanly
	done      bool
	pending   error // error to return once the data before it was handed out

	hold      []byte // inflated output of the current member, verified unless streaming
	held      int    // how much of hold has been handed out
	streaming bool   // the member is over verifyLimit: output goes out as inflated

	marks []mark // recent member starts, oldest first
}

func newGunzip(src *countReader, seek io.Seeker, br *bufio.Reader) *gunzip {
	return &gunzip{src: src, seek: seek, br: br}
}

func (g *gunzip) compPos() int64 { return g.src.n - int64(g.br.Buffered()) }

// memberAt returns the compressed offset of the member whose output holds
// decompressed offset d, and forgets members that ended before it.
func (g *gunzip) memberAt(d int64) int64 {
	i := len(g.marks) - 1
	for i > 0 && g.marks[i].decomp > d {
		i--
	}
	if i < 0 {
		return -1
	}
	c := g.marks[i].comp
	if i > 0 {
		g.marks = append(g.marks[:0], g.marks[i:]...)
	}
	return c
}

func (g *gunzip) Read(p []byte) (int, error) {
	for {
		if g.held < len(g.hold) {
			n := copy(p, g.hold[g.held:])
			g.held += n
			g.out += int64(n)
			return n, nil
		}
		if g.pending != nil {
			err := g.pending
			g.pending = nil
			return 0, err
		}
		if g.done {
			return 0, io.EOF
		}
		if !g.inMember {
			if err := g.startMember(); err != nil {
				if err == io.EOF {
					g.done = true
					return 0, io.EOF
				}
				if g.resyncing {
					continue // a false start while hunting for the next member
				}
				g.resyncing = true
				return 0, err
			}
			g.hold, g.held, g.streaming = g.hold[:0], 0, false
		}
		if !g.streaming {
			// Inflate the member whole before handing any of it out, so
			// a damaged member (CRC, length) yields an error and no
			// garbage. Only members over verifyLimit (a whole-file
			// gzip) are passed through unverified.
			for len(g.hold) < verifyLimit {
				if len(g.hold) == cap(g.hold) {
					g.hold = append(g.hold, make([]byte, max(32<<10, len(g.hold)))...)[:len(g.hold)]
				}
				n, err := g.zr.Read(g.hold[len(g.hold):cap(g.hold)])
				g.hold = g.hold[:len(g.hold)+n]
				if err == io.EOF {
					g.inMember = false
					g.resyncing = false
					break
				}
				if err != nil {
					me := g.fail(err)
					if me == nil || me.reason != ReasonTruncated {
						// Nothing of a damaged member is trusted; a
						// cut one is good up to the cut.
						g.hold = g.hold[:0]
					}
					if me != nil {
						me.at = g.out + int64(len(g.hold))
						g.pending = me
					}
					break
				}
			}
			if g.inMember && len(g.hold) >= verifyLimit {
				g.streaming = true
			}
			continue
		}
		n, err := g.zr.Read(p)
		g.out += int64(n)
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF:
			g.inMember = false
			g.resyncing = false
			if n > 0 {
				return n, nil
			}
		default:
			me := g.fail(err)
			if me == nil {
				if n > 0 {
					return n, nil
				}
				continue
			}
			if n > 0 {
				g.pending = me
				return n, nil
			}
			return 0, me
		}
	}
}

// fail ends the current member after inflate reported err. It returns the
// error to report, or nil when it is one more false start while already
// resynchronising.
func (g *gunzip) fail(err error) *memberError {
	g.inMember = false
	reason := ReasonCorruptGzip
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// Running into the end of the input is truncation, unless a
		// damaged member sent inflate past members that follow it:
		// then going back finds them.
		reason = ReasonTruncated
		if g.seek != nil {
			g.rescan()
			if head, _ := g.br.Peek(len(gzipMagic)); bytes.Equal(head, gzipMagic) {
				reason = ReasonCorruptGzip
			}
		}
		g.done = reason == ReasonTruncated
	} else {
		g.rescan()
	}
	wasResyncing := g.resyncing
	g.resyncing = true
	if wasResyncing && reason != ReasonTruncated {
		return nil
	}
	return &memberError{compOffset: g.member.comp, decompStart: g.member.decomp, at: g.out + int64(len(g.hold)-g.held), reason: reason, err: err}
}

// startMember opens the next member at the current compressed position.
func (g *gunzip) startMember() error {
	head, err := g.br.Peek(len(gzipMagic))
	if len(head) == 0 && err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return err
	}
	pos := g.compPos()
	if !bytes.HasPrefix(head, gzipMagic) {
		g.rescanFrom(pos + 1)
		return &memberError{compOffset: pos, decompStart: g.out, at: g.out, reason: ReasonCorruptGzip,
			err: fmt.Errorf("expected a gzip member, found %q (data between members, or a damaged member header)", head)}
	}
	g.member = mark{comp: pos, decomp: g.out}
	if g.zr == nil {
		g.zr, err = gzip.NewReader(g.br)
	} else {
		err = g.zr.Reset(g.br)
	}
	if err != nil {
		reason := ReasonCorruptGzip
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			// As in fail: a damaged header (a stray FNAME flag, say)
			// can read on to the end; members after it mean damage.
			reason = ReasonTruncated
			if g.seek != nil {
				g.rescanFrom(pos + 1)
				if head, _ := g.br.Peek(len(gzipMagic)); bytes.Equal(head, gzipMagic) {
					reason = ReasonCorruptGzip
				}
			}
			g.done = reason == ReasonTruncated
		} else {
			g.rescanFrom(pos + 1)
		}
		return &memberError{compOffset: pos, decompStart: g.out, at: g.out, reason: reason, err: err}
	}
	g.zr.Multistream(false)
	g.inMember = true
	if n := len(g.marks); n == 0 || g.marks[n-1].decomp != g.out {
		g.marks = append(g.marks, g.member)
	} else {
		g.marks[n-1] = g.member
	}
	return nil
}

// rescan moves to the next plausible member start after the damaged one.
func (g *gunzip) rescan() { g.rescanFrom(g.member.comp + 1) }

// rescanFrom hunts for the gzip magic from compressed offset from. When the
// source can seek it goes back there, because inflate may have run past the
// next member's start before it noticed the damage; otherwise it searches
// from wherever inflate stopped.
func (g *gunzip) rescanFrom(from int64) {
	// Going back over a huge whole-file member would re-read gigabytes to
	// find nothing; per-record members are small.
	if cur := g.compPos(); g.seek != nil && from < cur && cur-from <= maxRescanBack {
		if _, err := g.seek.Seek(from, io.SeekStart); err == nil {
			g.src.n = from
			g.br.Reset(g.src)
		}
	}
	for {
		if g.br.Buffered() < len(gzipMagic) {
			if _, err := g.br.Peek(len(gzipMagic)); err != nil {
				g.br.Discard(g.br.Buffered())
				return // EOF: startMember will see it
			}
		}
		buf, _ := g.br.Peek(g.br.Buffered())
		if i := bytes.Index(buf, gzipMagic); i >= 0 {
			g.br.Discard(i)
			return
		}
		g.br.Discard(len(buf) - len(gzipMagic) + 1)
	}
}
