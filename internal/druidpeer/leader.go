package druidpeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// SandboxLeader is the Coordinator-Overlord of a cluster stand-in as the rest of the cluster finds it: the holder
// of both leader latches (Curator's LeaderLatch children: protected, ephemeral, sequential, the leader's URL as raw
// UTF-8), and an HTTP server on loopback answering what is asked of a leader by that URL: /status/health and the
// leader and isLeader endpoints of both roles, as a combined Coordinator-Overlord (asOverlord) does.
type SandboxLeader struct {
	// URL is the leader's http://host:port, the latches' data.
	URL     string
	latches []string
	zk      *zookeeper.Conn
	srv     *http.Server

	mu      sync.Mutex
	session int64 // the session the latch nodes belong to
	retake  chan struct{}
	done    chan struct{}
}

// StartSandboxLeader listens on 127.0.0.1 and takes the Coordinator and Overlord latches of cfg's ZooKeeper paths,
// again in every new session after one expires, as Druid's leader would win them back. The latches go when Close
// ends the session (or the process dies).
func StartSandboxLeader(ctx context.Context, cfg *configs.Config) (*SandboxLeader, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &SandboxLeader{URL: "http://" + ln.Addr().String(), retake: make(chan struct{}, 1), done: make(chan struct{}),
		latches: []string{path.Join(cfg.ZK.Paths.Coordinator, "_COORDINATOR"), path.Join(cfg.ZK.Paths.Overlord, "_OVERLORD")}}
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

	onSession := func(st zk.State) {
		if st == zk.StateHasSession {
			select { // the latches are taken off go-zookeeper's goroutine, which must not block
			case l.retake <- struct{}{}:
			default:
			}
		}
	}
	if l.zk, err = zookeeper.Dial(cfg.ZK.Service, nil, onSession); err != nil {
		l.srv.Close()
		return nil, err
	}
	if err := l.zk.WaitSession(ctx); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.take(); err != nil {
		l.Close()
		return nil, err
	}
	go func() {
		for {
			select {
			case <-l.done:
				return
			case <-l.retake:
				_ = l.take() // a failure waits for the next session
			}
		}
	}()
	return l, nil
}

// take creates the latch nodes unless the current session holds them already.
func (l *SandboxLeader) take() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	conn := l.zk.ZK()
	sid := conn.SessionID()
	if sid == l.session {
		return nil
	}
	for _, latch := range l.latches {
		if err := l.zk.EnsurePath(latch); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating %s: %w", latch, err)
		}
		// go-zookeeper names a protected node _c_<guid>-<prefix><sequence>, as Curator does: _c_<guid>-latch-0000000003.
		if _, err := conn.CreateProtectedEphemeralSequential(l.zk.Path(latch)+"/latch-", []byte(l.URL),
			zk.WorldACL(zk.PermAll)); err != nil {
			return fmt.Errorf("taking the latch %s: %w", latch, err)
		}
	}
	l.session = sid
	return nil
}

// Close gives the latches up and stops the HTTP server.
func (l *SandboxLeader) Close() {
	close(l.done)
	if l.zk != nil {
		l.zk.Close()
	}
	l.srv.Close()
}
