package warc

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseHTTPResponse(t *testing.T) {
	page := "<html><body><p>Hello, harbour.</p></body></html>"
	cases := []struct {
		name       string
		block      []byte
		status     int
		mediaType  string
		body       string
		wantErrSub string
	}{
		{"crlf", []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nServer: x\r\n\r\n" + page), 200, "text/html", page, ""},
		{"lf and no reason", []byte("HTTP/1.0 200\nContent-Type: TEXT/HTML\n\n" + page), 200, "text/html", page, ""},
		{"folded header", []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html;\r\n charset=utf-8\r\n\r\n" + page), 200, "text/html", page, ""},
		{"header line without colon", []byte("HTTP/1.1 200 OK\r\ngarbage\r\nContent-Type: text/plain\r\n\r\nhi"), 200, "text/plain", "hi", ""},
		{"chunked", []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nHello, \r\n8\r\nharbour.\r\n0\r\n\r\n"), 200, "", "Hello, harbour.", ""},
		{"chunked header, body already de-chunked", []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + page), 200, "", page, ""},
		{"gzip", append([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/html\r\n\r\n"), gz([]byte(page))...), 200, "text/html", page, ""},
		{"crawler renamed encoding", []byte("HTTP/1.1 200 OK\r\nX-Crawler-Content-Encoding: gzip\r\n\r\n" + page), 200, "", page, ""},
		{"redirect", []byte("HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\n\r\n"), 301, "", "", ""},
		{"gzip bomb over the cap", append([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"), gz(bytes.Repeat([]byte("a"), 1<<20))...), 0, "", "", "over"},
		{"not http", []byte("<html>hello</html>\r\n\r\n"), 0, "", "", "HTTP/"},
		{"bad status", []byte("HTTP/1.1 OK\r\n\r\n"), 0, "", "", "status code"},
		{"header never ends", []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html"), 0, "", "", "empty line"},
		{"unknown encoding", []byte("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\nxx"), 0, "", "", "unsupported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ParseHTTPResponse(tc.block, 64<<10)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.MediaType() != tc.mediaType || string(resp.Body) != tc.body {
				t.Errorf("got %d %q %q", resp.StatusCode, resp.MediaType(), resp.Body)
			}
		})
	}
}
