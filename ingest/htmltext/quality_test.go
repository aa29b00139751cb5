package htmltext

import (
	"strings"
	"testing"
)

func TestQuality(t *testing.T) {
	prose := func(n int) []string {
		var lines []string
		for i := range n {
			lines = append(lines, "The keeper wrote the weather in the log before midnight, as the rules required of line "+strings.Repeat("i", i%7+1)+".")
		}
		return lines
	}
	q := DefaultQuality()
	cases := []struct {
		name  string
		q     Quality
		lines []string
		want  string
	}{
		{"prose passes", q, prose(4), ""},
		{"too few words", q, []string{"Home", "About us.", "Contact."}, ReasonTooFewWords},
		{"numbers", q, append(prose(1), strings.Repeat("12.5 33.1 41.0 99.9 ", 40)+"."), ReasonLowAlpha},
		{"menu lines", q, append(prose(3), "Home", "News", "Sport", "Weather", "Contact", "Archive", "Search", "Login", "Jobs", "Shop", "Help", "Maps"), ReasonFewPunctLines},
		{"closing quotes count as punctuation", q, []string{strings.Repeat("word ", 50) + `said “the keeper.”`, "He left (at dawn.)"}, ""},
		{"repeated lines", q, append(prose(3), "Share this.", "Share this.", "Share this.", "Share this.", "Share this."), ReasonRepeatedLines},
		{"zero value filters nothing", Quality{}, []string{"Home"}, ""},
		{"single filter", Quality{MaxRepeatedLineFraction: 0.3}, []string{"a", "a", "a"}, ReasonRepeatedLines},
		{"heading-heavy page passes", q, append([]string{"How a Lighthouse Works", "The Fresnel lens"}, prose(3)...), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.Check(tc.lines); got != tc.want {
				t.Errorf("Check = %q, want %q", got, tc.want)
			}
		})
	}
}

// The fixture site's article pages pass the default filters; the stub
// index of a page of links alone would not.
func TestQualityOnFixturePages(t *testing.T) {
	for _, name := range []string{"lighthouse.html", "tides.html", "index.html"} {
		p, err := Extract(site(t, name), "text/html")
		if err != nil {
			t.Fatal(err)
		}
		if r := DefaultQuality().Check(p.Lines); r != "" {
			t.Errorf("%s: %s", name, r)
		}
	}
}
