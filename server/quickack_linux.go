package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAck makes the server acknowledge every segment it reads at once
// (TCP_QUICKACK, which Linux clears again after a while, so it is set
// before every read). Qt, and with it the ownCloud and Nextcloud clients,
// writes a request's header and its body in two segments without
// TCP_NODELAY: Nagle's algorithm holds the body back until the header is
// acknowledged, and a delayed acknowledgement costs 40 ms per request
// with a body (every PROPFIND, every upload).
func quickAck(ln net.Listener) net.Listener { return quickAckListener{ln} }

type quickAckListener struct{ net.Listener }

func (l quickAckListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &quickAckConn{TCPConn: tc, rc: rc}, nil
}

type quickAckConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	c.rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
	return c.TCPConn.Read(p)
}
