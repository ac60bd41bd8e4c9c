package interop

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/realdruid"
)

// The companion beside a real Java Historical (protocol reference, sections 13 and 13.1): Java Historical 1 starts
// with an empty cache and every segment of a dataSource queued for it, its S3 behind a proxy that caps each
// connection; the companion, reading the real Coordinator's load queue, fills the same cache through a proxy with
// the same cap. The Historical must send no GET for a segment the companion placed, the Broker must answer the same
// with and without the companion, and `cache verify` must find the cache clean.

// refillFixture is a dataSource whose segments only Java Historical 1, in a tier of its own, loads.
type refillFixture struct {
	c     *realdruid.Cluster
	tier  string
	ds    string
	want  []string          // segment ids, sorted
	keys  map[string]string // segment id → its index.zip key
	host  string            // Java Historical 1's host:port
	cache string            // its segment cache location
}

// newRefillFixture ingests days segments of rowsPerDay rows each, with a random string column so that each
// index.zip has some weight for the capped connections to carry.
func newRefillFixture(t testing.TB, days, rowsPerDay int) *refillFixture {
	t.Helper()
	c := realdruid.Up(t)
	if c.Storage != "s3" {
		t.Skipf("Druid %s runs on %s deep storage here; the companion's pulls and the Historical's are counted at an S3 proxy", c.Version, c.Storage)
	}
	f := &refillFixture{c: c, tier: uniqueName("interop_refill_"), ds: uniqueName("interop_refill_"),
		keys: map[string]string{}, host: "127.0.0.1:" + strconv.Itoa(c.HistoricalPortBase+1), cache: c.HistoricalCache(1)}
	c.SetRules(t, f.ds, realdruid.LoadForever(map[string]int{f.tier: 1}))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []realdruid.Row
	for d := 0; d < days; d++ {
		for i := 0; i < rowsPerDay; i++ {
			rows = append(rows, realdruid.Row{
				"ts":    start.AddDate(0, 0, d).Add(time.Duration(i) * time.Second).Format(time.RFC3339),
				"page":  fmt.Sprintf("%016x%016x%016x", rand.Uint64(), rand.Uint64(), rand.Uint64()),
				"user":  fmt.Sprintf("u%d", i%7),
				"added": i,
			})
		}
	}
	segs := c.Ingest(t, f.ds, rows)
	for _, s := range segs {
		var ls struct{ Key string }
		if json.Unmarshal(s.LoadSpec, &ls) != nil || ls.Key == "" {
			t.Fatalf("segment %s has no S3 key in %s", s.ID, s.LoadSpec)
		}
		f.keys[s.ID] = ls.Key
	}
	f.want = ids(segs)
	if len(f.want) != days {
		t.Fatalf("the Indexer published %d segments, want %d", len(f.want), days)
	}
	return f
}

// refillResult is what one refill of Java Historical 1 showed.
type refillResult struct {
	took       time.Duration     // from the Historical's start (its JVM's too) until the Coordinator saw every segment on it
	loading    time.Duration     // of which after the Historical answered its health check
	prefetched []string          // segments the companion placed
	javaGets   map[string]int    // the Historical's GETs to S3, by segment id
	rows       []map[string]any  // the Broker's answer to the same SQL query
	verify     string            // `cache verify` output, after the Historical stopped
	verifyCode int               // its exit status
	companion  map[string]string // companion metrics read at the end (series → value)
}

// refillOptions shape one refill.
type refillOptions struct {
	companion bool
	rate      int64         // bytes per second per S3 connection, for the Historical and the companion alike
	lead      time.Duration // the companion starts this long before the Historical (negative: after)
	poll      string        // the companion's druid.sidecar.prefetch.pollPeriod
}

// refill stops Java Historical 1, empties its cache, and starts it again (with the companion beside it when asked),
// waits until the Coordinator sees every segment on it and the Broker can query them all, then stops it and
// verifies its cache.
func (f *refillFixture) refill(t testing.TB, o refillOptions) refillResult {
	t.Helper()
	c := f.c
	c.StopHistorical(t, 1)
	realdruid.WaitFor(t, "Java Historical 1 gone from the Coordinator's view", time.Minute, func() (bool, string) {
		_, ok := c.Server(t, f.host)
		return !ok, "still listed"
	})
	// The cache is the harness's own, of a stopped Historical: emptied so that both runs start from nothing.
	if err := os.RemoveAll(f.cache); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.cache, 0o755); err != nil {
		t.Fatal(err)
	}
	javaS3 := newS3Proxy(t, c, o.rate)

	var comp *proc
	var compProps, compURL string
	startCompanion := func() {
		compS3 := newS3Proxy(t, c, o.rate)
		compProps, compURL = f.companionProperties(t, compS3.URL(), o.poll)
		bin, _ := binaries(t)
		comp = startProc(t, "druid-sidecar companion", nil, bin, "companion", "--properties", compProps, "--log-level", "debug")
		realdruid.WaitFor(t, "the companion healthy", 30*time.Second, func() (bool, string) {
			if comp.exited() {
				t.Fatalf("the companion exited: %v", comp.cmd.ProcessState)
			}
			resp, err := http.Get(compURL + "/status/health")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == 200, resp.Status
		})
	}
	if o.companion && o.lead >= 0 {
		startCompanion()
		time.Sleep(o.lead) // the random timing of a soak round, not a wait for a condition
	}
	start := time.Now()
	var delayed chan struct{}
	if o.companion && o.lead < 0 {
		delayed = make(chan struct{})
		go func() {
			defer close(delayed)
			time.Sleep(-o.lead) // the random timing of a soak round: the companion comes up after the Historical
		}()
	}
	c.Historical(t, 1, realdruid.HistoricalOptions{Tier: f.tier, Props: []string{"druid.s3.endpoint.url=" + javaS3.URL()}})
	if delayed != nil {
		<-delayed
		startCompanion()
	}
	var r refillResult
	r.loading = realdruid.WaitFor(t, "every segment on Java Historical 1", 10*time.Minute, func() (bool, string) {
		got := c.ServerSegments(t, f.host)
		return equal(got, f.want), fmt.Sprintf("%d of %d", len(got), len(f.want))
	})
	r.took = time.Since(start)
	realdruid.WaitFor(t, "the Broker sees every segment", 2*time.Minute, func() (bool, string) {
		rows := c.SQL(t, "SELECT COUNT(*) AS n FROM sys.segments WHERE datasource = ? AND is_available = 1", f.ds)
		return len(rows) == 1 && rows[0]["n"] == float64(len(f.want)), fmt.Sprintf("%v", rows)
	})
	r.rows = c.SQL(t, `SELECT __time, page, "user", SUM(added) AS added, COUNT(*) AS n FROM `+quoteIdent(f.ds)+
		` GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)

	r.javaGets = map[string]int{}
	for _, rec := range javaS3.Requests() {
		if rec.Method != http.MethodGet {
			continue
		}
		for id, key := range f.keys {
			if strings.HasSuffix(rec.Path, "/"+key) {
				r.javaGets[id]++
			}
		}
	}
	if comp != nil {
		r.companion = scrape(t, compURL+"/metrics")
		comp.stop(30 * time.Second)
		r.prefetched = prefetchedIn(comp.out.String())
	}
	c.StopHistorical(t, 1)
	props := compProps
	if props == "" {
		props, _ = f.companionProperties(t, c.S3Endpoint, "PT1S")
	}
	var stderr string
	r.verifyCode, r.verify, stderr = runCLI(t, "cache", "verify", "--properties", props)
	r.verify += stderr
	return r
}

// companionProperties writes the companion's configuration: the Historical's own (its host and port, cache
// location and layout: Druid 25 nests its cache), S3 through the given endpoint, the Coordinator named, and a
// window as large as the dataSource.
func (f *refillFixture) companionProperties(t testing.TB, s3 string, poll string) (path, url string) {
	t.Helper()
	port := freePort(t)
	var props []string
	for _, kv := range f.c.CommonProperties() {
		if strings.HasPrefix(kv, "druid.s3.endpoint.url=") {
			kv = "druid.s3.endpoint.url=" + s3
		}
		props = append(props, kv)
	}
	props = append(props,
		"druid.service=druid/historical",
		"druid.host=127.0.0.1",
		"druid.plaintextPort="+strconv.Itoa(f.c.HistoricalPortBase+1),
		"druid.server.tier="+f.tier,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"10g"}]`, f.cache),
		"druid.sidecar.cacheLayout=nested",
		"druid.sidecar.coordinator.url="+f.c.Coordinator,
		"druid.sidecar.companion.port="+strconv.Itoa(port),
		"druid.sidecar.prefetch.maxBytes=1g",
		"druid.sidecar.prefetch.maxSegments=1000",
		"druid.sidecar.prefetch.pollPeriod="+poll,
	)
	path = filepath.Join(t.TempDir(), "companion.properties")
	if err := os.WriteFile(path, []byte(strings.Join(props, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://127.0.0.1:" + strconv.Itoa(port)
}

// newS3Proxy is a proxy before the cluster's S3 whose every connection carries at most rate bytes per second.
func newS3Proxy(t testing.TB, c *realdruid.Cluster, rate int64) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(c.S3Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetConnRate(rate)
	return p
}

var prefetchedLine = regexp.MustCompile(`segment prefetched: segment=(\S+)`)

// prefetchedIn lists the segments a companion's log says it placed.
func prefetchedIn(log string) []string {
	var out []string
	for _, m := range prefetchedLine.FindAllStringSubmatch(log, -1) {
		out = append(out, strings.Trim(m[1], `"`))
	}
	sort.Strings(out)
	return out
}

// scrape reads the druid_sidecar_ series of a /metrics page.
func scrape(t testing.TB, url string) map[string]string {
	t.Helper()
	code, b := realdruid.Do(t, "GET", url, nil)
	if code != 200 {
		t.Fatalf("GET %s: HTTP %d", url, code)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "druid_sidecar_") {
			m[name] = v
		}
	}
	return m
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// checkRefill fails the test on what must hold of every refill with the companion, against a run without it.
func (f *refillFixture) checkRefill(t testing.TB, with, without refillResult) {
	t.Helper()
	if len(with.prefetched) == 0 {
		t.Errorf("the companion placed no segment (of %d queued)", len(f.want))
	}
	for _, id := range with.prefetched {
		if n := with.javaGets[id]; n != 0 {
			t.Errorf("the Historical sent %d GETs to S3 for %s, which the companion had placed", n, id)
		}
	}
	if len(with.rows) == 0 || !reflect.DeepEqual(with.rows, without.rows) {
		t.Errorf("the Broker's answer with the companion (%d rows) differs from the one without (%d rows)", len(with.rows), len(without.rows))
	}
	for _, r := range []refillResult{with, without} {
		if r.verifyCode != 0 {
			t.Errorf("cache verify on the Historical's cache: exit %d:\n%s", r.verifyCode, r.verify)
		}
	}
}

// TestCompanionBesideJavaHistorical: one refill without the companion and one with it, 8 segments (the benchmark
// measures 50; the test command keeps to what proves the protocol).
func TestCompanionBesideJavaHistorical(t *testing.T) {
	f := newRefillFixture(t, 8, 100)
	const rate = 8 << 10 // segments of 100 rows are about half as heavy as the benchmark's
	without := f.refill(t, refillOptions{rate: rate})
	with := f.refill(t, refillOptions{companion: true, rate: rate, poll: "PT1S"})
	f.checkRefill(t, with, without)
	t.Logf("refill of %d segments: %v (%v after the health check) without the companion, %d GETs by the Historical; %v (%v) with it, %d placed by the companion, %d GETs by the Historical",
		len(f.want), without.took.Round(time.Millisecond), without.loading.Round(time.Millisecond), sum(without.javaGets),
		with.took.Round(time.Millisecond), with.loading.Round(time.Millisecond), len(with.prefetched), sum(with.javaGets))
}

// BenchmarkCompanionRefill: the refill time of a fresh Java Historical with 50 queued segments, S3 capped per
// connection, without and with the companion (make bench).
func BenchmarkCompanionRefill(b *testing.B) {
	f := newRefillFixture(b, 50, 200)
	const rate = 16 << 10
	var without, with, withoutLoading, withLoading time.Duration
	for i := 0; i < b.N; i++ {
		w := f.refill(b, refillOptions{rate: rate})
		c := f.refill(b, refillOptions{companion: true, rate: rate, poll: "PT1S"})
		f.checkRefill(b, c, w)
		without, withoutLoading = without+w.took, withoutLoading+w.loading
		with, withLoading = with+c.took, withLoading+c.loading
		b.Logf("round %d: %v (%v after the health check) without the companion, %v (%v) with it; %d of %d segments placed by it",
			i, w.took.Round(time.Millisecond), w.loading.Round(time.Millisecond), c.took.Round(time.Millisecond),
			c.loading.Round(time.Millisecond), len(c.prefetched), len(f.want))
	}
	b.ReportMetric(without.Seconds()/float64(b.N), "s-refill-java")
	b.ReportMetric(with.Seconds()/float64(b.N), "s-refill-companion")
	b.ReportMetric(without.Seconds()/with.Seconds(), "x-speedup")
	b.ReportMetric(withoutLoading.Seconds()/withLoading.Seconds(), "x-speedup-after-start")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
