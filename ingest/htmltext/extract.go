// Package htmltext turns an HTML page into the plain text a language model
// should learn from: the page decoded to UTF-8 from whatever charset it
// declares, boilerplate elements (scripts, styles, navigation, headers,
// footers, asides, forms) dropped, one line per block element with
// whitespace collapsed and entities decoded; and document-level quality
// filters of the kind used to clean web text for pre-training. Blocks made
// (almost) entirely of link text are dropped too: menus and breadcrumbs on
// pages written before <nav> existed.
package htmltext

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// Page is the text extracted from one HTML document.
type Page struct {
	Title string
	// Lang is the <html lang> attribute as written ("" when absent).
	Lang string
	// Charset is the encoding the page was decoded from ("utf-8",
	// "windows-1252", ...).
	Charset string
	// Lines holds the text of each block element in document order,
	// whitespace collapsed, never empty.
	Lines []string
}

// ErrBinary means the payload is not text at all (an image or archive
// served as text/html, say).
var ErrBinary = errors.New("payload is binary, not text")

// skipped elements never contribute text. nav/header/footer/aside/form are
// the page chrome around the main text; the rest are not prose.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Nav: true, atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Form: true,
	atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true, atom.Embed: true,
	atom.Select: true, atom.Button: true, atom.Textarea: true, atom.Canvas: true,
	atom.Audio: true, atom.Video: true, atom.Map: true, atom.Datalist: true,
}

// blocks start and end a line of text.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Dl: true,
	atom.Dt: true, atom.Dd: true, atom.Table: true, atom.Tr: true, atom.Td: true, atom.Th: true,
	atom.Thead: true, atom.Tbody: true, atom.Tfoot: true, atom.Caption: true,
	atom.Blockquote: true, atom.Pre: true, atom.Section: true, atom.Article: true,
	atom.Main: true, atom.Br: true, atom.Hr: true, atom.Address: true, atom.Figure: true,
	atom.Figcaption: true, atom.Details: true, atom.Summary: true, atom.Center: true,
	atom.Body: true, atom.Html: true, atom.Title: true, atom.Fieldset: true, atom.Legend: true,
	atom.Menu: true, atom.Dialog: true,
}

// Extract decodes body (an HTTP payload whose Content-Type header is
// contentType, possibly "") and extracts its text.
func Extract(body []byte, contentType string) (*Page, error) {
	// Decode first: UTF-16 text is full of NUL bytes until decoded.
	text, name := decode(body, contentType)
	if isBinary(text) {
		return nil, ErrBinary
	}
	p := &Page{Charset: name}
	var (
		z       = html.NewTokenizer(bytes.NewReader(text))
		line    = linePool.Get().(*lineBuilder)
		skip    []atom.Atom // open skipped elements, innermost last
		pre     int
		inTitle bool
		title   lineBuilder
	)
	defer func() { line.take(); linePool.Put(line) }()
	link := 0 // depth of open <a> elements
	flush := func() {
		// A block that is (almost) all link text is a menu, breadcrumb
		// or "read more" on pages that predate <nav>.
		// Lines without a letter or digit ("|", "•") go too.
		alnum, linked := line.alnum, line.linked
		if s := line.take(); alnum > 0 && linked*10 < alnum*9 {
			p.Lines = append(p.Lines, s)
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			flush()
			p.Title = title.take()
			if err := z.Err(); err != io.EOF {
				return p, err
			}
			return p, nil
		case html.TextToken:
			switch {
			case len(skip) > 0:
			case inTitle:
				title.add(z.Text())
			default:
				if pre > 0 {
					// Inside <pre> the author's line breaks are the
					// lines.
					for i, part := range bytes.Split(z.Text(), []byte{'\n'}) {
						if i > 0 {
							flush()
						}
						line.add(part)
					}
					continue
				}
				n := line.alnum
				line.add(z.Text())
				if link > 0 {
					line.linked += line.alnum - n
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if a == atom.Html && hasAttr {
				for {
					k, v, more := z.TagAttr()
					if string(k) == "lang" {
						p.Lang = strings.TrimSpace(string(v))
					}
					if !more {
						break
					}
				}
			}
			if skipped[a] {
				if tt == html.StartTagToken {
					skip = append(skip, a)
				}
				continue
			}
			if len(skip) > 0 {
				continue
			}
			switch a {
			case atom.Title:
				inTitle = tt == html.StartTagToken
				continue
			case atom.Pre:
				if tt == html.StartTagToken {
					pre++
				}
			case atom.A:
				if tt == html.StartTagToken {
					link++
				}
				continue
			case atom.Img, atom.Input, atom.Wbr:
				continue
			}
			if blocks[a] {
				flush()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] {
				// Close the innermost open element of this kind and any
				// unclosed ones inside it.
				for i := len(skip) - 1; i >= 0; i-- {
					if skip[i] == a {
						skip = skip[:i]
						break
					}
				}
				continue
			}
			if len(skip) > 0 {
				continue
			}
			switch a {
			case atom.Title:
				inTitle = false
				continue
			case atom.Pre:
				if pre > 0 {
					pre--
				}
			case atom.A:
				if link > 0 {
					link--
				}
				continue
			}
			if blocks[a] {
				flush()
			}
		}
	}
}

// decode converts body to UTF-8. The charset comes from a BOM, the
// Content-Type, or a <meta> in the first KiB; without any, a body that is
// valid UTF-8 is UTF-8 (charset's guess only looks at the first KiB and
// falls back to windows-1252 when that KiB is plain ASCII).
func decode(body []byte, contentType string) ([]byte, string) {
	enc, name, certain := charset.DetermineEncoding(body, contentType)
	if !certain && name != "utf-8" && utf8.Valid(body) {
		return body, "utf-8"
	}
	if enc == encoding.Nop || name == "utf-8" {
		return body, "utf-8"
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return bytes.ToValidUTF8(body, []byte("\uFFFD")), "utf-8"
	}
	return out, name
}

// isBinary looks at the start of the payload: NUL bytes or many control
// characters mean it is not a text document whatever its headers say.
func isBinary(b []byte) bool {
	if len(b) > 4096 {
		b = b[:4096]
	}
	ctl := 0
	for _, c := range b {
		if c == 0 {
			return true
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			ctl++
		}
	}
	return ctl*10 > len(b)
}

// linePool keeps line buffers between pages: a page's longest paragraph
// sets the size, and growing it afresh for every page showed in profiles.
var linePool = sync.Pool{New: func() any { return new(lineBuilder) }}

// lineBuilder collapses runs of whitespace into one space, drops it at the
// edges, and replaces invalid UTF-8.
type lineBuilder struct {
	b      []byte
	space  bool
	alnum  int // letters and digits in b
	linked int // of which inside links
}

func (l *lineBuilder) add(text []byte) {
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case ' ', '\t', '\n', '\r', '\f', '\v':
				l.space = len(l.b) > 0
				continue
			}
			if c < 0x20 || c == 0x7f {
				continue // stray control characters carry no text
			}
			l.flushSpace()
			l.b = append(l.b, c)
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				l.alnum++
			}
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		i += size
		if unicode.IsSpace(r) {
			l.space = len(l.b) > 0
			continue
		}
		if r == '\u200b' || r == '\ufeff' || r == '\u00ad' {
			continue // zero-width space, BOM, soft hyphen
		}
		l.flushSpace()
		l.b = utf8.AppendRune(l.b, r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			l.alnum++
		}
	}
}

func (l *lineBuilder) flushSpace() {
	if l.space {
		l.b = append(l.b, ' ')
		l.space = false
	}
}

func (l *lineBuilder) take() string {
	s := string(l.b)
	l.b = l.b[:0]
	l.space = false
	l.linked = 0
	l.alnum = 0
	return s
}
