package warc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
)

// Reasons an *Error gives; short, stable tokens meant for counting and for
// dead-letter records.
const (
	ReasonCorruptGzip    = "corrupt-gzip"            // a gzip member fails to inflate or its CRC/size is wrong
	ReasonTruncated      = "truncated"               // the input ends inside a record or gzip member
	ReasonBadHeader      = "bad-header"              // no WARC/ version line where a record must start, or a malformed header
	ReasonBadLength      = "bad-content-length"      // Content-Length missing, negative or not a number
	ReasonLengthMismatch = "content-length-mismatch" // the record does not end where Content-Length says
	ReasonTooLarge       = "too-large"               // the record is over Reader.MaxRecordBytes
)

// Default limits. A header over MaxHeaderBytes means we are not looking at
// a WARC header at all.
const (
	DefaultMaxRecordBytes = 64 << 20
	MaxHeaderBytes        = 256 << 10
)

// Field is one named header field, in file order.
type Field struct{ Name, Value string }

// Header holds a record's named fields in file order.
type Header []Field

// Get returns the first value of the named field (WARC field names are
// case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Record is one WARC record. Content and Header are only valid until the
// next call to Next: the reader reuses its buffers.
type Record struct {
	Version string // "WARC/1.0", "WARC/1.1", "WARC/0.18", ...
	Header  Header
	// Offset is where the record's version line starts in the
	// decompressed stream (the file offset for plain files).
	Offset int64
	// MemberOffset is the compressed offset of the gzip member holding the
	// record's start (seek there and gunzip to find it); -1 for plain input.
	MemberOffset int64
	// Content is the record block: exactly Content-Length bytes.
	Content []byte
}

// Type is the WARC-Type field ("response", "conversion", ...).
func (r *Record) Type() string { return r.Header.Get("WARC-Type") }

// ID is the WARC-Record-ID field, angle brackets included as written.
func (r *Record) ID() string { return r.Header.Get("WARC-Record-ID") }

// TargetURI is WARC-Target-URI without the angle brackets some writers
// (wget, WARC/1.0's own grammar) put around it.
func (r *Record) TargetURI() string { return TrimURI(r.Header.Get("WARC-Target-URI")) }

// TrimURI removes surrounding whitespace and one pair of angle brackets.
func TrimURI(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// Error is damage to one record or one stretch of input. Reading can go on
// after it: Next resumes at the next record it can find.
type Error struct {
	Reason string
	// Offset is where the damaged record (or stretch) starts in the
	// decompressed stream; MemberOffset the compressed offset of its gzip
	// member, -1 for plain input or when unknown.
	Offset       int64
	MemberOffset int64
	// Header is what could be read of the record's header (may be nil).
	Header Header
	// Excerpt is the start of the raw record, at most 1 KiB.
	Excerpt []byte
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "warc record at offset %d", e.Offset)
	if e.MemberOffset >= 0 {
		fmt.Fprintf(&b, " (gzip member at byte %d)", e.MemberOffset)
	}
	if id := e.Header.Get("WARC-TREC-ID"); id != "" {
		fmt.Fprintf(&b, " %s", id)
	} else if id := e.Header.Get("WARC-Record-ID"); id != "" {
		fmt.Fprintf(&b, " %s", id)
	}
	fmt.Fprintf(&b, ": %s: %v", e.Reason, e.Err)
	switch e.Reason {
	case ReasonCorruptGzip, ReasonTruncated:
		b.WriteString("; the file is damaged or incomplete: download it again (the records that could be read were kept)")
	case ReasonTooLarge:
		b.WriteString("; raise the record size limit if such records are wanted")
	default:
		b.WriteString("; the record was skipped and reading resumed at the next WARC/ version line")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Reader reads records from a WARC stream. Create it with NewReader; set
// MaxRecordBytes before the first Next to change the limit.
type Reader struct {
	// MaxRecordBytes caps one record's block (default
	// DefaultMaxRecordBytes). Larger records are skipped and reported
	// with ReasonTooLarge.
	MaxRecordBytes int64

	in      io.Reader
	gz      *gunzip // nil for plain input
	s       *stream
	started bool

	resync   bool   // looking for the next "WARC/" line
	midLine  bool   // the resync starts inside a line
	fatal    error  // sticky: the source itself failed
	deferred *Error // damage found just after a good record, reported next

	rec     Record
	content []byte
	raw     []byte // raw header bytes of the current record, for excerpts
}

// NewReader reads WARC records from r, which may be plain or gzip (detected
// from the first bytes). If r is also an io.Seeker, a damaged gzip member is
// rescanned from its start so the member right after it is not missed.
func NewReader(r io.Reader) *Reader {
	return &Reader{in: r, MaxRecordBytes: DefaultMaxRecordBytes}
}

// Compressed reports whether the input is gzip. It is valid after the first
// call to Next.
func (r *Reader) Compressed() bool { return r.gz != nil }

// Position is the decompressed offset up to which input has been consumed.
func (r *Reader) Position() int64 {
	if r.s == nil {
		return 0
	}
	return r.s.off
}

// CompressedPosition is how many bytes of the raw input have been read
// (the file offset for progress reporting).
func (r *Reader) CompressedPosition() int64 {
	if r.gz != nil {
		return r.gz.compPos()
	}
	return r.Position()
}

func (r *Reader) start() {
	r.started = true
	cr := &countReader{r: r.in}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, _ := br.Peek(2)
	compressed := len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b
	if !compressed {
		// A gzip file whose first member's header is damaged must not
		// be read as plain text: no "WARC/" near the start but gzip
		// members there means gzip with damage up front.
		b, _ := br.Peek(64 << 10)
		compressed = !bytes.Contains(b, []byte("WARC/")) && bytes.Contains(b, gzipMagic)
	}
	if compressed {
		seek, _ := r.in.(io.Seeker)
		if seek != nil {
			// Offsets below are counted from where r was when handed to
			// us; rescans seek to absolute positions, so only trust
			// seeking when that is the start.
			if pos, err := seek.Seek(0, io.SeekCurrent); err != nil || pos != cr.n {
				seek = nil
			}
		}
		r.gz = newGunzip(cr, seek, br)
		r.s = newStream(r.gz)
		return
	}
	r.s = newStream(br)
}

func (r *Reader) memberAt(off int64) int64 {
	if r.gz == nil {
		return -1
	}
	return r.gz.memberAt(off)
}

// All iterates the records; damaged ones come as *Error and iteration goes
// on. It stops after the end of input or an error from the source itself.
// The record is only valid until the loop body returns.
func (r *Reader) All() iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(rec, err) {
				return
			}
			var we *Error
			if err != nil && !errors.As(err, &we) {
				return
			}
		}
	}
}

// Next returns the next record, an *Error for a damaged one (call Next
// again to go on), io.EOF at the end, or another error if the source
// failed (sticky).
func (r *Reader) Next() (*Record, error) {
	if r.fatal != nil {
		return nil, r.fatal
	}
	if !r.started {
		r.start()
	}
	if e := r.deferred; e != nil {
		r.deferred = nil
		return nil, e
	}
	if r.resync {
		if err := r.skipToVersionLine(); err != nil {
			return nil, r.failed(err, r.s.off, nil)
		}
		r.resync = false
	}
	return r.record()
}

// failed turns an error from the stream into what Next returns: io.EOF
// stays, damage becomes an *Error (and a resync), anything else is fatal.
func (r *Reader) failed(err error, off int64, h Header) error {
	if err == io.EOF {
		return io.EOF
	}
	var me *memberError
	if errors.As(err, &me) {
		if me.reason == ReasonTruncated {
			// Report the cut once; nothing after it can be read.
			r.s.err = io.EOF
			r.s.consume(len(r.s.buffered()))
		} else {
			r.resync = true
		}
		return r.damaged(me.reason, min(off, me.at), me.compOffset, h, me.err)
	}
	if err == io.ErrUnexpectedEOF {
		return r.damaged(ReasonTruncated, off, r.memberAt(off), h, errors.New("input ends inside the record"))
	}
	r.fatal = fmt.Errorf("reading warc input at offset %d: %w", off, err)
	return r.fatal
}

// damaged builds an *Error that owns its data (the reader's buffers are
// reused by the next record).
func (r *Reader) damaged(reason string, off, member int64, h Header, err error) *Error {
	return &Error{Reason: reason, Offset: off, MemberOffset: member, Header: slices.Clone(h),
		Excerpt: bytes.Clone(r.raw[:min(len(r.raw), 1024)]), Err: err}
}

// record parses one record at the current position.
func (r *Reader) record() (*Record, error) {
	s := r.s
	r.raw = r.raw[:0]
	// Blank lines between records are tolerated wherever they are.
	for {
		b, err := s.peek(1)
		if len(b) == 0 {
			return nil, r.failed(err, s.off, nil)
		}
		i := 0
		for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
			i++
		}
		s.consume(i)
		if i < len(b) {
			break
		}
	}
	start := s.off
	member := r.memberAt(start)
	line, err := s.line(MaxHeaderBytes)
	r.raw = append(r.raw, line...)
	if err != nil {
		if err == errLineTooLong {
			// Skip what was looked at, or the resync would find the
			// same "WARC/" at the same place forever.
			s.consume(len(s.buffered()))
			r.resync, r.midLine = true, true
			return nil, r.damaged(ReasonBadHeader, start, member, nil, errors.New("no line break within the header size limit where a WARC/ version line should be"))
		}
		return nil, r.failed(err, start, nil)
	}
	version := string(bytes.TrimSpace(line))
	if !isVersion(version) {
		r.resync = true
		return nil, r.damaged(ReasonBadHeader, start, member, nil, fmt.Errorf("expected a WARC/<version> line, found %q", truncate(version, 80)))
	}
	h := r.rec.Header[:0]
	for {
		line, err := s.line(MaxHeaderBytes)
		r.raw = append(r.raw, line...)
		if err == nil && len(r.raw) > MaxHeaderBytes {
			err = errLineTooLong
		}
		if err != nil {
			if err == errLineTooLong {
				r.resync = true
				return nil, r.damaged(ReasonBadHeader, start, member, h, fmt.Errorf("header longer than %d bytes", MaxHeaderBytes))
			}
			return nil, r.failed(err, start, h)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				r.resync = true
				return nil, r.damaged(ReasonBadHeader, start, member, nil, errors.New("header starts with a continuation line"))
			}
			h[len(h)-1].Value += " " + string(bytes.TrimSpace(line))
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			r.resync = true
			return nil, r.damaged(ReasonBadHeader, start, member, h, fmt.Errorf("header line without a name and colon: %q", truncate(string(line), 80)))
		}
		h = append(h, Field{Name: string(bytes.TrimSpace(line[:colon])), Value: string(bytes.TrimSpace(line[colon+1:]))})
	}
	r.rec.Header = h
	cl := h.Get("Content-Length")
	n, perr := strconv.ParseInt(cl, 10, 64)
	if perr != nil || n < 0 {
		r.resync = true
		return nil, r.damaged(ReasonBadLength, start, member, h, fmt.Errorf("Content-Length %q is not a byte count", cl))
	}
	if n > r.MaxRecordBytes {
		if _, err := s.discard(n); err != nil {
			return nil, r.failed(err, start, h)
		}
		if ok, err := r.trailer(start, s.off); !ok {
			r.resync = err == nil
			if err != nil {
				return nil, r.failed(err, start, h)
			}
		}
		return nil, r.damaged(ReasonTooLarge, start, member, h, fmt.Errorf("record block is %d bytes, the limit is %d", n, r.MaxRecordBytes))
	}
	if int64(cap(r.content)) < n {
		r.content = make([]byte, n)
	}
	content := r.content[:n]
	contentStart := s.off
	got, err := s.readFull(content)
	if err != nil {
		var me *memberError
		if errors.As(err, &me) {
			return nil, r.failed(err, start, h)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			// Perhaps Content-Length overstates and the next records lie
			// inside what was read: look for them there.
			s.unread(content[:got])
			r.resync = true
			return nil, r.damaged(ReasonTruncated, start, member, h, fmt.Errorf("Content-Length says %d bytes, the input ends after %d", n, got))
		}
		return nil, r.failed(err, start, h)
	}
	ok, err := r.trailer(start, contentStart+n)
	if err != nil {
		return nil, r.failed(err, start, h)
	}
	if !ok {
		s.unread(content)
		r.resync = true
		return nil, r.damaged(ReasonLengthMismatch, start, member, h, fmt.Errorf("no record boundary after the %d bytes Content-Length announces", n))
	}
	r.rec.Version = version
	r.rec.Offset = start
	r.rec.MemberOffset = member
	r.rec.Content = content
	return &r.rec, nil
}

// trailer checks that the record ends where its Content-Length says: only
// line breaks, then another record or the end of input. Damage to a gzip
// member that begins after the record does not spoil it; it is reported on
// the next call.
func (r *Reader) trailer(start, end int64) (bool, error) {
	s := r.s
	const window = 64
	b, err := s.peek(window)
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i == window {
		return true, nil
	}
	if i+5 > len(b) && err == nil {
		b, err = s.peek(i + 5)
	}
	if err != nil && i+5 > len(b) {
		var me *memberError
		if errors.As(err, &me) {
			if me.decompStart >= end {
				// The damage (or cut) is in a later member: this
				// record is whole. A cut stays sticky in the stream
				// and is reported at the next record.
				if me.reason != ReasonTruncated {
					r.resync = true
					r.deferred = &Error{Reason: me.reason, Offset: me.at, MemberOffset: me.compOffset, Err: me.err}
				}
				return true, nil
			}
			return false, err
		}
		if err == io.EOF {
			return i == len(b), nil
		}
		return false, err
	}
	return bytes.HasPrefix(b[i:], []byte("WARC/")), nil
}

// skipToVersionLine discards input up to the next line that starts with
// "WARC/<digit>". The current position counts as a line start unless
// midLine says otherwise.
func (r *Reader) skipToVersionLine() error {
	s := r.s
	lineStart := !r.midLine
	r.midLine = false
	for {
		if lineStart {
			b, err := s.peek(6)
			if len(b) >= 6 && bytes.HasPrefix(b, []byte("WARC/")) && b[5] >= '0' && b[5] <= '9' {
				return nil
			}
			if err != nil && len(b) < 6 {
				if err == io.EOF {
					s.consume(len(b))
				}
				return err
			}
		}
		b := s.buffered()
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			s.consume(i + 1)
			lineStart = true
			continue
		}
		s.consume(len(b))
		lineStart = false
		if err := s.fill(); err != nil {
			return err
		}
	}
}

func isVersion(v string) bool {
	return len(v) > 5 && strings.HasPrefix(v, "WARC/") && v[5] >= '0' && v[5] <= '9'
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
