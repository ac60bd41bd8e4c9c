package announcer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// zkClient is one ZooKeeper client configured as Druid's CuratorModule configures Curator: the servers and chroot
// of druid.zk.service.host, the session timeout, digest authentication when user and pwd are both set, creator-only
// ACLs when acl=true, and the compression rule of PotentiallyGzippedCompressionProvider.
//
// go-zookeeper has no chroot: every path handed to conn goes through abs.
type zkClient struct {
	conn     *zk.Conn
	chroot   string
	acl      []zk.ACL
	compress bool
	scheme   string
	auth     []byte // "user:pwd", nil when no authentication is configured
	metrics  *zkMetrics
	log      hclog.Logger
}

// zkSessionListener is told about every session state change of go-zookeeper (connecting, has session, expired,
// disconnected). It is called on go-zookeeper's connection goroutine and must not block.
type zkSessionListener func(zk.State)

// dialZK starts a client; go-zookeeper connects in the background and reconnects forever until close.
func dialZK(cfg configs.ZKServiceConfig, log hclog.Logger, metrics *zkMetrics, listener zkSessionListener) (*zkClient, error) {
	servers, chroot := cfg.Servers()
	if len(servers) == 0 {
		return nil, fmt.Errorf("druid.zk.service.host %q names no ZooKeeper server", cfg.Host)
	}
	c := &zkClient{
		chroot:   chroot,
		acl:      zk.WorldACL(zk.PermAll),
		compress: cfg.Compress,
		scheme:   cfg.AuthScheme,
		metrics:  metrics,
		log:      log,
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
			metrics.observe(ev.State)
			if listener != nil {
				listener(ev.State)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("connecting to ZooKeeper at %s: %w", strings.Join(servers, ","), err)
	}
	c.conn = conn
	return c, nil
}

// abs is p (a Druid path such as /druid/segments) below the chroot.
func (c *zkClient) abs(p string) string {
	if c.chroot == "" {
		return p
	}
	if p == "/" {
		return c.chroot
	}
	return c.chroot + p
}

// authenticate adds the configured credentials to the session; go-zookeeper re-sends them after every reconnect.
func (c *zkClient) authenticate() error {
	if c.auth == nil {
		return nil
	}
	if err := c.conn.AddAuth(c.scheme, c.auth); err != nil {
		return fmt.Errorf("authenticating to ZooKeeper with scheme %s (druid.zk.service.user/pwd): %w", c.scheme, err)
	}
	return nil
}

// waitSession waits until the client has a session, or ctx ends.
func (c *zkClient) waitSession(ctx context.Context) error {
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

func (c *zkClient) close() { c.conn.Close() }

// encode is what the announcers write: one gzip member when druid.zk.service.compress is on (as Curator's
// .compressed() writes), the bytes themselves otherwise.
func (c *zkClient) encode(raw []byte) []byte {
	if !c.compress {
		return raw
	}
	return gzipBytes(raw)
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// gzipBytes compresses raw into one RFC 1952 member, which Curator's GzipCompressionProvider reads.
func gzipBytes(raw []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(raw)/4 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	_, _ = w.Write(raw) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	gzipWriters.Put(w)
	return buf.Bytes()
}

// decodeZNode is what Druid's readers do with znode data: gunzip when it starts with the gzip magic, the bytes as
// they are otherwise.
func decodeZNode(data []byte) ([]byte, error) {
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

// isConnectionError reports errors after which a request's outcome is unknown and the session must be awaited.
func isConnectionError(err error) bool {
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

// ZKStats is a snapshot of the ZooKeeper session metrics, which the Announcer's collector (WithRegisterer) exposes
// at every scrape:
//
//   - druid_sidecar_zk_connected (gauge): 1 while the client has a session. It is ZooKeeper's `_up` gauge: a
//     separate druid_sidecar_zk_up would be the same series twice, so there is none.
//   - druid_sidecar_zk_reconnects_total (counter): sessions regained after a loss (the first session is not one).
//   - druid_sidecar_zk_reconnect_seconds (histogram): how long each loss lasted, as Druid's zk/reconnect/time.
//   - druid_sidecar_zk_session_expiries_total (counter): sessions the server expired (every ephemeral znode of
//     ours was then re-created in the next session).
type ZKStats struct {
	Connected  bool
	Reconnects uint64
	Expiries   uint64
	// ReconnectSeconds counts losses per bucket of ReconnectBuckets (cumulative, as Prometheus exposes them).
	ReconnectSeconds      []uint64
	ReconnectSecondsSum   float64
	ReconnectSecondsCount uint64
}

type zkMetrics struct {
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

func newZKMetrics() *zkMetrics { return &zkMetrics{buckets: make([]uint64, len(ReconnectBuckets))} }

func (m *zkMetrics) observe(s zk.State) {
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

func (m *zkMetrics) snapshot() ZKStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return ZKStats{Connected: m.connected, Reconnects: m.reconnects, Expiries: m.expiries,
		ReconnectSeconds: append([]uint64(nil), m.buckets...), ReconnectSecondsSum: m.sum, ReconnectSecondsCount: m.count}
}
