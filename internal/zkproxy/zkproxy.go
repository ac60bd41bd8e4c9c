// Package zkproxy is test support: a TCP proxy on a loopback port, put between a ZooKeeper client and a real
// ZooKeeper server, that injects the network faults a session must survive:
//
//   - Cut: a blackhole. Connections stay open but no byte (nor a close) crosses in either direction; new
//     connections are accepted and held. What was sent meanwhile is delivered after Heal, as TCP retransmission
//     would, unless an end closed its connection, which the other end then sees.
//   - Heal: traffic flows again.
//   - DropAll: every current connection is closed at once, on both sides.
//
// It is bounded (at most MaxConns connections, each copying through a 32 KiB buffer) and loopback only: it
// listens on 127.0.0.1 and refuses a target that is not a loopback address.
package zkproxy

import (
	"fmt"
	"net"
	"sync"
)

// MaxConns bounds the connections a proxy holds; more are refused.
const MaxConns = 64

// Proxy forwards TCP connections from Addr to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	open   chan struct{} // closed while traffic flows
	conns  map[*pair]struct{}
	closed bool
	wg     sync.WaitGroup
}

type pair struct {
	client net.Conn
	done   chan struct{}

	mu     sync.Mutex
	server net.Conn
	closed bool
}

func (c *pair) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	c.client.Close()
	if c.server != nil {
		c.server.Close()
	}
}

// setServer attaches the upstream connection; false when the pair was closed meanwhile.
func (c *pair) setServer(s net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.server = s
	return true
}

// New starts a proxy to target (host:port on a loopback address).
func New(target string) (*Proxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("zkproxy: target %q: %w", target, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("zkproxy: target %q is not a loopback address", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zkproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, open: make(chan struct{}), conns: map[*pair]struct{}{}}
	close(p.open)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut stops all traffic without closing anything.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // already cut
	}
}

// Heal lets traffic flow again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// DropAll closes every current connection and returns how many there were.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		pairs = append(pairs, c)
	}
	p.mu.Unlock()
	for _, c := range pairs {
		c.close()
	}
	return len(pairs)
}

// Conns is the number of connections held.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Heal()
	p.DropAll()
	p.wg.Wait()
	return err
}

// waitOpen waits until traffic flows; false when the pair closed first.
func (p *Proxy) waitOpen(c *pair) bool {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	select {
	case <-open:
		return true
	case <-c.done:
		return false
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		c := &pair{client: conn, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed || len(p.conns) >= MaxConns {
			p.mu.Unlock()
			conn.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c *pair) {
	defer p.wg.Done()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	if !p.waitOpen(c) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !c.setServer(server) { // dropped while dialling
		server.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.copy(c, server, c.client) }()
	go func() { defer wg.Done(); p.copy(c, c.client, server) }()
	wg.Wait()
}

// copy moves bytes from src to dst while traffic flows; a read error (the end closed) is passed on as a close of
// the pair, also only while traffic flows.
func (p *Proxy) copy(c *pair, dst, src net.Conn) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if !p.waitOpen(c) {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
