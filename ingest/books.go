package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

func init() { Register("books", openBook) }

// bookReader reads one plain-text book (optionally gzip or bzip2), drops a
// Project Gutenberg header and footer when present, and yields the body in
// parts of about Options.ChunkBytes cut at paragraph boundaries, so a
// giant file never sits in memory whole.
type bookReader struct {
	counter
	path   string
	opts   Options
	r      io.Reader
	closer io.Closer
}

func openBook(path string, opts Options) (Reader, error) {
	b := &bookReader{path: path, opts: opts}
	r, c, err := openInput(path, &b.counter)
	if err != nil {
		return nil, err
	}
	b.r, b.closer = r, c
	return b, nil
}

func (b *bookReader) Close() error { return b.closer.Close() }

var (
	gutenbergNumber = regexp.MustCompile(`(?i)\[e-?book #(\d+)\]|ebook #(\d+)|^\s*Release date:.*\[.*#(\d+)\]`)
	gutenbergTitle  = regexp.MustCompile(`(?im)^title:\s*(.+?)\s*$`)
)

// isGutenbergStart/End recognise the marker lines, which have varied over
// the years ("*** START OF THIS PROJECT GUTENBERG EBOOK X ***", "***START
// OF THE PROJECT GUTENBERG EBOOK", "*END*THE SMALL PRINT!").
func isGutenbergStart(line string) bool {
	u := strings.ToUpper(line)
	return strings.HasPrefix(strings.TrimSpace(u), "***") && strings.Contains(u, "START OF") && strings.Contains(u, "PROJECT GUTENBERG")
}

func isGutenbergEnd(line string) bool {
	u := strings.ToUpper(strings.TrimSpace(line))
	return (strings.HasPrefix(u, "***") && strings.Contains(u, "END OF") && strings.Contains(u, "PROJECT GUTENBERG")) ||
		strings.HasPrefix(u, "END OF THE PROJECT GUTENBERG") || strings.HasPrefix(u, "END OF PROJECT GUTENBERG")
}

func bookName(path string) string {
	name := filepath.Base(path)
	for _, ext := range []string{".gz", ".bz2", ".txt"} {
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

func (b *bookReader) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		chunk := b.opts.ChunkBytes
		if chunk <= 0 {
			chunk = 1 << 20
		}
		br := bufio.NewReaderSize(b.r, 256<<10)
		head, _ := br.Peek(128 << 10)
		name := bookName(b.path)
		title := ""
		var off int64
		// A Gutenberg header is only trusted when its START line is found
		// early; otherwise the whole file is the book.
		if i := indexLineFunc(head, isGutenbergStart); i >= 0 {
			header := head[:i]
			if m := gutenbergNumber.FindSubmatch(header); m != nil {
				for _, g := range m[1:] {
					if len(g) > 0 {
						name = "gutenberg-" + string(g)
						break
					}
				}
			}
			if m := gutenbergTitle.FindSubmatch(header); m != nil {
				title = string(bytes.ToValidUTF8(m[1], nil))
			}
			nl := bytes.IndexByte(head[i:], '\n')
			skip := len(head)
			if nl >= 0 {
				skip = i + nl + 1
			}
			if _, err := br.Discard(skip); err != nil {
				yield(Record{}, fmt.Errorf("%s: %w", b.path, err))
				return
			}
			off = int64(skip)
		}
		if title == "" {
			title = name
		}
		source := b.opts.source(schemas.SourceBooks)
		part := 0
		var text strings.Builder
		start := off
		repaired := ""
		emit := func() bool {
			if strings.TrimSpace(text.String()) == "" {
				text.Reset()
				return true
			}
			id := source + ":" + name
			if part > 0 {
				id += fmt.Sprintf("#%d", part)
			}
			rec := Record{File: b.path, Offset: start, Repaired: repaired, Doc: schemas.Document{
				ID: id, Source: source, Title: title, Lang: b.opts.lang(), Text: text.String(),
			}}
			part++
			text.Reset()
			repaired = ""
			return yield(rec, nil)
		}
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// An over-long line is still text; take it in pieces.
				err = nil
			}
			if len(line) > 0 {
				if isGutenbergEnd(string(line)) {
					emit()
					return
				}
				if !utf8.Valid(line) {
					line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
					repaired = "invalid-utf8"
				}
				blank := len(bytes.TrimSpace(line)) == 0
				if blank && text.Len() >= chunk {
					if !emit() {
						return
					}
					start = off + int64(len(line))
				} else {
					if text.Len() == 0 {
						start = off
					}
					text.Write(bytes.TrimRight(line, "\r\n"))
					text.WriteByte('\n')
					// A paragraph that never ends (no blank lines) is cut
					// mid-paragraph rather than held whole.
					if text.Len() >= 4*chunk {
						if !emit() {
							return
						}
						start = off + int64(len(line))
					}
				}
				off += int64(len(line))
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					emit()
					yield(Record{}, fmt.Errorf("%s at decompressed offset %d: %w", b.path, off, err))
					return
				}
				emit()
				return
			}
		}
	}
}

// indexLineFunc returns the offset of the first line of b for which f is
// true, or -1.
func indexLineFunc(b []byte, f func(string) bool) int {
	for off := 0; off < len(b); {
		nl := bytes.IndexByte(b[off:], '\n')
		end := len(b)
		if nl >= 0 {
			end = off + nl
		}
		if f(string(b[off:end])) {
			return off
		}
		if nl < 0 {
			return -1
		}
		off = end + 1
	}
	return -1
}
