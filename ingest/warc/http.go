package warc

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
	"strings"
)

// HTTPResponse is the HTTP message held in a response record's block.
type HTTPResponse struct {
	Proto      string // "HTTP/1.1"
	StatusCode int
	Header     Header
	// Body is the payload with transfer and content codings removed.
	Body []byte
}

// ContentType is the Content-Type header ("" when absent).
func (h *HTTPResponse) ContentType() string { return h.Header.Get("Content-Type") }

// MediaType is the lower-cased media type without parameters
// ("text/html").
func (h *HTTPResponse) MediaType() string {
	mt, _, _ := strings.Cut(h.ContentType(), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// ParseHTTPResponse parses the block of a response record. It is lenient
// the way crawl data needs: LF or CRLF, header lines without a colon are
// skipped, a reason phrase may be missing. maxBody caps the decoded body
// (content codings can expand a small block a thousandfold).
func ParseHTTPResponse(block []byte, maxBody int64) (*HTTPResponse, error) {
	status, rest, ok := cutLine(block)
	if !ok {
		return nil, errors.New("HTTP response has no status line")
	}
	proto, code, _ := strings.Cut(strings.TrimSpace(string(status)), " ")
	if !strings.HasPrefix(proto, "HTTP/") {
		return nil, fmt.Errorf("HTTP status line %q does not start with HTTP/", truncate(string(status), 80))
	}
	code, _, _ = strings.Cut(strings.TrimSpace(code), " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 999 {
		return nil, fmt.Errorf("HTTP status code %q is not a number", truncate(code, 20))
	}
	resp := &HTTPResponse{Proto: proto, StatusCode: n}
	for {
		var line []byte
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil, errors.New("HTTP header does not end with an empty line")
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(resp.Header) > 0 {
				resp.Header[len(resp.Header)-1].Value += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		name, value, found := bytes.Cut(line, []byte{':'})
		if !found {
			continue
		}
		resp.Header = append(resp.Header, Field{Name: string(bytes.TrimSpace(name)), Value: string(bytes.TrimSpace(value))})
	}
	body := rest
	if strings.Contains(strings.ToLower(resp.Header.Get("Transfer-Encoding")), "chunked") {
		// Some crawlers store the payload de-chunked but keep the header;
		// when it does not parse as chunks, take it as it is.
		if d, err := readCapped(httputil.NewChunkedReader(bytes.NewReader(body)), maxBody); err == nil {
			body = d
		}
	}
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity", "none":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("HTTP body says Content-Encoding %s but is not gzip: %w", enc, err)
		}
		if body, err = readCapped(zr, maxBody); err != nil {
			return nil, fmt.Errorf("HTTP body (Content-Encoding %s): %w", enc, err)
		}
	case "deflate":
		if body, err = readCapped(flate.NewReader(bytes.NewReader(body)), maxBody); err != nil {
			return nil, fmt.Errorf("HTTP body (Content-Encoding deflate): %w", err)
		}
	default:
		return nil, fmt.Errorf("HTTP body has unsupported Content-Encoding %q", enc)
	}
	resp.Body = body
	return resp, nil
}

func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

func readCapped(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("decoded body is over %d bytes", max)
	}
	return b, nil
}
