package announcer

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestJavaPeerInterop runs one JVM (testdata/java/ZKPeer.java: real Curator 5.4 and Jackson) that reads what we
// announce as Druid's readers do, and holds Curator LeaderLatches whose leaders our cluster reader must name.
// A missing java, javac or jar fails the test; only -short skips it.
func TestJavaPeerInterop(t *testing.T) {
	z := testenv.ZooKeeper(t)
	cp := testenv.JavaClasspath(t)
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("javac is not on PATH (%v).\n\tfix: install a JDK (Debian: openjdk-17-jdk-headless); only `go test -short` skips this test.", err)
	}
	classes := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("testdata", "java", "ZKPeer.java"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, javac, "-nowarn", "-d", classes, "-cp", cp, src).CombinedOutput(); err != nil {
		t.Fatalf("javac %s: %v\n%s", src, err, out)
	}

	cfg := zktConfig(t, z.ConnectString, "druid.host="+hostOf(41), "druid.server.tier=hot", "druid.server.priority=7",
		"druid.announcer.segmentsPerNode=25")
	a, err := New(cfg, WithLogger(zktLogger(t)), WithStartTime(time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	zktStop(t, a)
	segs := zktSegments(t, "wikipedia", 120)
	if err := a.AnnounceSegments(ctx, segs[:100]...); err != nil {
		t.Fatal(err)
	}
	for _, s := range segs[100:] {
		if err := a.AnnounceSegments(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}

	name := cfg.Node.HostAndPortToUse()
	coordLatch := path.Join(cfg.ZK.Paths.Coordinator, "_COORDINATOR")
	overlordLatch := path.Join(cfg.ZK.Paths.Overlord, "_OVERLORD")
	cmd := exec.CommandContext(ctx, "java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classes+":"+cp, "ZKPeer",
		z.ConnectString, path.Join(cfg.ZK.Paths.InternalDiscovery, discovery.RoleHistorical), path.Join(cfg.ZK.Paths.LiveSegments, name),
		coordLatch, overlordLatch)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := map[string][]string{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	ready := false
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		if kind == "READY" {
			ready = true
			break
		}
		lines[kind] = append(lines[kind], rest)
	}
	if !ready {
		t.Fatalf("the Java peer stopped before READY: %v\n%s", sc.Err(), stderr.String())
	}
	t.Logf("Java peer ready after %v", time.Since(started).Round(time.Millisecond))

	// Discovery, read by a PathChildrenCache(cacheData=true, compressed) and Jackson.
	wantNode := name + " nodeType=historical serviceType=dataNodeService serverType=historical tier=hot maxSize=300000000000" +
		" priority=7 host=127.0.0.41 plaintextPort=8083 version=36.0.0 labelsNull=true startTime=2025-10-01T12:00:00.000Z" +
		" druidNodeKeys=service,host,bindOnHost,plaintextPort,port,tlsPort,enablePlaintextPort,enableTlsPort,labels,version" +
		" freshEqualsCached=true gzipOnWire=true"
	if !slices.Contains(lines["NODE"], wantNode) {
		t.Errorf("the Java peer's discovery nodes:\n%s\nwant the line\n%s", strings.Join(lines["NODE"], "\n"), wantNode)
	}
	// Batch segments: every announced segment exactly once, in Druid's key order.
	wantIDs := make([]string, len(segs))
	for i, s := range segs {
		wantIDs[i] = s.ID().String()
	}
	gotIDs := slices.Clone(lines["SEG"])
	slices.Sort(wantIDs)
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("the Java peer read %d segments, want %d", len(gotIDs), len(wantIDs))
	}
	if want := "dataSource,interval,version,loadSpec,dimensions,metrics,shardSpec,binaryVersion,size,identifier"; len(lines["SEGKEYS"]) != 1 || lines["SEGKEYS"][0] != want {
		t.Errorf("segment keys %v, want %s", lines["SEGKEYS"], want)
	}

	// Leaders from Curator's latches, read by us: the first of three candidates (lowest sequence).
	if want := []string{"http://127.0.0.31:8081"}; !slices.Equal(lines["LEADER"], want) {
		t.Errorf("Curator names the leader %v, want %v", lines["LEADER"], want)
	}
	r, err := NewClusterReader(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.ReadCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Coordinator == nil || c.Coordinator.URL != "http://127.0.0.31:8081" || c.Overlord == nil || c.Overlord.URL != "http://127.0.0.34:8090" {
		t.Errorf("leaders read: coordinator %+v, overlord %+v", c.Coordinator, c.Overlord)
	}
	if len(c.Nodes) != 1 || c.Nodes[0].Name != name || c.Nodes[0].DataNode == nil || c.Nodes[0].DataNode.Tier != "hot" {
		t.Errorf("nodes read: %+v", c.Nodes)
	}
	var bytes int64
	for _, s := range segs {
		bytes += s.Size
	}
	if len(c.Inventory) != 1 || c.Inventory[0].Segments != len(segs) || c.Inventory[0].Bytes != bytes {
		t.Errorf("inventory read: %+v, want %d segments of %d bytes", c.Inventory, len(segs), bytes)
	}
	if _, err := io.WriteString(stdin, "done\n"); err != nil {
		t.Fatal(err)
	}
}
