package zkproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func TestCutHealDrop(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip := func(msg string, wait time.Duration) (string, error) {
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}
	if got, err := roundTrip("a", 2*time.Second); err != nil || got != "a\n" {
		t.Fatalf("open: %q %v", got, err)
	}
	p.Cut()
	if got, err := roundTrip("b", 300*time.Millisecond); err == nil {
		t.Fatalf("cut: bytes crossed: %q", got)
	}
	p.Heal() // held bytes are delivered, as TCP retransmission would
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "b\n" {
		t.Fatalf("healed: %q %v", got, err)
	}
	if n := p.DropAll(); n != 1 {
		t.Fatalf("DropAll closed %d connections, want 1", n)
	}
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a dropped connection still reads")
	}
	if _, err := New("10.0.0.1:2181"); err == nil {
		t.Fatal("a non-loopback target was accepted")
	}
}
