package druidpeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
)

// SandboxLeader is the Coordinator-Overlord of a cluster stand-in as the rest of the cluster finds it: the holder
// of both leader latches (Curator's LeaderLatch children: protected, ephemeral, sequential, the leader's URL as raw
// UTF-8), and an HTTP server on loopback answering what is asked of a leader by that URL: /status/health and the
// leader and isLeader endpoints of both roles, as a combined Coordinator-Overlord (asOverlord) does.
type SandboxLeader struct {
	// URL is the leader's http://host:port, the latches' data.
	URL string
	zk  *announcer.ZKConn
	srv *http.Server
}

// StartSandboxLeader listens on 127.0.0.1 and takes the Coordinator and Overlord latches of cfg's ZooKeeper paths.
// The latches go when Close ends the session (or the process dies).
func StartSandboxLeader(ctx context.Context, cfg *configs.Config) (*SandboxLeader, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &SandboxLeader{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "true")
	})
	for _, prefix := range []string{"/druid/coordinator/v1", "/druid/indexer/v1"} {
		mux.HandleFunc("GET "+prefix+"/leader", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, l.URL)
		})
		mux.HandleFunc("GET "+prefix+"/isLeader", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"leader":true}`)
		})
	}
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go l.srv.Serve(ln)

	if l.zk, err = announcer.DialZK(cfg.ZK.Service, nil, nil); err != nil {
		l.srv.Close()
		return nil, err
	}
	if err := l.zk.WaitSession(ctx); err != nil {
		l.Close()
		return nil, err
	}
	for _, latch := range []string{path.Join(cfg.ZK.Paths.Coordinator, "_COORDINATOR"), path.Join(cfg.ZK.Paths.Overlord, "_OVERLORD")} {
		if err := l.zk.EnsurePath(latch); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			l.Close()
			return nil, fmt.Errorf("creating %s: %w", latch, err)
		}
		// go-zookeeper names a protected node _c_<guid>-<prefix><sequence>, as Curator does: _c_<guid>-latch-0000000003.
		if _, err := l.zk.Conn().CreateProtectedEphemeralSequential(l.zk.Path(latch)+"/latch-", []byte(l.URL),
			zk.WorldACL(zk.PermAll)); err != nil {
			l.Close()
			return nil, fmt.Errorf("taking the latch %s: %w", latch, err)
		}
	}
	return l, nil
}

// Close gives the latches up and stops the HTTP server.
func (l *SandboxLeader) Close() {
	if l.zk != nil {
		l.zk.Close()
	}
	l.srv.Close()
}
