package htmltext

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func site(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "warc", "testdata", "site", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The page wget crawls in ingest/warc's fixture, checked by hand: the
// article's blocks in order, the chrome (header, nav, form, aside, footer,
// scripts, styles) gone, entities decoded, whitespace collapsed.
func TestExtractHandCheckedPage(t *testing.T) {
	p, err := Extract(site(t, "lighthouse.html"), "text/html")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"How a Lighthouse Works",
		"A lighthouse is a tower that carries a bright lamp, so that ships can find their way at night. The light is focused by a large lens, which bends the rays into a narrow beam.",
		"Early towers burned wood or coal in an open fire. Later keepers used oil lamps with polished reflectors, and since the twentieth century most lights have been electric.",
		"The Fresnel lens",
		"In 1822 Augustin Fresnel built a lens from many rings of glass. It was thinner & lighter than a solid lens, and it sent the beam more than twenty miles out to sea.",
		"First-order lenses stood taller than a keeper.",
		"Sixth-order lenses fit on a table.",
		"Each light flashes in its own pattern, called its characteristic, so that sailors can tell one tower from another.",
		"A chart lists every pattern along the coast.",
	}
	if got := strings.Join(p.Lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if p.Title != "How a Lighthouse Works — Harbour Notes" || p.Lang != "en" || p.Charset != "utf-8" {
		t.Errorf("title %q lang %q charset %q", p.Title, p.Lang, p.Charset)
	}
}

// tides.html is windows-1252, declared only by <meta http-equiv>; the HTTP
// header (python's http.server) names no charset.
func TestExtractMetaCharset(t *testing.T) {
	p, err := Extract(site(t, "tides.html"), "text/html")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(p.Lines, "\n")
	for _, s := range []string{"“high tide”", "“low tide”", "A café on the quay", "the day’s times"} {
		if !strings.Contains(text, s) {
			t.Errorf("missing %q in:\n%s", s, text)
		}
	}
	if p.Charset != "windows-1252" || p.Lines[0] != "Tides and Harbours" || strings.Contains(text, "Home") {
		t.Errorf("charset %q, lines %q", p.Charset, p.Lines)
	}
}

func TestExtract(t *testing.T) {
	long := strings.Repeat("x", 1100)
	cases := []struct {
		name, ct, html string
		want           []string
		title, charset string
	}{
		{"entities and inline tags", "text/html", `<p>Fish &amp; chips&nbsp;&mdash; <b>hot</b>, <i>cheap</i> &#38; &#x263A;</p>`,
			[]string{"Fish & chips — hot, cheap & ☺"}, "", "utf-8"},
		{"blocks and breaks", "", `<div>one<br>two</div><ul><li>three</li><li>four</li></ul><table><tr><td>five</td><td>six</td></tr></table>`,
			[]string{"one", "two", "three", "four", "five", "six"}, "", "utf-8"},
		{"pre keeps its lines", "", "<pre>line one\n   line   two\n</pre>", []string{"line one", "line two"}, "", "utf-8"},
		{"nested chrome", "", `<nav><div><header>menu</header> more menu</div></nav><p>kept</p>`, []string{"kept"}, "", "utf-8"},
		{"unclosed element inside chrome", "", `<aside><span><form>x</aside><p>kept</p>`, []string{"kept"}, "", "utf-8"},
		{"script with markup inside", "", `<script>var s = "</p><p>not text";</script><p>kept</p>`, []string{"kept"}, "", "utf-8"},
		{"title outside body text", "", `<title> The  Title </title><p>body</p>`, []string{"body"}, "The Title", "utf-8"},
		{"charset from content-type", "text/html; charset=ISO-8859-1", "<p>caf\xe9</p>", []string{"café"}, "", "windows-1252"},
		{"meta charset koi8-r", "", `<meta charset="koi8-r"><p>` + "\xf0\xd2\xc9\xd7\xc5\xd4" + `</p>`, []string{"Привет"}, "", "koi8-r"},
		{"undeclared utf-8 after the first KiB", "", "<!-- " + long + " --><p>naïve</p>", []string{"naïve"}, "", "utf-8"},
		{"undeclared latin-1", "", "<p>na\xefve</p>", []string{"naïve"}, "", "windows-1252"},
		{"utf-16 with BOM", "", "\xff\xfe<\x00p\x00>\x00h\x00i\x00<\x00/\x00p\x00>\x00", []string{"hi"}, "", "utf-16le"},
		{"zero-width and soft hyphen", "", "<p>co\u00adop\u200beration</p>", []string{"cooperation"}, "", "utf-8"},
		{"malformed markup", "", `<p>unclosed <b>bold <p>next</i></div></p>`, []string{"unclosed bold", "next"}, "", "utf-8"},
		{"empty", "", ``, nil, "", "utf-8"},
		{"link-only blocks", "", `<div><a href="/">Home</a> | <a href="/a">About</a></div><p>See <a href="/x">the essay</a> on tides.</p><ul><li><a href="/y">Read more</a></li></ul>`,
			[]string{"See the essay on tides."}, "", "utf-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Extract([]byte(tc.html), tc.ct)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(p.Lines, "|") != strings.Join(tc.want, "|") || p.Title != tc.title || p.Charset != tc.charset {
				t.Errorf("got %q title %q charset %q, want %q title %q charset %q", p.Lines, p.Title, p.Charset, tc.want, tc.title, tc.charset)
			}
		})
	}
}

func TestExtractBinary(t *testing.T) {
	for _, b := range [][]byte{
		site(t, "beam.png"),
		{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03},
		[]byte("\x01\x02\x03\x04\x05\x06<p>mostly control bytes</p>\x07\x08\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"),
	} {
		if _, err := Extract(b, "text/html"); !errors.Is(err, ErrBinary) {
			t.Errorf("%q: err = %v, want ErrBinary", b[:8], err)
		}
	}
}

// FuzzExtract: any bytes give valid UTF-8 lines with no empty line and no
// leading, trailing or doubled spaces.
func FuzzExtract(f *testing.F) {
	for _, name := range []string{"lighthouse.html", "tides.html", "index.html"} {
		f.Add(site(f, name), "text/html")
	}
	f.Add([]byte("<pre>a\n\n b</pre><nav><p>x</nav>"), "text/html; charset=shift_jis")
	f.Add([]byte("\xfe\xff\x00<\x00p"), "")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		p, err := Extract(body, ct)
		if err != nil {
			if errors.Is(err, ErrBinary) {
				return
			}
			t.Fatalf("error on in-memory input: %v", err)
		}
		for _, l := range append([]string{p.Title}, p.Lines...) {
			if !utf8.ValidString(l) || strings.HasPrefix(l, " ") || strings.HasSuffix(l, " ") || strings.Contains(l, "  ") || strings.ContainsAny(l, "\n\r\t") {
				t.Fatalf("bad line %q", l)
			}
		}
		for _, l := range p.Lines {
			if l == "" {
				t.Fatal("empty line")
			}
		}
	})
}
