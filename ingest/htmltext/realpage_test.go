package htmltext

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A real web page: golang.org's "Go 1 Release Notes" as saved in
// golang.org/x/net's own test data (in the module cache, since x/net is
// a dependency). Old-style chrome: the menu lives in a <form>, the footer
// is a <div id="footer"> of links, code sits in <pre>.
func TestExtractRealPage(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/net").Output()
	if err != nil {
		t.Fatalf("locating golang.org/x/net in the module cache: %v", err)
	}
	body, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "html", "testdata", "go1.html"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Extract(body, "text/html")
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Go 1 Release Notes - The Go Programming Language" || p.Charset != "utf-8" {
		t.Errorf("title %q charset %q", p.Title, p.Charset)
	}
	wantStart := []string{
		"Go 1 Release Notes",
		"Introduction to Go 1",
		"Go version 1, Go 1 for short, defines a language and a set of core libraries that provide a stable foundation for creating reliable products, projects, and publications.",
	}
	if len(p.Lines) < 100 || !slices.Equal(p.Lines[:3], wantStart) {
		t.Fatalf("%d lines, starting %q", len(p.Lines), p.Lines[:min(5, len(p.Lines))])
	}
	for _, want := range []string{
		"greeting := []byte{}",
		`greeting = append(greeting, []byte("hello ")...)`,
		"Close",
		"Updating: This is a new feature, so existing code needs no changes.",
	} {
		if !slices.Contains(p.Lines, want) {
			t.Errorf("missing line %q", want)
		}
	}
	text := strings.Join(p.Lines, "\n")
	for _, gone := range []string{"Documents", "The Go Programming Language", "_gaq", "Terms of Service", "google-analytics"} {
		if strings.Contains(text, gone) {
			t.Errorf("chrome or script text %q kept", gone)
		}
	}
	if r := DefaultQuality().Check(p.Lines); r != "" {
		t.Errorf("a real article fails the quality filters: %s", r)
	}
}
