package ingest

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// multistreamReader decodes the bz2 streams of a multistream Wikipedia dump
// in parallel, using the dump's index to find where each stream starts
// (compress/bzip2 decodes ~10 MB/s on one core, so this is where the time
// goes). Records still come out in file order.
type multistreamReader struct {
	counter
	path    string
	opts    Options
	f       *os.File
	streams []int64 // start offsets of every stream, then the file size
}

// openMultistream opens path with its index (offset:page-id:title lines,
// plain or bz2).
func openMultistream(path, index string, opts Options) (Reader, error) {
	starts, err := readIndexOffsets(index)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	size := fi.Size()
	// Stream 0 (the <siteinfo> header) precedes the first indexed page
	// stream; the index never lists it.
	starts = append(starts, 0)
	slices.Sort(starts)
	starts = slices.Compact(starts)
	for len(starts) > 0 && starts[len(starts)-1] >= size {
		return nil, fmt.Errorf("index %s lists offset %d beyond the end of %s (%d bytes); is it the index of another dump?", index, starts[len(starts)-1], path, size)
	}
	return &multistreamReader{path: path, opts: opts, f: f, streams: append(starts, size)}, nil
}

func readIndexOffsets(index string) ([]int64, error) {
	f, err := os.Open(index)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", index, err)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var offs []int64
	var last int64 = -1
	line := 0
	for sc.Scan() {
		line++
		head, _, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			return nil, fmt.Errorf("index %s line %d: want offset:page-id:title, got %q", index, line, sc.Text())
		}
		off, err := strconv.ParseInt(head, 10, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("index %s line %d: bad offset %q", index, line, head)
		}
		if off != last {
			offs = append(offs, off)
			last = off
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("index %s line %d: %w", index, line, err)
	}
	return offs, nil
}

// streamResult is one decoded stream: its bytes, or why it failed.
type streamResult struct {
	data []byte
	err  error
}

func (m *multistreamReader) decode(i int) streamResult {
	lo, hi := m.streams[i], m.streams[i+1]
	zr := bzip2.NewReader(io.NewSectionReader(m.f, lo, hi-lo))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(zr, int64(m.opts.maxRecord())*4))
	return streamResult{data: buf.Bytes(), err: err}
}

func (m *multistreamReader) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		n := len(m.streams) - 1
		workers := max(m.opts.Workers, 1)
		done := make(chan struct{})
		defer close(done)
		// One result slot per stream, filled by workers and consumed in
		// order; the sem bounds decoded-but-unread streams (memory).
		slots := make([]chan streamResult, n)
		for i := range slots {
			slots[i] = make(chan streamResult, 1)
		}
		sem := make(chan struct{}, 2*workers)
		next := make(chan int)
		var wg sync.WaitGroup
		go func() {
			defer close(next)
			for i := range n {
				select {
				case sem <- struct{}{}:
				case <-done:
					return
				}
				select {
				case next <- i:
				case <-done:
					return
				}
			}
		}()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					slots[i] <- m.decode(i)
				}
			}()
		}
		defer wg.Wait()

		var si siteInfo
		var base int64 // decompressed offset of the current stream
		for i := range n {
			var res streamResult
			select {
			case res = <-slots[i]:
			case <-done:
				return
			}
			<-sem
			m.n.Add(m.streams[i+1] - m.streams[i])
			if i == 0 {
				si = parseSiteInfo(res.data)
			}
			if res.err != nil {
				// bzip2 checks its CRC only at the end of a block, so
				// nothing this stream decoded can be trusted: its pages
				// (about a hundred in a real dump) go to the dead letters
				// as one record, and the other streams carry on.
				dl := deadLetter("corrupt-compression",
					fmt.Errorf("bz2 stream at bytes %d-%d of %s: %w; its pages are skipped", m.streams[i], m.streams[i+1], m.path, res.err),
					m.path, base, "", nil)
				if !yield(Record{File: m.path, Offset: base, Dead: dl}, nil) {
					return
				}
				base += int64(len(res.data))
				continue
			}
			stopped := false
			_ = scanElements(bytes.NewReader(res.data), pageOpen, pageClose, m.opts.maxRecord(), func(off int64, raw []byte, kind elementKind) bool {
				var rec Record
				switch kind {
				case elemWhole:
					rec = pageRecord(raw, base+off, m.path, si, m.opts)
				case elemTooLarge:
					rec = Record{File: m.path, Offset: base + off, Dead: deadLetter("too-large",
						fmt.Errorf("<page> is larger than the %d-byte record cap", m.opts.maxRecord()), m.path, base+off, "", raw)}
				case elemTruncated:
					// A page never spans streams in a well-formed dump.
					rec = Record{File: m.path, Offset: base + off, Dead: deadLetter("truncated",
						fmt.Errorf("bz2 stream at byte %d ends inside a <page>", m.streams[i]), m.path, base+off, "", raw)}
				}
				if !yield(rec, nil) {
					stopped = true
					return false
				}
				return true
			})
			if stopped {
				return
			}
			base += int64(len(res.data))
		}
	}
}

func (m *multistreamReader) Close() error { return m.f.Close() }
