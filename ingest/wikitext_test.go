package ingest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWikitextToText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Hello world.", "Hello world."},
		{"bold italic", "A '''bold''' and ''italic'' and '''''both''''' word.", "A bold and italic and both word."},
		{"apostrophe kept", "The keeper's light.", "The keeper's light."},
		{"nested templates", "Before {{a|{{b|{{{c|}}}}}|d}} after.", "Before after."},
		{"unclosed template keeps text", "Start {{broken and the rest.", "Start broken and the rest."},
		{"table", "Text.\n{| class=\"wikitable\"\n|-\n| a || b\n|}\nMore.", "Text.\n\nMore."},
		{"table in template", "X {{box|\n{|\n| cell\n|}\n}} Y", "X Y"},
		{"ref with content", "Fact.<ref name=\"a\">{{cite|x}}</ref> Next.", "Fact. Next."},
		{"self-closing ref", "Fact.<ref name=\"a\" /> Next.", "Fact. Next."},
		{"comment", "A <!-- hidden --> B", "A B"},
		{"unclosed comment", "A <!-- hidden to the end", "A"},
		{"piped link", "a [[Target page|label]] b", "a label b"},
		{"plain link with trail", "two [[apple]]s", "two apples"},
		{"pipe trick", "[[Paris, Texas|]] and [[Mercury (planet)|]]", "Paris and Mercury"},
		{"file link with nested link", "[[File:X.jpg|thumb|A [[cat]] sits.]]Text.", "Text."},
		{"image and category", "[[Image:Y.png]]Body[[Category:Cats]]", "Body"},
		{"interlanguage", "Body.\n[[de:Katze]]\n[[zh-yue:貓]]", "Body."},
		{"colon link shown", "See [[:Category:Cats|cats]].", "See cats."},
		{"external link with text", "See [https://example.org/x the site].", "See the site."},
		{"external link bare", "Refs [http://example.org].", "Refs."},
		{"bracket text kept", "Array [1] and [note].", "Array [1] and [note]."},
		{"heading", "Intro.\n== History ==\nOld text.", "Intro.\n\nHistory\n\nOld text."},
		{"empty section heading dropped", "Intro.\n== References ==\n{{Reflist}}\n== See also ==\n", "Intro."},
		{"parent heading of filled subsection kept", "Intro.\n== A ==\n=== B ===\nText.", "Intro.\n\nA\n\nB\n\nText."},
		{"list items", "* one\n** two\n# three\n: indented", "one\n\ntwo\n\nthree\n\nindented"},
		{"magic words", "__NOTOC__Text __TOC__ here.", "Text here."},
		{"entities", "3&nbsp;km &ndash; A &amp; B &lt;tag&gt;", "3\u00a0km – A & B <tag>"},
		{"escaped tag stays text", "Use &lt;ref&gt; tags.", "Use <ref> tags."},
		{"html tags keep content", "E = mc<sup>2</sup> and <span style=\"x\">styled</span>.", "E = mc2 and styled."},
		{"math dropped", "Area <math>\\pi r^2</math> of a circle.", "Area of a circle."},
		{"less than not a tag", "a < b and c<d", "a < b and c<d"},
		{"empty parens", "Foo ({{IPA|x}}) is a bar.", "Foo is a bar."},
		{"nowiki is literal", "Type <nowiki>{{tl}} and [[x]]</nowiki> here.", "Type {{tl}} and [[x]] here."},
		{"nowiki inside template", "A{{efn|x {{Pre|<nowiki>{|}~</nowiki>}}}} B", "A B"},
		{"malformed close is not a close", "X<ref>a</ref name=\"n\"> b</ref> Y", "X Y"},
		{"horizontal rule", "A\n----\nB", "A\nB"},
		{"soft wrap kept inside paragraph", "line one\nline two", "line one\nline two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WikitextToText(tt.in); got != tt.want {
				t.Errorf("WikitextToText(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzWikitextToText(f *testing.F) {
	for _, s := range []string{
		"{{a|{{b}}}}", "[[a|b]]", "{|\n|x\n|}", "<ref>x</ref>", "<!--", "[[File:x|[[y]]]]",
		"== h ==\ntext", "[http://x y]", "'''''", "&amp;&#x41;", "{{{{", "]]]]", "<ref", "__X__",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := WikitextToText(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("valid input %q gave invalid UTF-8 %q", in, out)
		}
		if strings.Contains(out, "\n\n\n") {
			t.Fatalf("output %q has more than one blank line in a row", out)
		}
		if len(out) > 2*len(in)+16 {
			t.Fatalf("output %d bytes from %d input bytes", len(out), len(in))
		}
	})
}
