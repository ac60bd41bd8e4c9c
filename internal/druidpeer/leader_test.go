package druidpeer

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/internal/zkproxy"
)

// The sandbox's leader is found as a Druid process finds the leaders: from the latches, and its URL answers as the
// leader it names.
func TestSandboxLeader(t *testing.T) {
	z := testenv.ZooKeeper(t)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.zk.service.host=" + z.ConnectString}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := StartSandboxLeader(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := announcer.NewClusterReader(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.ReadCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Coordinator == nil || c.Coordinator.URL != l.URL || c.Overlord == nil || c.Overlord.URL != l.URL {
		t.Fatalf("leaders %+v %+v, want %s", c.Coordinator, c.Overlord, l.URL)
	}
	for path, want := range map[string]string{"/druid/coordinator/v1/leader": l.URL, "/druid/indexer/v1/leader": l.URL,
		"/druid/coordinator/v1/isLeader": `{"leader":true}`, "/status/health": "true"} {
		resp, err := http.Get(l.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s: %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}

	l.Close()
	if c, err = r.ReadCluster(ctx); err != nil || c.Coordinator != nil || c.Overlord != nil {
		t.Errorf("after Close: leaders %+v %+v (%v), want none", c.Coordinator, c.Overlord, err)
	}
}

// The leader wins the latches back in the session that follows an expired one, as Druid's leader does.
func TestSandboxLeaderAfterSessionExpiry(t *testing.T) {
	z := testenv.ZooKeeper(t)
	px, err := zkproxy.New(z.Servers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{
		"druid.zk.service.host=" + px.Addr() + z.Chroot, "druid.zk.service.sessionTimeoutMs=2000"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := StartSandboxLeader(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	old := l.zk.ZK().SessionID()
	px.Cut()
	z.WaitSessionExpired(t, old, 15*time.Second)
	px.Heal()

	direct, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.zk.service.host=" + z.ConnectString}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := announcer.NewClusterReader(ctx, direct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		c, err := r.ReadCluster(ctx)
		if err == nil && c.Coordinator != nil && c.Coordinator.URL == l.URL && c.Overlord != nil && c.Overlord.URL == l.URL {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the leaders are not back after the expiry: %+v (%v)", c, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if sid := l.zk.ZK().SessionID(); sid == old {
		t.Errorf("the session 0x%x was not replaced; the test did not expire it", sid)
	}
}
