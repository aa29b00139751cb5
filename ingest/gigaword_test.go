package ingest

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

func TestGigaword(t *testing.T) {
	ferry := schemas.Document{
		ID: "gigaword:XIN_ENG_20230101.0001", Source: "gigaword", Lang: "en",
		Title: "Harbour authority opens new ferry terminal",
		Text: "The harbour authority opened a new ferry terminal on Sunday, Mr. Jones said, after three years of work that cost 40 million U.S. dollars.\n\n" +
			"Passenger numbers are expected to rise by 10 percent, e.g. on routes to the islands & the mainland.",
	}
	markets := schemas.Document{
		ID: "gigaword:AFP_ENG_20230101.0003", Source: "gigaword", Lang: "en",
		Title: "Markets rally at year start",
		Text: "Stocks rose sharply on the first trading day of the year.\n" +
			"Analysts called the move \"a relief rally\" after a weak December.\n\n" +
			"Bond yields fell slightly <as expected>.",
	}
	summary := schemas.Document{
		ID: "gigaword:AFP_ENG_20230101.0005", Source: "gigaword", Lang: "en", Title: "News summary",
		Text: "Ferry terminal opens.\nMarkets rally.",
	}
	advis := schemas.Document{
		ID: "gigaword:XIN_ENG_20230101.0002", Source: "gigaword", Lang: "en", Title: "Advisory for editors",
		Text: "Editors: the following stories will move at 0600 GMT.",
	}
	raw, _ := os.ReadFile("testdata/gigaword.sgml")
	gz := writeFile(t, t.TempDir(), "afp_eng_202301.gz", gzipBytes(t, raw))
	for _, tc := range []struct {
		name        string
		file        string
		opts        Options
		want        []schemas.Document
		wantSkipped map[string]int
	}{
		{"stories", "testdata/gigaword.sgml", Options{}, []schemas.Document{ferry, markets}, map[string]int{"gigaword-type": 2}},
		{"gzip", gz, Options{}, []schemas.Document{ferry, markets}, map[string]int{"gigaword-type": 2}},
		{"all types", "testdata/gigaword.sgml", Options{KeepAllTypes: true}, []schemas.Document{ferry, advis, markets, summary}, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := readAll(t, "gigaword", tc.file, tc.opts)
			skipped, dead := countBy(recs)
			if !maps.Equal(skipped, tc.wantSkipped) {
				t.Errorf("skipped %v, want %v", skipped, tc.wantSkipped)
			}
			// The DOC without <TEXT> is a dead letter naming its id and offset.
			if !maps.Equal(dead, map[string]int{"malformed-sgml": 1}) {
				t.Errorf("dead %v", dead)
			}
			for _, r := range recs {
				if r.Dead != nil && (r.Dead.RecordID != "AFP_ENG_20230101.0004" || r.Dead.Offset != int64(strings.Index(string(raw), `<DOC id="AFP_ENG_20230101.0004"`))) {
					t.Errorf("dead letter %+v", r.Dead)
				}
			}
			docs := laidOut(t, recs)
			var got []schemas.Document
			for _, r := range recs {
				if d, ok := docs[r.Doc.ID]; ok {
					got = append(got, d)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestGigawordDamaged(t *testing.T) {
	in := `<DOC id="A.1" type="story"><TEXT><P>Good one.</P></TEXT></DOC>
<DOC id="A.2" type="story"><TEXT><P>Caf` + "\xe9" + ` noir.</P></TEXT></DOC>
<DOC type="story"><TEXT>No id.</TEXT></DOC>
<DOC id="A.4" type="story"><TEXT><P>` + strings.Repeat("Long. ", 500) + `</P></TEXT></DOC>
<DOC id="A.5" type="story"><TEXT><P>After the long one.</P></TEXT></DOC>
<DOC id="A.6" type="story"><TEXT><P>cut off`
	path := writeFile(t, t.TempDir(), "bad.sgml", []byte(in))
	recs := readAll(t, "gigaword", path, Options{MaxRecordBytes: 1024})
	var got []string
	for _, r := range recs {
		if r.Dead != nil {
			got = append(got, fmt.Sprintf("dead:%s@%d", r.Dead.Reason, r.Dead.Offset))
		} else {
			got = append(got, r.Doc.ID+":"+r.Repaired)
		}
	}
	off := func(s string) int { return strings.Index(in, s) }
	want := []string{
		"gigaword:A.1:", "gigaword:A.2:invalid-utf8",
		fmt.Sprintf("dead:no-id@%d", off(`<DOC type="story">`)),
		fmt.Sprintf("dead:too-large@%d", off(`<DOC id="A.4"`)),
		"gigaword:A.5:",
		fmt.Sprintf("dead:truncated@%d", off(`<DOC id="A.6"`)),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func FuzzGigawordReader(f *testing.F) {
	raw, _ := os.ReadFile("testdata/gigaword.sgml")
	f.Add(raw)
	f.Add([]byte(`<DOC id=x type=story><TEXT>a</TEXT></DOC><DOC `))
	f.Add([]byte("<DOC id=\"\xff\"><HEADLINE><TEXT><P></P></DOC>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeFile(t, t.TempDir(), "f.sgml", data)
		r, err := Open("gigaword", path, Options{MaxRecordBytes: 2048, KeepAllTypes: true})
		if err != nil {
			return
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
			if rec.Dead == nil && rec.Skip == "" && (rec.Doc.ID == "" || !utf8.ValidString(rec.Doc.Text) || !utf8.ValidString(rec.Doc.Title)) {
				t.Fatalf("bad document %+v", rec.Doc)
			}
		}
	})
}
