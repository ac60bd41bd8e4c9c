package agent

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestServeShutdownLetsBrokersStopRouting plays a Broker that keeps querying serve while it shuts down with
// druid.server.http.unannouncePropagationDelay and gracefulShutdownTimeout set: queries keep succeeding for the
// delay after the node left internal discovery, a query in flight when HTTP closes is answered when it ends within
// the graceful timeout, and one that does not is cut off at the timeout. Readiness is 503 from the shutdown's start.
func TestServeShutdownLetsBrokersStopRouting(t *testing.T) {
	const delay, grace = 1500 * time.Millisecond, time.Second
	z := testenv.ZooKeeper(t)
	release := make(chan struct{}) // lets the held query "finishing" end
	held := make(chan struct{}, 2) // a held query reached the segment server
	up := newTestUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"finishing"`):
			held <- struct{}{}
			<-release
		case strings.Contains(string(body), `"endless"`):
			held <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[]`)
	}))
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.upstream="+up.URL,
		"druid.server.http.unannouncePropagationDelay=PT1.5S", "druid.server.http.gracefulShutdownTimeout=PT1S")
	r := startAgent(t, cfg, func(a *Agent) { a.probePeriod = 50 * time.Millisecond })
	conn := z.Conn(t)
	discovery := z.Path("/druid/internal-discovery/HISTORICAL/" + cfg.Node.HostAndPort())

	client := &http.Client{Timeout: 20 * time.Second}
	query := func(kind string) error {
		resp, err := client.Post(r.url+QueryPath, "application/json",
			strings.NewReader(`{"queryType":"timeBoundary","dataSource":"wikipedia","context":{"queryId":"`+kind+`"}}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	// The upstream answers once its first probe has passed.
	deadline := time.Now().Add(10 * time.Second)
	for query("warm-up") != nil {
		if time.Now().After(deadline) {
			t.Fatal("no query answered within 10 s of the start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Two queries in flight through the whole shutdown: one ends when released, one never does.
	finishing, endless := make(chan error, 1), make(chan error, 1)
	go func() { finishing <- query("finishing") }()
	go func() { endless <- query("endless") }()
	<-held
	<-held

	stopped := time.Now()
	r.cancel()
	// The Broker's view: the node leaves internal discovery, then queries keep working for the delay.
	var gone time.Time
	for {
		ok, _, err := conn.Exists(discovery)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			gone = time.Now()
			break
		}
		if time.Since(stopped) > 10*time.Second {
			t.Fatal("the node was still in internal discovery 10 s after the shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A readiness probe sees the node not ready while HTTP still answers: readiness turns false before anything
	// else stops, so a Kubernetes Service drops the pod while Brokers finish routing to it.
	// Druid 37's /status/ready follows the announcement: 503 and false once the node is withdrawn; loadstatus
	// follows readiness, as both answer one state in Druid 37's HistoricalResource.
	for _, probe := range []struct {
		path string
		code int
		body string
	}{{ReadinessPath, 503, ""}, {ReadyPath, 503, "false"}, {LoadStatusPath, 200, `{"cacheInitialized":false}`}} {
		resp, err := client.Get(r.url + probe.path)
		if err != nil {
			t.Errorf("%s during the propagation delay: %v", probe.path, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != probe.code || strings.TrimSpace(string(b)) != probe.body {
			t.Errorf("%s answered %d %q during the shutdown, want %d %q", probe.path, resp.StatusCode, b, probe.code, probe.body)
		}
	}
	var ok int
	var failedAt time.Time
	var failure error
	for failure == nil {
		if time.Since(gone) > 10*time.Second {
			t.Fatal("queries still answered 10 s after the unannouncement")
		}
		if failure = query("routed"); failure == nil {
			ok++
		} else {
			failedAt = time.Now()
		}
	}
	close(release)
	// ZooKeeper is read after the znode went, so the window seen is at most the delay, less a little.
	if answered := failedAt.Sub(gone); answered < delay-300*time.Millisecond || ok == 0 {
		t.Errorf("queries were answered for %s (%d of them) after the node left discovery, want about %s; then: %v",
			answered, ok, delay, failure)
	}
	if err := <-finishing; err != nil {
		t.Errorf("a query in flight that ended within the graceful timeout failed: %v", err)
	}
	err := <-r.done
	r.done <- err
	took := time.Since(stopped)
	if err == nil || !strings.Contains(err.Error(), "stopping the HTTP server") {
		t.Errorf("Run returned %v, want the HTTP server's stop cut short by a query in flight", err)
	}
	if e := <-endless; e == nil {
		t.Error("a query still running at the graceful timeout was answered")
	}
	if took < delay+grace || took > delay+grace+5*time.Second {
		t.Errorf("the shutdown took %s, want the delay and the graceful timeout (%s) and little more", took, delay+grace)
	}
}
