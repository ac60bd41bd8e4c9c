package discovery

// Interop test of the Kubernetes announcement against Druid's own classes: testdata/K8sAnnotationInterop.java is
// compiled against the jars of a real Druid release (scripts/druid.sh resolve: Druid 25.0.0 and 33.0.0, whose
// druid-server Maven Central serves here; the druid-kubernetes-extensions jar is not served at any version, so its
// announcer cannot be run) and reads the annotation the announcer patched onto the stand-in's pod with
// DiscoveryDruidNode, as a Broker's discovery does, and computes the id hash with Java's String.hashCode.
//
// Policy (docs/CONTRIBUTING.md): a missing java, javac or jar FAILS the test; only `go test -short` skips it.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// druidLib resolves the jars of Druid version through scripts/druid.sh and returns the classpath of its lib/.
func druidLib(ctx context.Context, t *testing.T, version string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(root, "scripts", "druid.sh"), "resolve", version).CombinedOutput(); err != nil {
		t.Fatalf("scripts/druid.sh resolve %s: %v\n%s", version, err, out)
	}
	state := os.Getenv("DRUID_SIDECAR_STATE_DIR")
	switch {
	case state == "":
		state = filepath.Join(root, ".state")
	case !filepath.IsAbs(state):
		state = filepath.Join(root, state)
	}
	return filepath.Join(state, "druid", version, "lib", "*")
}

func TestJavaK8sAnnotation(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("javac is not on PATH (%v).\n\tfix: install a JDK (Debian: openjdk-17-jdk-headless); only `go test -short` skips this test.", err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java is not on PATH (%v); only `go test -short` skips this test.", err)
	}

	// The annotation as the announcer patches it onto the pod.
	srv, core := startKube(t)
	srv.AddPod(testNS, "historical-0", map[string]string{"app": "druid"}, map[string]string{"note": "x"}, true)
	t.Setenv("TEST_POD", "historical-0")
	t.Setenv("TEST_POD_NS", testNS)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.host=127.0.0.41:8083",
		"druid.service=druid/hot-historical", "druid.server.tier=hot", "druid.server.priority=3", "druid.server.maxSize=5g",
		"druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier=" + testCluster,
		"druid.discovery.k8s.podNameEnvKey=TEST_POD", "druid.discovery.k8s.podNamespaceEnvKey=TEST_POD_NS"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewKubernetesAnnouncer(core, cfg, RoleHistorical, HistoricalNodeJSON(cfg, time.Now(), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(ctx); err != nil {
		t.Fatal(err)
	}
	pod := srv.Pod(testNS, "historical-0")
	dir := t.TempDir()
	annFile, hostsFile := filepath.Join(dir, "annotation.json"), filepath.Join(dir, "hosts.txt")
	if err := os.WriteFile(annFile, []byte(pod.Annotations[K8sNodeAnnotation(RoleHistorical)]), 0o600); err != nil {
		t.Fatal(err)
	}
	hosts := []string{cfg.Node.HostAndPortToUse(), "test-host:80", minValueHost, "h\u00f4te-\u2603:8083", "h\U0001F600:1"}
	if err := os.WriteFile(hostsFile, []byte(strings.Join(hosts, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{"role historical", "service druid/hot-historical", "host 127.0.0.41", "plaintextPort 8083", "tlsPort -1",
		"hostAndPortToUse 127.0.0.41:8083", fmt.Sprintf("dataNodeService hot %d historical 3", cfg.Server.MaxSize)}
	if got := pod.Labels[K8sIDHashLabel]; got != K8sIDHash(hosts[0]) {
		t.Fatalf("id-hash label %s, want %s", got, K8sIDHash(hosts[0]))
	}
	for i, h := range hosts {
		want = append(want, fmt.Sprintf("idHash %d %s", i, K8sIDHash(h)))
	}
	if K8sIDHash(minValueHost) != "-2147483648" {
		t.Fatalf("%s does not hash to Integer.MIN_VALUE here", minValueHost)
	}

	for _, version := range []string{"25.0.0", "33.0.0"} {
		t.Run(version, func(t *testing.T) {
			cp := druidLib(ctx, t, version)
			classes := t.TempDir()
			src, err := filepath.Abs(filepath.Join("testdata", "K8sAnnotationInterop.java"))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.CommandContext(ctx, javac, "-nowarn", "-d", classes, "-cp", cp, src).CombinedOutput(); err != nil {
				t.Fatalf("javac %s failed: %v\n%s", src, err, out)
			}
			out, err := exec.CommandContext(ctx, java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
				"-cp", classes+string(os.PathListSeparator)+cp, "K8sAnnotationInterop", annFile, hostsFile).CombinedOutput()
			if err != nil {
				t.Fatalf("java K8sAnnotationInterop failed: %v\n%s", err, out)
			}
			if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Druid %s read\n%s\nwant\n%s", version, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
