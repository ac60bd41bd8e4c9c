// Package zookeeper is druid-sidecar's ZooKeeper client, set up as Druid's CuratorModule sets up Curator: the
// announcer, the ZooKeeper load queue, discovery and the test peers share this one connection code.
package zookeeper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/klauspost/compress/gzip"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Conn is one ZooKeeper client configured as Druid's CuratorModule configures Curator: the servers and chroot
// of druid.zk.service.host, the session timeout, digest authentication when user and pwd are both set, creator-only
// ACLs when druid.zk.service.acl is on, and the compression rule of PotentiallyGzippedCompressionProvider.
//
// go-zookeeper has no chroot: paths handed to Conn's methods are Druid paths (e.g. /druid/loadQueue/host:port),
// and Path puts them below the chroot for calls made on ZK directly. Users poll rather than set ZooKeeper watches:
// go-zookeeper 1.0.4 re-sets watches after a reconnect in a way the race detector reports.
type Conn struct {
	conn     *zk.Conn
	chroot   string
	acl      []zk.ACL
	compress bool
	scheme   string
	auth     []byte // "user:pwd", nil when no authentication is configured
	metrics  *metrics
}

// Dial starts a client for cfg. It connects in the background and keeps reconnecting (with a new session after an
// expiry) until Close. onSession, when not nil, is told about every session state change (connecting, has session,
// expired, disconnected); it is called on go-zookeeper's connection goroutine and must not block.
func Dial(cfg configs.ZKServiceConfig, log hclog.Logger, onSession func(zk.State)) (*Conn, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	servers, chroot := cfg.Servers()
	if len(servers) == 0 {
		return nil, fmt.Errorf("druid.zk.service.host %q names no ZooKeeper server", cfg.Host)
	}
	c := &Conn{
		chroot:   chroot,
		acl:      zk.WorldACL(zk.PermAll),
		compress: cfg.Compress,
		scheme:   cfg.AuthScheme,
		metrics:  newMetrics(),
	}
	if c.scheme == "" {
		c.scheme = "digest"
	}
	if cfg.User != "" && !cfg.Pwd.IsZero() {
		c.auth = []byte(cfg.User + ":" + cfg.Pwd.Reveal())
	}
	if cfg.ACL {
		// Curator's ZooDefs.Ids.CREATOR_ALL_ACL: scheme "auth", the creator's authenticated identities.
		c.acl = zk.AuthACL(zk.PermAll)
	}
	timeout := cfg.SessionTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	conn, _, err := zk.Connect(servers, timeout,
		zk.WithLogger(zkLogger{log}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type != zk.EventSession {
				return
			}
			c.metrics.observe(ev.State)
			if onSession != nil {
				onSession(ev.State)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("connecting to ZooKeeper at %s: %w", strings.Join(servers, ","), err)
	}
	c.conn = conn
	return c, nil
}

// ZK is the go-zookeeper connection; build every path given to it with Path.
func (c *Conn) ZK() *zk.Conn { return c.conn }

// ACL is the ACL znodes are created with: world-all, or creator-only when druid.zk.service.acl is on.
func (c *Conn) ACL() []zk.ACL { return c.acl }

// HasSession reports whether the client has a session now.
func (c *Conn) HasSession() bool { return c.conn.State() == zk.StateHasSession }

// Stats returns this connection's session metrics.
func (c *Conn) Stats() Stats { return c.metrics.snapshot() }

// Path is the Druid path p (such as /druid/segments) below the configured chroot.
func (c *Conn) Path(p string) string {
	if c.chroot == "" {
		return p
	}
	if p == "/" {
		return c.chroot
	}
	return c.chroot + p
}

// Authenticate adds the configured credentials (druid.zk.service.user and pwd) to the session, and does nothing
// when none are configured. Call it once the first session exists; go-zookeeper re-sends the credentials after
// every reconnect by itself.
func (c *Conn) Authenticate() error {
	if c.auth == nil {
		return nil
	}
	if err := c.conn.AddAuth(c.scheme, c.auth); err != nil {
		return fmt.Errorf("authenticating to ZooKeeper with scheme %s (druid.zk.service.user/pwd): %w", c.scheme, err)
	}
	return nil
}

// WaitSession waits until the client has a session, or ctx ends.
func (c *Conn) WaitSession(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for c.conn.State() != zk.StateHasSession {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a ZooKeeper session with %s (state %s): %w", c.conn.Server(), c.conn.State(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close ends the session; requests in progress fail with zk.ErrConnectionClosed or zk.ErrClosing.
func (c *Conn) Close() { c.conn.Close() }

// EnsurePath creates the Druid path p and its missing ancestors as PERSISTENT znodes with empty data and the
// configured ACL, as Curator's creatingParentsIfNeeded does; znodes already there are left as they are.
func (c *Conn) EnsurePath(p string) error {
	abs := c.Path(p)
	for i := 1; i <= len(abs); i++ {
		if i != len(abs) && abs[i] != '/' {
			continue
		}
		p := abs[:i]
		if _, err := c.conn.Create(p, nil, 0, c.acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating the parent znode %s: %w", p, err)
		}
	}
	return nil
}

// Call runs f, which makes go-zookeeper requests (they have no deadline of their own), until ctx ends.
func Call(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Encode is what the announcers write: one gzip member when druid.zk.service.compress is on (as Curator's
// .compressed() writes), the bytes themselves otherwise.
func (c *Conn) Encode(raw []byte) []byte {
	if !c.compress {
		return raw
	}
	return gzipBytes(raw)
}

// EncodeWith is Encode of the size bytes that write writes, streamed into the compressor instead of first
// gathered into one buffer: a batch znode's data is its segments' JSON pieces, which need no copy of their own.
func (c *Conn) EncodeWith(size int, write func(w io.Writer)) []byte {
	if !c.compress {
		var buf bytes.Buffer
		buf.Grow(size)
		write(&buf)
		return buf.Bytes()
	}
	return gzipWith(size, write)
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// gzipBytes compresses raw into one RFC 1952 member, which Curator's GzipCompressionProvider reads.
func gzipBytes(raw []byte) []byte {
	return gzipWith(len(raw), func(w io.Writer) { _, _ = w.Write(raw) })
}

// gzipWith compresses the size bytes write writes into one gzip member; writes to its buffer do not fail.
func gzipWith(size int, write func(w io.Writer)) []byte {
	var buf bytes.Buffer
	buf.Grow(size/4 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	write(w)
	_ = w.Close()
	gzipWriters.Put(w)
	return buf.Bytes()
}

// DecodeZNode is what Druid's readers do with znode data (PotentiallyGzippedCompressionProvider): gunzip when it
// starts with the gzip magic 1f 8b, the bytes as they are otherwise.
func DecodeZNode(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gunzipping znode data: %w", err)
	}
	r.Multistream(false)
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("gunzipping znode data: %w", err)
	}
	return out, nil
}

// IsConnectionError reports ZooKeeper errors after which a request's outcome is unknown and the caller should wait
// for the session to come back and retry, as opposed to errors ZooKeeper answered (NoNode, NoAuth, …).
func IsConnectionError(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrSessionExpired) ||
		errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrClosing) || errors.Is(err, zk.ErrSessionMoved)
}

// zkLogger sends go-zookeeper's log lines to hclog: failures as warnings, the rest (connects, auth) at debug.
type zkLogger struct{ log hclog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "fail") || strings.Contains(lower, "error") {
		l.log.Warn("zookeeper client: " + msg)
		return
	}
	l.log.Debug("zookeeper client: " + msg)
}

// ---- metrics ---------------------------------------------------------------------------------------------------

// ReconnectBuckets are the upper bounds, in seconds, of the druid_sidecar_zk_reconnect_seconds histogram.
var ReconnectBuckets = []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 300}

// Stats is a snapshot of a connection's session metrics, which the Announcer's collector exposes at every scrape:
//
//   - druid_sidecar_zk_connected (gauge): 1 while the client has a session. It is ZooKeeper's `_up` gauge: a
//     separate druid_sidecar_zk_up would be the same series twice, so there is none.
//   - druid_sidecar_zk_reconnects_total (counter): sessions regained after a loss (the first session is not one).
//   - druid_sidecar_zk_reconnect_seconds (histogram): how long each loss lasted, as Druid's zk/reconnect/time.
//   - druid_sidecar_zk_session_expiries_total (counter): sessions the server expired (every ephemeral znode of
//     ours was then re-created in the next session).
type Stats struct {
	Connected  bool
	Reconnects uint64
	Expiries   uint64
	// ReconnectSeconds counts losses per bucket of ReconnectBuckets (cumulative, as Prometheus exposes them).
	ReconnectSeconds      []uint64
	ReconnectSecondsSum   float64
	ReconnectSecondsCount uint64
}

type metrics struct {
	mu         sync.Mutex
	connected  bool
	everHad    bool
	lostAt     time.Time
	reconnects uint64
	expiries   uint64
	buckets    []uint64
	sum        float64
	count      uint64
}

func newMetrics() *metrics { return &metrics{buckets: make([]uint64, len(ReconnectBuckets))} }

func (m *metrics) observe(s zk.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch s {
	case zk.StateHasSession:
		if !m.connected && m.everHad {
			m.reconnects++
			d := time.Since(m.lostAt).Seconds()
			for i, b := range ReconnectBuckets {
				if d <= b {
					m.buckets[i]++
				}
			}
			m.sum += d
			m.count++
		}
		m.connected, m.everHad = true, true
	case zk.StateDisconnected, zk.StateExpired, zk.StateConnecting, zk.StateAuthFailed:
		if s == zk.StateExpired {
			m.expiries++
		}
		if m.connected {
			m.lostAt = time.Now()
		}
		m.connected = false
	}
}

func (m *metrics) snapshot() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Connected: m.connected, Reconnects: m.reconnects, Expiries: m.expiries,
		ReconnectSeconds: append([]uint64(nil), m.buckets...), ReconnectSecondsSum: m.sum, ReconnectSecondsCount: m.count}
}
