package ingest

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// countingReader counts bytes read from the file as stored.
type countingReader struct {
	r io.Reader
	c *counter
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.c.n.Add(int64(n))
	return n, err
}

// openInput opens path and undoes gzip or bzip2 compression, recognised by
// magic bytes rather than by name so a mis-named file still reads. The
// returned reader counts stored bytes into c.
func openInput(path string, c *counter) (io.Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := decompress(bufio.NewReaderSize(countingReader{f, c}, 256<<10))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, f, nil
}

func decompress(br *bufio.Reader) (io.Reader, error) {
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		// gzip.Reader reads concatenated members by default, which is
		// how large corpora are usually split.
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, nil
	case bytes.Equal(magic, []byte("BZh")):
		// compress/bzip2 continues across concatenated streams, so a
		// multistream dump reads serially without its index.
		return bzip2.NewReader(br), nil
	}
	return br, nil
}
