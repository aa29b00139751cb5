package ingest

import (
	"html"
	"strings"
)

// WikitextToText turns MediaWiki wikitext into plain paragraphs separated by
// blank lines (sentences are split later). It drops what is not prose —
// templates, tables, references, comments, file/image/category and
// interlanguage links, magic words, HTML tags (keeping their text, except
// for tags whose content is markup such as <math> or <gallery>) — keeps
// link labels and external link text, removes bold/italic quotes, puts each
// heading and list item on its own line, drops headings whose section ends
// up empty, and decodes HTML entities last so that an escaped "&lt;ref&gt;"
// in an article stays literal text.
func WikitextToText(src string) string {
	s := stripComments(src)
	s = stripTags(s)
	s = stripNested(s)
	s = replaceLinks(s)
	s = replaceExternalLinks(s)
	s = stripMagicWords(s)
	s = layoutLines(s)
	s = html.UnescapeString(s)
	return unshieldMarkup(s)
}

func stripComments(s string) string {
	if !strings.Contains(s, "<!--") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i+4:], "-->")
		if j < 0 {
			return b.String()
		}
		s = s[i+4+j+3:]
	}
}

// dropContent are tags whose content is markup or data, not prose.
var dropContent = map[string]bool{
	"ref": true, "references": true, "gallery": true, "math": true, "chem": true,
	"timeline": true, "score": true, "syntaxhighlight": true, "source": true,
	"imagemap": true, "graph": true, "mapframe": true, "maplink": true,
	"templatedata": true, "hiero": true, "inputbox": true, "categorytree": true,
	"poem": false, "pre": true, "code": false, "ce": true, "templatestyles": true,
}

// stripTags removes HTML/extension tags: tags in dropContent go with their
// content, others leave their content behind. A '<' that does not start a
// tag stays as text.
func stripTags(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	var noClose map[string]bool
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		name, closing, selfClosing, end := parseTag(s)
		if end < 0 {
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		s = s[end:]
		if name == "br" || name == "p" || name == "div" || name == "li" {
			b.WriteByte('\n')
		}
		if name == "nowiki" && !closing && !selfClosing {
			// Its content is literal text: shield the characters later
			// passes treat as markup.
			j, k := findClose(s, name)
			if j < 0 {
				continue
			}
			b.WriteString(shieldMarkup(s[:j]))
			s = s[k:]
			continue
		}
		if closing || selfClosing || !dropContent[name] {
			continue
		}
		// Skip to the matching close tag; without one, only the open tag
		// goes (MediaWiki renders an unclosed <ref> as text too). A failed
		// search is remembered so that many unclosed tags stay linear.
		if noClose[name] {
			continue
		}
		_, k := findClose(s, name)
		if k < 0 {
			if noClose == nil {
				noClose = map[string]bool{}
			}
			noClose[name] = true
			continue
		}
		s = s[k:]
	}
}

// findClose finds "</name>" (any case, blanks allowed before '>') in s and
// returns where it starts and where it ends, or -1, -1. A malformed
// "</ref name=…>" is not a close tag, as in MediaWiki.
func findClose(s, name string) (start, end int) {
	for off := 0; ; {
		j := indexFold(s[off:], "</"+name)
		if j < 0 {
			return -1, -1
		}
		j += off
		k := j + 2 + len(name)
		for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n') {
			k++
		}
		if k < len(s) && s[k] == '>' {
			return j, k + 1
		}
		off = j + 2
	}
}

// Private-use runes stand in for markup characters inside <nowiki> until
// unshieldMarkup puts them back at the very end.
const shieldBase = '\uE000'

var shielded = "{}[]|'<>=_:*#"

func shieldMarkup(s string) string {
	return strings.Map(func(r rune) rune {
		if i := strings.IndexRune(shielded, r); i >= 0 {
			return shieldBase + rune(i)
		}
		return r
	}, s)
}

func unshieldMarkup(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= shieldBase && r < shieldBase+rune(len(shielded)) }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r >= shieldBase && r < shieldBase+rune(len(shielded)) {
			return rune(shielded[r-shieldBase])
		}
		return r
	}, s)
}

// parseTag recognises "<name attrs>", "</name>", "<name/>" at the start of
// s; end is -1 when s does not start with a tag.
func parseTag(s string) (name string, closing, selfClosing bool, end int) {
	i := 1
	if i < len(s) && s[i] == '/' {
		closing = true
		i++
	}
	start := i
	for i < len(s) && (isASCIILetter(s[i]) || (i > start && (s[i] >= '0' && s[i] <= '9'))) {
		i++
	}
	if i == start || i >= len(s) {
		return "", false, false, -1
	}
	if c := s[i]; c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\n' {
		return "", false, false, -1
	}
	name = strings.ToLower(s[start:i])
	// Attributes may not contain a newline-free '>' inside quotes in
	// practice; a tag longer than 1 KiB is treated as text.
	j := strings.IndexByte(s[i:min(len(s), i+1024)], '>')
	if j < 0 {
		return "", false, false, -1
	}
	end = i + j + 1
	selfClosing = s[end-2] == '/'
	return name, closing, selfClosing, end
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func indexFold(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+n <= len(s) && strings.EqualFold(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}

// stripNested removes templates {{…}} (also {{{…}}} parameters) and tables
// {|…|}, nested in each other to any depth. An opener that is never closed
// is dropped by itself and the text after it kept, so one stray "{{" does
// not swallow the rest of an article. Linear: openers are matched with a
// stack in one pass, then the matched spans are cut in a second.
func stripNested(s string) string {
	if !strings.Contains(s, "{{") && !strings.Contains(s, "{|") {
		return s
	}
	type open struct {
		at   int
		kind byte
	}
	var stack []open
	var spans [][2]int // matched outermost spans, in order
	var lone []int     // unmatched openers (2 bytes each)
	for i := 0; i+1 < len(s); {
		c, d := s[i], s[i+1]
		if c == '{' && (d == '{' || (d == '|' && (len(stack) > 0 || atLineStart(s, i)))) {
			kind := byte('T')
			if d == '|' {
				kind = 'B'
			}
			stack = append(stack, open{i, kind})
			i += 2
			continue
		}
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if (top.kind == 'T' && c == '}' && d == '}') || (top.kind == 'B' && c == '|' && d == '}') {
				stack = stack[:len(stack)-1]
				i += 2
				if len(stack) == 0 {
					spans = append(spans, [2]int{top.at, i})
				}
				continue
			}
		}
		i++
	}
	// Openers left on the stack never closed: each one is dropped alone,
	// and spans matched inside them become outermost spans.
	if len(stack) > 0 {
		spans = spans[:0]
		lone = lone[:0]
		unclosed := map[int]bool{}
		for _, o := range stack {
			unclosed[o.at] = true
			lone = append(lone, o.at)
		}
		var st []open
		for i := 0; i+1 < len(s); {
			c, d := s[i], s[i+1]
			if unclosed[i] {
				i += 2
				continue
			}
			if c == '{' && (d == '{' || (d == '|' && (len(st) > 0 || atLineStart(s, i)))) {
				kind := byte('T')
				if d == '|' {
					kind = 'B'
				}
				st = append(st, open{i, kind})
				i += 2
				continue
			}
			if len(st) > 0 {
				top := st[len(st)-1]
				if (top.kind == 'T' && c == '}' && d == '}') || (top.kind == 'B' && c == '|' && d == '}') {
					st = st[:len(st)-1]
					i += 2
					if len(st) == 0 {
						spans = append(spans, [2]int{top.at, i})
					}
					continue
				}
			}
			i++
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	pos, li := 0, 0
	for _, sp := range spans {
		for li < len(lone) && lone[li] < sp[0] {
			if lone[li] >= pos {
				b.WriteString(s[pos:lone[li]])
				pos = lone[li] + 2
			}
			li++
		}
		if sp[0] >= pos {
			b.WriteString(s[pos:sp[0]])
		}
		pos = max(pos, sp[1])
	}
	for ; li < len(lone); li++ {
		if lone[li] >= pos {
			b.WriteString(s[pos:lone[li]])
			pos = lone[li] + 2
		}
	}
	b.WriteString(s[pos:])
	return b.String()
}

func atLineStart(s string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch s[j] {
		case '\n':
			return true
		case ' ', '\t', ':':
			continue
		default:
			return false
		}
	}
	return true
}

// replaceLinks rewrites internal links [[target|label]] to label and
// [[target]] to target, and drops file, image, media, category and
// interlanguage links (with their captions). Brackets are matched in one
// pass first, so unclosed "[[" cost nothing extra.
func replaceLinks(s string) string {
	if !strings.Contains(s, "[[") {
		return s
	}
	match := map[int]int{} // "[[" index → index after its "]]"
	var stack []int
	for j := 0; j+1 < len(s); j++ {
		switch {
		case s[j] == '[' && s[j+1] == '[':
			stack = append(stack, j)
			j++
		case s[j] == ']' && s[j+1] == ']' && len(stack) > 0:
			match[stack[len(stack)-1]] = j + 2
			stack = stack[:len(stack)-1]
			j++
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '[' || s[i+1] != '[' {
			continue
		}
		b.WriteString(s[pos:i])
		end, ok := match[i]
		if !ok {
			// Unclosed: keep the text, lose the brackets.
			pos = i + 2
			i++
			continue
		}
		b.WriteString(linkText(s[i+2 : end-2]))
		pos = end
		i = end - 1
	}
	b.WriteString(s[pos:])
	return b.String()
}

var dropNamespaces = map[string]bool{"file": true, "image": true, "media": true, "category": true}

func linkText(inner string) string {
	target, label, piped := strings.Cut(inner, "|")
	t := strings.TrimSpace(target)
	if !strings.HasPrefix(t, ":") {
		if ns, _, ok := strings.Cut(t, ":"); ok {
			ns = strings.ToLower(strings.TrimSpace(ns))
			if dropNamespaces[ns] || isLangCode(ns) {
				return ""
			}
		}
	}
	t = strings.TrimPrefix(t, ":")
	if !piped {
		return t
	}
	if strings.TrimSpace(label) == "" {
		// Pipe trick: [[Paris, Texas|]] shows "Paris".
		if k := strings.IndexAny(t, "(,"); k > 0 {
			t = strings.TrimSpace(t[:k])
		}
		if _, after, ok := strings.Cut(t, ":"); ok {
			t = after
		}
		return t
	}
	return replaceLinks(label)
}

func isLangCode(s string) bool {
	base, region, _ := strings.Cut(s, "-")
	if len(base) < 2 || len(base) > 3 {
		return false
	}
	for i := 0; i < len(base); i++ {
		if base[i] < 'a' || base[i] > 'z' {
			return false
		}
	}
	for i := 0; i < len(region); i++ {
		if !isASCIILetter(region[i]) {
			return false
		}
	}
	return true
}

// replaceExternalLinks rewrites [url label] to label and drops bare [url].
func replaceExternalLinks(s string) string {
	if !strings.Contains(s, "[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+1:]
		if !hasURLScheme(rest) {
			b.WriteByte('[')
			s = rest
			continue
		}
		j := strings.IndexAny(rest, "]\n")
		if j < 0 {
			// No later '[' can close either.
			b.WriteString(s[i:])
			return b.String()
		}
		if rest[j] == '\n' {
			// Unclosed on this line: the line stays as it is.
			b.WriteString(s[i : i+1+j])
			s = rest[j:]
			continue
		}
		if _, label, ok := strings.Cut(rest[:j], " "); ok {
			b.WriteString(strings.TrimSpace(label))
		}
		s = rest[j+1:]
	}
}

func hasURLScheme(s string) bool {
	for _, p := range []string{"http://", "https://", "ftp://", "//", "mailto:", "news:", "irc://"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	return false
}

// stripMagicWords removes behaviour switches such as __TOC__, __NOTOC__.
func stripMagicWords(s string) string {
	if !strings.Contains(s, "__") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "__")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 2
		for j < len(s) && s[j] >= 'A' && s[j] <= 'Z' {
			j++
		}
		if j > i+2 && strings.HasPrefix(s[j:], "__") {
			b.WriteString(s[:i])
			s = s[j+2:]
			continue
		}
		b.WriteString(s[:i+2])
		s = s[i+2:]
	}
}

// layoutLines handles line-level markup: headings and list items become
// paragraphs of their own, table/horizontal-rule leftovers go, bold and
// italic quote runs go, and a heading whose section holds no text goes.
func layoutLines(s string) string {
	type item struct {
		text    string
		heading int // level, 0 for text
	}
	var items []item
	var para strings.Builder
	flush := func() {
		if t := strings.TrimSpace(para.String()); t != "" {
			items = append(items, item{text: t})
		}
		para.Reset()
	}
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		trim := strings.TrimSpace(line)
		switch {
		case trim == "":
			flush()
			continue
		case strings.HasPrefix(trim, "----"), strings.HasPrefix(trim, "|"), strings.HasPrefix(trim, "!"):
			continue
		}
		if lvl, title, ok := heading(trim); ok {
			flush()
			if title = cleanInline(title); title != "" {
				items = append(items, item{text: title, heading: lvl})
			}
			continue
		}
		if strings.IndexByte("*#:;", trim[0]) >= 0 {
			flush()
			body := strings.TrimLeft(trim, "*#:;")
			// ";term : definition" keeps both parts.
			if t := cleanInline(body); t != "" {
				items = append(items, item{text: t})
			}
			continue
		}
		if t := cleanInline(line); t != "" {
			if para.Len() > 0 {
				para.WriteByte('\n')
			}
			para.WriteString(t)
		}
	}
	flush()
	var b strings.Builder
	for i, it := range items {
		if it.heading > 0 {
			empty := true
			for _, next := range items[i+1:] {
				if next.heading == 0 {
					empty = false
					break
				}
				if next.heading <= it.heading {
					break
				}
			}
			if empty {
				continue
			}
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(it.text)
	}
	return b.String()
}

func heading(line string) (level int, title string, ok bool) {
	if !strings.HasPrefix(line, "=") {
		return 0, "", false
	}
	l := len(line) - len(strings.TrimLeft(line, "="))
	r := len(line) - len(strings.TrimRight(line, "="))
	if r == 0 || l+r >= len(line) {
		return 0, "", false
	}
	return min(l, r), strings.TrimSpace(line[l : len(line)-r]), true
}

// cleanInline removes bold/italic quote runs and empty parentheses left by
// removed templates, and collapses spaces.
func cleanInline(s string) string {
	if strings.Contains(s, "''") {
		var b strings.Builder
		for i := 0; i < len(s); {
			if s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'' {
				for i < len(s) && s[i] == '\'' {
					i++
				}
				continue
			}
			b.WriteByte(s[i])
			i++
		}
		s = b.String()
	}
	for _, e := range []string{"( )", "()", "(; )", "(, )", "(;)", "(,)"} {
		s = strings.ReplaceAll(s, e, "")
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, " ,", ",")
	s = strings.ReplaceAll(s, " .", ".")
	return s
}
