package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// WaitSessionExpired waits until no server of z tracks the session sid any more, ZooKeeper having expired (or
// closed) it, and returns how long that took; it fails the test after timeout. A test that cuts a client off
// waits for this instead of sleeping past the session timeout: the client's reconnect after it is then sure to
// find its session expired. The servers are asked with the dump four-letter word, whose SessionTracker part
// lists every live session (the shared server and ZKServer allow every four-letter word).
func (z ZK) WaitSessionExpired(t testing.TB, sid int64, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	// ZooKeeper prints a session id as Java's Long.toHexString does: unsigned, lower case, on a line of its own.
	want := fmt.Sprintf("0x%x", uint64(sid))
	for {
		live, err := zkSessionLive(z.Servers, want)
		if err == nil && !live {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			if err == nil {
				err = errors.New("the server still lists it")
			}
			t.Fatalf("testenv: ZooKeeper at %s: session %s not expired within %v: %v", strings.Join(z.Servers, ","), want, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zkSessionLive reports whether any of the servers lists the session (formatted as ZooKeeper prints it).
func zkSessionLive(servers []string, session string) (bool, error) {
	for _, addr := range servers {
		dump, err := zkFourLetterWord(addr, "dump")
		if err != nil {
			return false, err
		}
		// Without the tracker's section the answer says nothing about sessions: never take it for "expired".
		if !strings.Contains(dump, "Session Sets") {
			return false, fmt.Errorf("%s answered dump without its session list: %q", addr, dump)
		}
		for line := range strings.Lines(dump) {
			if strings.TrimSpace(line) == session {
				return true, nil
			}
		}
	}
	return false, nil
}

// zkFourLetterWord sends one four-letter word to the ZooKeeper server at addr and returns its whole answer (the
// server closes the connection after it).
func zkFourLetterWord(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(c)
	return buf.String(), err
}
