package ingest

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

// TestWikipediaExport011 checks the hand-made export-0.11 fixture page by
// page: exact text after cleaning and sentence layout.
func TestWikipediaExport011(t *testing.T) {
	recs := readAll(t, "wikipedia", "testdata/export-0.11.xml", Options{})
	skipped, dead := countBy(recs)
	if want := map[string]int{"redirect": 1, "namespace": 1, "content-model": 1}; !maps.Equal(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
	if len(dead) != 0 {
		t.Errorf("dead letters: %v", dead)
	}
	docs := laidOut(t, recs)
	want := map[string]schemas.Document{
		"wikipedia:testwiki:1": {
			ID: "wikipedia:testwiki:1", Source: "wikipedia", Title: "Lighthouse", Lang: "en",
			URL: "http://localhost/index.php/Lighthouse",
			Text: "A lighthouse is a tower, building, or other type of structure designed to emit light.\n" +
				"Mr. Smith of the U.S. Coast Guard kept one, e.g. at Cape Hatteras.\n\n" +
				"Lighthouses mark dangerous coastlines and safe entries to harbours.\n\n" +
				"History\n\n" +
				"The Pharos of Alexandria was built in the 3rd century BC.\n\n" +
				"Types\n\nSea lighthouses\n\nLightvessels",
		},
		"wikipedia:testwiki:4": {
			ID: "wikipedia:testwiki:4", Source: "wikipedia", Title: "Fog signal", Lang: "en",
			URL: "http://localhost/index.php/Fog_signal",
			Text: "A fog signal (or fog horn) warns ships when visibility is poor.\n" +
				"It sounds every 30 seconds – day and night.\n\n" +
				"Early signals used bells, guns & gongs; later ones used compressed air.[1]\n" +
				"The sound carries about 3 km.\n" +
				"Some signals were Paris tested.",
		},
	}
	if !reflect.DeepEqual(docs, want) {
		for id, w := range want {
			if g := docs[id]; g != w {
				t.Errorf("%s:\n got %#v\nwant %#v", id, g, w)
			}
		}
		t.Fatalf("got ids %v", slicesSorted(maps.Keys(docs)))
	}
	for _, d := range docs {
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", d.ID, err)
		}
	}
}

// TestWikipediaRealDump reads the real excerpt (export 0.10, bz2): every
// article, no redirect, and two pages checked by hand against their
// wikitext.
func TestWikipediaRealDump(t *testing.T) {
	recs := readAll(t, "wikipedia", realWikiDump(t), Options{})
	skipped, dead := countBy(recs)
	if want := map[string]int{"redirect": 99, "namespace": 1}; !maps.Equal(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
	if len(dead) != 0 {
		t.Errorf("dead letters: %v", dead)
	}
	// Punkt is slow under the race detector: lay out only the pages
	// checked by hand, and check the cleaning of all the others on the
	// paragraphs the reader yields.
	var hand []Record
	articles := 0
	leftovers := []string{"{{", "[[", "]]", "<ref", "</ref", "{|", "|}", "''", "<!--", "&amp;", "&nbsp;", "[[Category:", "thumb|", "__TOC__"}
	for _, r := range recs {
		if r.Doc.ID == "" {
			continue
		}
		articles++
		if err := r.Doc.Validate(); err != nil {
			t.Errorf("%s: %v", r.Doc.ID, err)
		}
		for _, l := range leftovers {
			if i := strings.Index(r.Doc.Text, l); i >= 0 {
				t.Errorf("%s (%s) still holds %q: …%s…", r.Doc.ID, r.Doc.Title, l, r.Doc.Text[max(0, i-60):min(len(r.Doc.Text), i+60)])
			}
		}
		switch r.Doc.ID {
		case "wikipedia:enwiki:696", "wikipedia:enwiki:742":
			hand = append(hand, r)
		case "wikipedia:enwiki:12":
			// Words from a template-heavy page survive: the lead of "Anarchism".
			if !strings.HasPrefix(r.Doc.Text, "Anarchism is a political philosophy that advocates self-governed societies based on voluntary institutions. These are often described as stateless societies,") {
				t.Errorf("Anarchism lead: %.200q", r.Doc.Text)
			}
		}
	}
	if articles != 106 {
		t.Errorf("%d articles, want 106", articles)
	}
	docs := laidOut(t, hand)
	want := map[string]string{
		"wikipedia:enwiki:696": "Aa is the name of a large number of small European rivers.\nAa originated from an Indo-European word meaning water, and it can be seen in the German Ach or Aach or the North Germanic A or Aa.\n\nAa (river, France), a river in northern France\n\nAa (Meuse), a river in North Brabant, Netherlands\n\nAa of Weerijs, a river in North Brabant, Netherlands which joins the Mark at Breda\n\nDrentsche Aa, a river in Drenthe and Groningen, Netherlands\n\nAabach (Greifensee), or Ustermer Aa, a river in Switzerland\n\nAabach (Afte), formerly called the Gro\u00dfe Aa, a river in Germany\n\nAa (M\u00f6hne), a river in North Rhine-Westphalia, Germany\n\nAa (Nethe), a river in North Rhine-Westphalia, Germany\n\nAa (Werre), a river in North Rhine-Westphalia, Germany\n\nAa, a river in Antwerp, Belgium which joins the Nete River\n\nEngelberger Aa, a river in Obwalden and Nidwalden, Switzerland\n\nGro\u00dfe Aa, a river in Lower Saxony, Germany\n\nM\u00fcnstersche Aa, a river in Germany, one of several Westphalian rivers called Aa\n\nSarner Aa, a river in Obwalden, Switzerland, tributary of Lake Lucerne\n\nMussel Aa, a river in Groningen, Netherlands\n\nPekel Aa, a river in Groningen, Netherlands\n\nRuiten Aa, a river in Groningen, Netherlands\n\nWesterwoldsche Aa, a river in Groningen, Netherlands\n\nAare, one of the largest rivers in Switzerland\n\nFormer names\n\nGauja, a river in Latvia, formerly known as Livl\u00e4ndische Aa\n\nLielupe, a river in Latvia, formerly known as Kurl\u00e4ndische Aa\n\nSee also\n\nAA (disambiguation)",
		"wikipedia:enwiki:742": "Algorithms is a peer-reviewed open access mathematics journal concerning design, analysis, and experiments on algorithms.\nThe journal is published by MDPI and was established in 2008. Its editor-in-chief is Kazuo Iwama (Kyoto University).\n\nAbstracting and indexing\n\nThe journal is abstracted and indexed in Chemical Abstracts Service, Compendex, DBLP Computer Science Bibliography, Inspec, MathSciNet, Scopus, and Zentralblatt MATH.\n\nSee also\n\nAlgorithmica, another journal with similar subject matter",
	}
	for id, w := range want {
		if got := docs[id].Text; got != w {
			t.Errorf("%s (%s):\n got %q\nwant %q", id, docs[id].Title, got, w)
		}
	}
	if d := docs["wikipedia:enwiki:696"]; d.Title != "Aa River" || d.URL != "https://en.wikipedia.org/wiki/Aa_River" || d.Lang != "en" {
		t.Errorf("Aa River metadata: %+v", d)
	}
}

// buildMultistream writes xml (an export) as a multistream dump, the way
// Wikimedia does: a header stream, then one bz2 stream per group of pages
// (compressed with the bzip2 tool), and an index of offset:id:title.
func buildMultistream(t testing.TB, dir string, pagesPerStream int, xml []byte) (dump, index string) {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Fatalf("the bzip2 tool is required (scripts/setup.sh installs it): %v", err)
	}
	// Cut before every pagesPerStream-th <page> line.
	var cuts []int
	n := 0
	for off := 0; ; {
		i := bytes.Index(xml[off:], []byte("  <page>"))
		if i < 0 {
			break
		}
		if n%pagesPerStream == 0 {
			cuts = append(cuts, off+i)
		}
		n++
		off += i + 1
	}
	cuts = append(cuts, len(xml))
	var out, idx bytes.Buffer
	stream := func(part []byte) {
		cmd := exec.Command("bzip2", "-c", "-9")
		cmd.Stdin = bytes.NewReader(part)
		z, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		out.Write(z)
	}
	stream(xml[:cuts[0]])
	for i := 0; i+1 < len(cuts); i++ {
		start := out.Len()
		part := xml[cuts[i]:cuts[i+1]]
		for rest := part; ; {
			j := bytes.Index(rest, []byte("<page>"))
			if j < 0 {
				break
			}
			id, _ := between(rest[j:], "<id>", "</id>")
			title, _ := between(rest[j:], "<title>", "</title>")
			fmt.Fprintf(&idx, "%d:%s:%s\n", start, id, title)
			rest = rest[j+1:]
		}
		stream(part)
	}
	dump = writeFile(t, dir, "enwiki-test-pages-articles-multistream.xml.bz2", out.Bytes())
	index = writeFile(t, dir, "enwiki-test-pages-articles-multistream-index.txt", idx.Bytes())
	return dump, index
}

// TestWikipediaMultistream: the parallel reader yields exactly what the
// serial one does, with the same offsets as the plain XML.
func TestWikipediaMultistream(t *testing.T) {
	dir := t.TempDir()
	// The real excerpt's redirects and 25 shortest articles (the race
	// detector makes the whole excerpt slow to read five times).
	xml := smallRealXML(t, 25)
	dump, index := buildMultistream(t, dir, 10, xml)
	plain := writeFile(t, dir, "plain.xml", xml)
	serial := readAll(t, "wikipedia", plain, Options{})
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			// Workers 1 reads the concatenated streams serially and
			// auto-detects nothing; more workers find the sibling index.
			r, err := Open("wikipedia", dump, Options{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, ok := r.(*multistreamReader); ok != (workers > 1) {
				t.Fatalf("workers=%d: got %T", workers, r)
			}
			got, err := Collect(r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stripFiles(got), stripFiles(serial)) {
				t.Fatalf("multistream read differs from the plain XML read (%d vs %d records)", len(got), len(serial))
			}
			fi, _ := os.Stat(dump)
			if r.BytesRead() != fi.Size() {
				t.Errorf("BytesRead = %d, want the file size %d", r.BytesRead(), fi.Size())
			}
		})
	}
	// An explicit index works without the sibling naming, and a
	// bz2-compressed index (as Wikimedia publishes it) reads the same.
	renamed := filepath.Join(dir, "dump.bz2")
	if err := os.Rename(dump, renamed); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("bzip2", "-k", index).Run(); err != nil {
		t.Fatal(err)
	}
	r, err := Open("wikipedia", renamed, Options{Workers: 2, Index: index + ".bz2"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := Collect(r)
	if err != nil || len(got) != len(serial) {
		t.Fatalf("explicit index: %d records, err %v", len(got), err)
	}
}

func stripFiles(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.File = ""
		if r.Dead != nil {
			d := *r.Dead
			d.SourceFile = ""
			r.Dead = &d
		}
		out[i] = r
	}
	return out
}

// TestWikipediaCorruptStream: damage in one bz2 stream costs that
// stream's pages only (multistream), or ends the file with an error that
// names the offset (serial), keeping every page decoded before it.
func TestWikipediaCorruptStream(t *testing.T) {
	dir := t.TempDir()
	dump, index := buildMultistream(t, dir, 10, smallRealXML(t, 25))
	good := readAll(t, "wikipedia", dump, Options{Workers: 2})
	articles := map[string]bool{}
	for _, r := range good {
		if r.Doc.ID != "" {
			articles[strings.TrimPrefix(r.Doc.ID, "wikipedia:enwiki:")] = true
		}
	}
	// Pick the second stream that holds an article, and damage it.
	idx, _ := os.ReadFile(index)
	byStream := map[int64][]string{}
	var order []int64
	for _, line := range strings.Split(strings.TrimSpace(string(idx)), "\n") {
		var off int64
		var id string
		parts := strings.SplitN(line, ":", 3)
		fmt.Sscan(parts[0], &off)
		id = parts[1]
		if _, ok := byStream[off]; !ok {
			order = append(order, off)
		}
		byStream[off] = append(byStream[off], id)
	}
	var victim int64 = -1
	var lost []string
	seen := 0
	for _, off := range order {
		var a []string
		for _, id := range byStream[off] {
			if articles[id] {
				a = append(a, "wikipedia:enwiki:"+id)
			}
		}
		if len(a) > 0 {
			if seen++; seen == 2 {
				victim, lost = off, a
				break
			}
		}
	}
	data, _ := os.ReadFile(dump)
	for i := victim + 200; i < victim+260; i++ {
		data[i] ^= 0x55
	}
	bad := writeFile(t, dir, "bad-multistream.xml.bz2", data)
	writeFile(t, dir, "bad-multistream-index.txt", idx)

	recs := readAll(t, "wikipedia", bad, Options{Workers: 2})
	_, dead := countBy(recs)
	if dead["corrupt-compression"] != 1 || len(dead) != 1 {
		t.Fatalf("dead letters %v, want one corrupt-compression", dead)
	}
	gotIDs := map[string]bool{}
	for _, r := range recs {
		if r.Doc.ID != "" {
			gotIDs[r.Doc.ID] = true
		}
		if r.Dead != nil && !strings.Contains(r.Dead.Error, fmt.Sprintf("bz2 stream at bytes %d-", victim)) {
			t.Errorf("dead letter does not name the stream at %d: %s", victim, r.Dead.Error)
		}
	}
	var missing []string
	for _, r := range good {
		if r.Doc.ID != "" && !gotIDs[r.Doc.ID] {
			missing = append(missing, r.Doc.ID)
		}
	}
	if !reflect.DeepEqual(missing, lost) {
		t.Errorf("lost %v, want exactly the damaged stream's articles %v", missing, lost)
	}

	r, err := Open("wikipedia", bad, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	var readErr error
	for rec, err := range r.Records() {
		if err != nil {
			readErr = err
			break
		}
		_ = rec
		n++
	}
	if readErr == nil || !strings.Contains(readErr.Error(), "decompressed offset") || !strings.Contains(readErr.Error(), bad) {
		t.Errorf("serial read error = %v, want one naming the file and offset", readErr)
	}
	before := 0
	for _, off := range order {
		if off < victim {
			before += len(byStream[off])
		}
	}
	if n < before {
		t.Errorf("serial read kept %d records before the damage, want at least the %d pages of the streams before it", n, before)
	}
}

// TestWikipediaBadPages: malformed XML in one page, invalid UTF-8, an
// over-cap page, and a dump cut off mid-page.
func TestWikipediaBadPages(t *testing.T) {
	page := func(id, text string) string {
		return "<page><title>T" + id + "</title><ns>0</ns><id>" + id + "</id><revision><model>wikitext</model><text>" + text + "</text></revision></page>\n"
	}
	in := "<mediawiki><siteinfo><dbname>enwiki</dbname></siteinfo>\n" +
		page("1", "First page.") +
		"<page><title>Broken</title><ns>0<id>2</id></page>\n" +
		page("3", "Caf\xe9 au lait.") +
		page("4", strings.Repeat("Long text. ", 200)) +
		page("5", "Last whole page.") +
		"<page><title>Cut</title><ns>0</ns><id>6</id><revision><text>never end"
	path := writeFile(t, t.TempDir(), "bad.xml", []byte(in))
	recs := readAll(t, "wikipedia", path, Options{MaxRecordBytes: 1000})
	var got []string
	for _, r := range recs {
		switch {
		case r.Dead != nil:
			got = append(got, fmt.Sprintf("dead:%s@%d", r.Dead.Reason, r.Dead.Offset))
			if r.Dead.SourceFile != path || r.Dead.Offset != r.Offset || r.Dead.Excerpt == "" {
				t.Errorf("dead letter lacks location or excerpt: %+v", r.Dead)
			}
		default:
			got = append(got, r.Doc.ID+":"+r.Repaired)
		}
	}
	off := func(s string) int { return strings.Index(in, s) }
	want := []string{
		"wikipedia:enwiki:1:",
		fmt.Sprintf("dead:malformed-xml@%d", off("<page><title>Broken")),
		"wikipedia:enwiki:3:invalid-utf8",
		fmt.Sprintf("dead:too-large@%d", off("<page><title>T4")),
		"wikipedia:enwiki:5:",
		fmt.Sprintf("dead:truncated@%d", off("<page><title>Cut")),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records\n got %v\nwant %v", got, want)
	}
	if txt := recs[2].Doc.Text; txt != "Caf\uFFFD au lait." {
		t.Errorf("repaired text = %q", txt)
	}
}

func FuzzWikipediaReader(f *testing.F) {
	f.Add([]byte("<mediawiki><page><title>A</title><ns>0</ns><id>1</id><revision><text>'''A''' is [[b|c]].{{x}}</text></revision></page></mediawiki>"))
	f.Add([]byte("<page><ns>0</ns><id>2</id><redirect title=\"x\"/></page><page>"))
	f.Add([]byte("BZh9"))
	f.Add([]byte("<page><title>\xff</title><ns>0</ns><id>3</id><revision><text>&lt;ref&gt;x&lt;/ref&gt;</text></revision></page>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeFile(t, t.TempDir(), "f.xml", data)
		r, err := Open("wikipedia", path, Options{MaxRecordBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var last int64 = -1
		for rec, err := range r.Records() {
			if err != nil {
				break
			}
			if rec.Offset <= last {
				t.Fatalf("offset %d after %d", rec.Offset, last)
			}
			last = rec.Offset
			if rec.Dead == nil && rec.Skip == "" && (!utf8.ValidString(rec.Doc.Text) || !utf8.ValidString(rec.Doc.Title) || rec.Doc.ID == "") {
				t.Fatalf("bad document %+v", rec.Doc)
			}
		}
	})
}
