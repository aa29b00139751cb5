package ingest

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitter(t *testing.T) {
	sp, err := NewSplitter()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"abbreviations do not split", "Mr. Smith met the U.S. envoy, e.g. in Paris. He left.",
			"Mr. Smith met the U.S. envoy, e.g. in Paris.\nHe left.", 2},
		{"question and exclamation", "Is it? Yes! It is.", "Is it?\nYes!\nIt is.", 3},
		{"quotes stay with their sentence", `He said "Stop." Then she went.`, "He said \"Stop.\"\nThen she went.", 2},
		{"soft wraps join", "A sentence that is\nwrapped over\nlines.", "A sentence that is wrapped over lines.", 1},
		{"paragraphs", "First para.\n\n\n  \nSecond para. Two.", "First para.\n\nSecond para.\nTwo.", 3},
		{"whitespace and controls", "Tabs\tand\u00a0nbsp \x00and\u200b zero width.", "Tabs and nbsp and zero width.", 1},
		{"empty", " \n\n\t", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := sp.Split(tt.in)
			if got != tt.want || n != tt.n {
				t.Errorf("Split(%q)\n got %q (%d)\nwant %q (%d)", tt.in, got, n, tt.want, tt.n)
			}
		})
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add("Mr. Smith went. He said \"hi.\"\n\nNext.")
	f.Add("a\n \n\tb\u00a0c\x00")
	sp, err := NewSplitter()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, n := sp.Split(in)
		if strings.Contains(out, "\n\n\n") || strings.HasPrefix(out, "\n") || strings.HasSuffix(out, "\n") {
			t.Fatalf("bad layout %q", out)
		}
		lines := 0
		for l := range strings.Lines(out) {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		if lines != n {
			t.Fatalf("%d sentence lines, count says %d", lines, n)
		}
		// No word is lost: the words in and out are the same.
		norm := func(s string) string {
			return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
				return r <= ' ' || r == '\u00a0' || r == '\u200b' || r == '\ufeff' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || r == '\u0085' || r == '\u1680' || (r >= '\u2000' && r <= '\u200a') || r == '\u202f' || r == '\u205f' || r == '\u3000'
			}), "")
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", in)
		}
		if utf8.ValidString(in) && norm(in) != norm(out) {
			t.Fatalf("text changed:\n in %q\nout %q", in, out)
		}
	})
}

func FuzzMultistreamIndex(f *testing.F) {
	f.Add([]byte("597:10:AccessibleComputing\n597:12:Anarchism\n62000:13:AfghanistanHistory\n"))
	f.Add([]byte("x:y\n"))
	f.Add([]byte("-1:2:3\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := writeFile(t, t.TempDir(), "index.txt", data)
		offs, err := readIndexOffsets(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the index: %v", err)
			}
			return
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] == offs[i-1] {
				t.Fatalf("duplicate offset %d", offs[i])
			}
		}
		for _, o := range offs {
			if o < 0 {
				t.Fatalf("negative offset %d", o)
			}
		}
	})
}

func FuzzResumeFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"format":"wikipedia","files":{"a":{"offset":5,"done":true}},"hashes":3}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := writeFile(t, t.TempDir(), "resume.json", data)
		st, err := loadResume(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if st.Version != 1 || st.Files == nil {
			t.Fatalf("accepted %+v", st)
		}
		// What loads saves and loads back the same.
		if err := st.save(p); err != nil {
			t.Fatal(err)
		}
		st2, err := loadResume(p)
		if err != nil || st2.Format != st.Format || len(st2.Files) != len(st.Files) {
			t.Fatalf("round trip: %v", err)
		}
		os.Remove(p)
	})
}
