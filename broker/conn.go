package broker

import (
	"bufio"
	"context"
	"net"
	"time"
)

// connReadBuffer is the read buffer under each kafka-go connection.
// kafka-go parses fetch responses through a 4 KiB bufio.Reader of its
// own, so a fetch of 1 MiB of documents cost a read(2) for every record
// header and another for every value: 6% of a transform worker's CPU went
// to those system calls. With this buffer below it, one read(2) takes
// whatever the socket holds, up to 256 KiB.
const connReadBuffer = 256 << 10

// bufferedConn is a net.Conn whose reads are served from a large buffer.
// Deadlines still apply: a read that needs the socket honours them.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func newBufferedConn(c net.Conn) *bufferedConn {
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, connReadBuffer)}
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialBuffered dials a TCP connection for kafka-go's Dialer.DialFunc (TLS
// and SASL are layered above it by kafka-go).
func dialBuffered(timeout time.Duration) func(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return newBufferedConn(conn), nil
	}
}
