package warc

import (
	"errors"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWgetLive redoes what testdata/mkfixture.sh did, with the wget on
// this machine: serve site/ on loopback, crawl it with --warc-file, and
// check the WARC as the committed one is checked. It catches a wget that
// writes WARC differently from the one that made the fixture.
func TestWgetLive(t *testing.T) {
	wget, err := exec.LookPath("wget")
	if err != nil {
		t.Skip("wget is not installed (scripts/setup.sh installs it); the committed fixture is still tested")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Files as they are; http.FileServer would redirect /index.html.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join("testdata", "site", filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", mime.TypeByExtension(filepath.Ext(r.URL.Path)))
		w.Write(b)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	dir := t.TempDir()
	cmd := exec.Command(wget, "-r", "-l", "2", "-p", "--no-config", "--no-verbose", "--no-proxy", "--tries=1", "--timeout=10",
		"--warc-file="+filepath.Join(dir, "live"), "-P", filepath.Join(dir, "mirror"),
		"http://"+ln.Addr().String()+"/index.html")
	out, err := cmd.CombinedOutput()
	// wget exits 8 when a link is broken; site/ links missing.html on
	// purpose.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 8) {
		t.Fatalf("wget: %v\n%s", err, out)
	}
	checkWgetWARC(t, filepath.Join(dir, "live.warc.gz"))
}
