package broker

import (
	"bufio"
	"context"
	"net"
)

// connReadBuffer is the read buffer under each kafka-go connection.
// kafka-go parses fetch responses through a 4 KiB bufio.Reader of its
// own, so a fetch of 1 MiB of documents cost a read(2) for every record
// header and another for every value: system calls were 7.9% of a
// transform worker's CPU in its benchmark, 2.9% with this buffer below
// it, where one read(2) takes whatever the socket holds, up to 256 KiB.
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

// dialBuffered is kafka-go's Dialer.DialFunc: a plain TCP dial, as
// kafka-go's own default (its Dialer.Timeout reaches it through ctx; TLS
// and SASL are layered above it by kafka-go), with the buffer below.
func dialBuffered(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return newBufferedConn(conn), nil
}
