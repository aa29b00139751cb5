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
	return s
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
		if closing || selfClosing || !dropContent[name] {
			continue
		}
		// Skip to the matching close tag; without one, only the open tag
		// goes (MediaWiki renders an unclosed <ref> as text too).
		if j := indexFold(s, "</"+name); j >= 0 {
			rest := s[j:]
			if k := strings.IndexByte(rest, '>'); k >= 0 {
				s = rest[k+1:]
			}
		}
	}
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
// not swallow the rest of an article.
func stripNested(s string) string {
	if !strings.Contains(s, "{{") && !strings.Contains(s, "{|") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	var stack []byte
	outer := 0 // where the outermost open construct started
	for i := 0; i < len(s); {
		c := s[i]
		if c == '{' && i+1 < len(s) && (s[i+1] == '{' || (s[i+1] == '|' && (len(stack) > 0 || atLineStart(s, i)))) {
			if len(stack) == 0 {
				outer = i
			}
			if s[i+1] == '{' {
				stack = append(stack, 'T')
			} else {
				stack = append(stack, 'B')
			}
			i += 2
			continue
		}
		if len(stack) > 0 && i+1 < len(s) {
			top := stack[len(stack)-1]
			if (top == 'T' && c == '}' && s[i+1] == '}') || (top == 'B' && c == '|' && s[i+1] == '}') {
				stack = stack[:len(stack)-1]
				i += 2
				continue
			}
		}
		if len(stack) == 0 {
			b.WriteByte(c)
		}
		i++
	}
	if len(stack) > 0 {
		b.WriteString(stripNested(s[outer+2:]))
	}
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
// interlanguage links (with their captions).
func replaceLinks(s string) string {
	if !strings.Contains(s, "[[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.Index(s, "[[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		end := matchBrackets(s, i)
		if end < 0 {
			// Unclosed: keep the text, lose the brackets.
			s = s[i+2:]
			continue
		}
		b.WriteString(linkText(s[i+2 : end-2]))
		s = s[end:]
	}
}

// matchBrackets returns the index after the "]]" closing the "[[" at i, or
// -1.
func matchBrackets(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '[' && s[j+1] == '[':
			depth++
			j++
		case s[j] == ']' && s[j+1] == ']':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
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
		if j < 0 || rest[j] == '\n' {
			b.WriteByte('[')
			s = rest
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
