package s3test

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to an S3 server. It can be switched off
// (SetDown): then it drops every open connection and closes each new one
// at once, the way an S3 server that crashed or restarts looks to its
// clients. Or it can stall (SetStalled): then it accepts connections and
// takes bytes until the kernel's buffers are full, but forwards nothing in
// either direction, the way a hung S3 server (one stopped with SIGSTOP)
// looks; switched back, it forwards what it held, as a server resumed
// with SIGCONT would. Point a store at Addr to test what happens when S3
// goes away or hangs, and comes back.
type Proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	moved  *sync.Cond // signalled when down or stalled changes
	down   bool
	stall  bool
	conns  map[net.Conn]bool
}

// StartProxy starts a proxy to target (host:port) on a free loopback port;
// it stops when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	p.moved = sync.NewCond(&p.mu)
	t.Cleanup(func() { l.Close(); p.SetDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// SetDown switches the proxy off (true: open connections are dropped, new
// ones closed at once) or on again.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
	p.moved.Broadcast()
}

// SetStalled makes the proxy hold every byte (true) or forward again
// (false), on open and new connections alike.
func (p *Proxy) SetStalled(stall bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = stall
	p.moved.Broadcast()
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

// flowing waits while the proxy stalls; it reports false once the proxy
// is down.
func (p *Proxy) flowing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stall && !p.down {
		p.moved.Wait()
	}
	return !p.down
}

func (p *Proxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	go func() { p.pipe(up, c); up.Close() }()
	p.pipe(c, up)
	c.Close()
}

// pipe copies src to dst, holding each buffer while the proxy stalls.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.flowing() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
