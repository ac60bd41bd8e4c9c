package interop

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/realdruid"
)

// TestMixedTier: two Java Historicals and serve share a tier whose rule asks for 2 replicas. The real Coordinator
// places every segment twice across the three; a kill -9 of serve (no goodbye: the Coordinator learns it from the
// expired ZooKeeper session) makes it re-replicate serve's segments onto the Java Historicals; serve's return from
// the same cache is seen, and once the rule asks for 3 replicas it serves every segment again, from its cache.
func TestMixedTier(t *testing.T) {
	c := realdruid.Up(t)
	tier := uniqueName("interop_mixed_")
	ds := uniqueName("interop_mixed_")
	c.SetRules(t, ds, realdruid.LoadForever(map[string]int{tier: 2}))
	java1 := c.Historical(t, 1, realdruid.HistoricalOptions{Tier: tier, FreshCache: true})
	java2 := c.Historical(t, 2, realdruid.HistoricalOptions{Tier: tier, FreshCache: true})

	up := startUpstream(t)
	// A short session, as an operator may set: the Coordinator forgets a killed node once ZooKeeper expires it.
	n := newServeNode(t, c, tier, up.URL, "druid.zk.service.sessionTimeoutMs=6000")
	serve := n.Start()

	var rows []realdruid.Row
	for day := 1; day <= 6; day++ {
		rows = append(rows, realdruid.Row{"ts": fmt.Sprintf("2025-02-%02dT01:00:00Z", day), "page": "p", "user": "u", "added": day})
	}
	want := ids(c.Ingest(t, ds, rows))
	hosts := []string{java1, java2, n.Host}

	// holders maps each segment of ds to the hosts the Coordinator sees it on.
	holders := func(hosts ...string) map[string][]string {
		m := map[string][]string{}
		for _, h := range hosts {
			for _, id := range c.ServerSegments(t, h) {
				if strings.HasPrefix(id, ds+"_") {
					m[id] = append(m[id], h)
				}
			}
		}
		return m
	}
	// replicated waits until every segment is held exactly r times among hosts.
	replicated := func(what string, r int, hosts ...string) map[string][]string {
		t.Helper()
		var m map[string][]string
		took := realdruid.WaitFor(t, what, 2*time.Minute, func() (bool, string) {
			m = holders(hosts...)
			ok := equal(slices.Sorted(maps.Keys(m)), want)
			for _, hs := range m {
				ok = ok && len(hs) == r
			}
			return ok, fmt.Sprintf("%v", m)
		})
		t.Logf("%s: %v", what, took.Round(time.Millisecond))
		return m
	}

	m := replicated("every segment held twice across the tier", 2, hosts...)
	onServe := n.CachedSegments()
	if len(onServe) == 0 {
		// The Coordinator's balancer decides; with 6 segments, 2 replicas and 3 servers of equal size serve gets some.
		t.Fatalf("the Coordinator placed nothing on serve: %v", m)
	}
	t.Logf("serve holds %d of %d segments: %v", len(onServe), len(want), onServe)

	// kill -9: no SIGTERM, no unannouncement; the Coordinator re-replicates onto the Java Historicals.
	serve.cmd.Process.Kill()
	<-serve.done
	took := realdruid.WaitFor(t, "the Coordinator sees the killed serve leave", time.Minute, func() (bool, string) {
		_, ok := c.Server(t, n.Host)
		return !ok, "still listed"
	})
	t.Logf("the Coordinator saw the killed serve leave in %v", took.Round(time.Millisecond))
	replicated("every segment on both Java Historicals", 2, java1, java2)

	// serve's return, from the same cache: seen by the Coordinator, and with 3 replicas asked for it serves
	// everything, its cached segments without a pull.
	n.S3.Reset()
	n.Start()
	realdruid.WaitFor(t, "the Coordinator sees serve again", time.Minute, func() (bool, string) {
		_, ok := c.Server(t, n.Host)
		return ok, "not listed"
	})
	c.SetRules(t, ds, realdruid.LoadForever(map[string]int{tier: 3}))
	replicated("every segment on all three servers", 3, hosts...)
	realdruid.WaitFor(t, "sys.server_segments lists every segment on serve", time.Minute, func() (bool, string) {
		rs := c.SQL(t, "SELECT segment_id FROM sys.server_segments WHERE server = ? AND segment_id LIKE ? ORDER BY segment_id", n.Host, ds+"%")
		var got []string
		for _, r := range rs {
			got = append(got, r["segment_id"].(string))
		}
		return equal(got, want), fmt.Sprintf("%v", got)
	})
	if gets, most := n.S3Gets(), len(want)-len(onServe); gets > most {
		t.Errorf("serve sent %d GETs to S3 after its return; at most %d segments were not in its cache", gets, most)
	}
	if got := up.Segments(t); !equal(got, want) {
		t.Errorf("the upstream serves %v, want %v", got, want)
	}
}
