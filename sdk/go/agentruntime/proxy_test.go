package agentruntime_test

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
)

// cutProxy is a TCP proxy in front of the server whose open connections a test can cut, as a
// network failure would. With a TLS config it also terminates TLS (ALPN h2 and http/1.1).
type cutProxy struct {
	URL string

	listener net.Listener
	target   string
	mu       sync.Mutex
	conns    map[net.Conn]net.Conn // client side -> server side
	accepted int
	cut      int
}

func startProxy(t *testing.T, target string, tlsConfig *tls.Config) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http://"
	if tlsConfig != nil {
		l = tls.NewListener(l, tlsConfig)
		scheme = "https://"
	}
	p := &cutProxy{URL: scheme + l.Addr().String(), listener: l, target: target, conns: map[net.Conn]net.Conn{}}
	go p.serve()
	t.Cleanup(func() {
		_ = l.Close()
		p.Cut()
	})
	return p
}

func (p *cutProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client] = server
		p.accepted++
		p.mu.Unlock()
		go func() {
			var wg sync.WaitGroup
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				_ = dst.Close()
				_ = src.Close()
			}
			go pipe(server, client)
			go pipe(client, server)
			wg.Wait()
			p.mu.Lock()
			delete(p.conns, client)
			p.mu.Unlock()
		}()
	}
}

// Cut closes every open connection at once (both sides) and returns how many there were.
func (p *cutProxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for client, server := range p.conns {
		if tcp, ok := underlyingTCP(client); ok {
			_ = tcp.SetLinger(0) // a reset, not a polite close
		}
		_ = client.Close()
		_ = server.Close()
		delete(p.conns, client)
		n++
	}
	p.cut += n
	return n
}

func underlyingTCP(c net.Conn) (*net.TCPConn, bool) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tcp, ok := c.(*net.TCPConn)
	return tcp, ok
}

// Stats returns how many connections the proxy accepted and how many it cut.
func (p *cutProxy) Stats() (accepted, cut int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.cut
}
