package announcer

import (
	"context"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// ZKConn is a ZooKeeper connection set up exactly as the Announcer's own (see zkClient): the servers and chroot
// of druid.zk.service.host, the session timeout, digest authentication when user and pwd are both set, and
// creator-only ACLs when druid.zk.service.acl is on. It exists so that other ZooKeeper users of this project (the
// ZooKeeper load queue) share one copy of that set-up instead of writing a second one.
//
// Paths handed to its methods are Druid paths (e.g. /druid/loadQueue/host:port); Path puts them below the chroot
// for calls made on Conn directly. Like the Announcer, users should poll rather than set ZooKeeper watches:
// go-zookeeper 1.0.4 re-sets watches after a reconnect in a way the race detector reports.
type ZKConn struct{ c *zkClient }

// DialZK starts a ZooKeeper client for cfg. It connects in the background and keeps reconnecting (with a new
// session after an expiry) until Close. onSession, when not nil, is told about every session state change; it is
// called on go-zookeeper's connection goroutine and must not block.
func DialZK(cfg configs.ZKServiceConfig, log hclog.Logger, onSession func(zk.State)) (*ZKConn, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c, err := dialZK(cfg, log, newZKMetrics(), onSession)
	if err != nil {
		return nil, err
	}
	return &ZKConn{c: c}, nil
}

// Conn is the go-zookeeper connection; build every path given to it with Path.
func (z *ZKConn) Conn() *zk.Conn { return z.c.conn }

// Path is the Druid path p below the configured chroot.
func (z *ZKConn) Path(p string) string { return z.c.abs(p) }

// HasSession reports whether the client has a session now.
func (z *ZKConn) HasSession() bool { return z.c.conn.State() == zk.StateHasSession }

// WaitSession waits until the client has a session, or ctx ends.
func (z *ZKConn) WaitSession(ctx context.Context) error { return z.c.waitSession(ctx) }

// Authenticate adds the configured credentials (druid.zk.service.user and pwd) to the session, and does nothing
// when none are configured. Call it once the first session exists; go-zookeeper re-sends the credentials after
// every reconnect by itself.
func (z *ZKConn) Authenticate() error { return z.c.authenticate() }

// EnsurePath creates the Druid path p and its missing ancestors as PERSISTENT znodes with empty data and the
// configured ACL, as Curator's creatingParentsIfNeeded does; znodes already there are left as they are.
func (z *ZKConn) EnsurePath(p string) error { return ensurePath(z.c, z.c.abs(p)) }

// Stats returns this connection's session metrics (not registered anywhere; the Announcer's are the ones exposed).
func (z *ZKConn) Stats() ZKStats { return z.c.metrics.snapshot() }

// Close ends the session; requests in progress fail with zk.ErrConnectionClosed or zk.ErrClosing.
func (z *ZKConn) Close() { z.c.close() }

// DecodeZNode is what Druid's readers do with znode data (PotentiallyGzippedCompressionProvider): gunzip when it
// starts with the gzip magic 1f 8b, the bytes as they are otherwise.
func DecodeZNode(data []byte) ([]byte, error) { return decodeZNode(data) }

// IsConnectionError reports ZooKeeper errors after which a request's outcome is unknown and the caller should wait
// for the session to come back and retry, as opposed to errors ZooKeeper answered (NoNode, NoAuth, …).
func IsConnectionError(err error) bool { return isConnectionError(err) }
