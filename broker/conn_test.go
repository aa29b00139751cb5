package broker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// countingConn counts the reads that reach the socket.
type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.Conn.Read(p)
}

// serve starts a listener that writes payload to its one client and then
// stays silent until the client goes.
func serve(t *testing.T, payload []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(payload)
		io.Copy(io.Discard, c)
	}()
	return ln.Addr().String()
}

// readLikeKafkaGo reads r as kafka-go reads a fetch response: through a
// 4 KiB bufio.Reader of its own, a short header, then the record value
// read whole.
func readLikeKafkaGo(t *testing.T, r io.Reader, n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	br := bufio.NewReader(r)
	got := make([]byte, 0, n)
	for len(got) < n {
		header := make([]byte, min(20, n-len(got)))
		if _, err := io.ReadFull(br, header); err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		value := make([]byte, min(1+rng.IntN(80<<10), n-len(got)-len(header)))
		if _, err := io.ReadFull(br, value); err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(append(got, header...), value...)
	}
	return got
}

// TestBufferedConn: what kafka-go reads through the buffer comes back
// byte-exact from far fewer socket reads than without it, and a read
// deadline still ends a read that finds nothing buffered.
func TestBufferedConn(t *testing.T) {
	payload := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	reads := map[bool]int{}
	for _, buffered := range []bool{false, true} {
		raw, err := net.Dial("tcp", serve(t, payload))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		cc := &countingConn{Conn: raw}
		var c net.Conn = cc
		if buffered {
			c = newBufferedConn(cc)
		}
		// Let the server fill the socket, as a broker's response has by
		// the time a busy worker reads it.
		time.Sleep(50 * time.Millisecond)
		if got := readLikeKafkaGo(t, c, len(payload), 3); !bytes.Equal(got, payload) {
			t.Fatalf("buffered %v: the bytes read differ from those written", buffered)
		}
		reads[buffered] = cc.reads

		if buffered {
			if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = c.Read(make([]byte, 10))
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read past the deadline: err %v, want a deadline error", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the deadline took %v to end the read", d)
			}
		}
	}
	t.Logf("socket reads for %d bytes: %d without the buffer, %d with it", len(payload), reads[false], reads[true])
	if reads[true]*4 > reads[false] {
		t.Errorf("%d socket reads with the buffer, %d without: it should take a quarter or fewer", reads[true], reads[false])
	}
}
