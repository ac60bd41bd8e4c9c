package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/kubepeer"
)

// minValueHost is a host:port whose Java String.hashCode is Integer.MIN_VALUE (found by a meet-in-the-middle search;
// TestJavaK8sAnnotation checks it with Java).
const minValueHost = "historical-aedqofsu:8083"

func TestK8sIDHash(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"test-host:80", "1429561393"}, // the value of Druid's own K8sDruidNodeAnnouncerTest
		{"127.0.0.1:8083", "35736624"},
		{"", "0"},
		{minValueHost, "-2147483648"}, // -Integer.MIN_VALUE overflows to itself
		{"h\u00e9te-\U0001F600:1", K8sIDHash("h\u00e9te-\U0001F600:1")},
	} {
		if got := K8sIDHash(tc.in); got != tc.want {
			t.Errorf("K8sIDHash(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

const (
	testNS      = "druid"
	testCluster = "druid-test"
)

// startKube is the API-server stand-in and a client of it.
func startKube(t *testing.T) (*kubepeer.Server, corev1client.CoreV1Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := kubepeer.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	core, err := corev1client.NewForConfig(&rest.Config{Host: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return srv, core
}

func k8sCfg() configs.K8sDiscoveryConfig {
	return configs.K8sDiscoveryConfig{ClusterIdentifier: testCluster, PodNameEnvKey: "POD_NAME", PodNamespaceEnvKey: "POD_NAMESPACE"}
}

// announcedPod adds a pod announcing a node of role at host:port, as a Druid process of that role leaves its pod.
func announcedPod(srv *kubepeer.Server, name, cluster, role, hostPort string, ready ...bool) {
	host, port, _ := strings.Cut(hostPort, ":")
	node := fmt.Sprintf(`{"druidNode":{"service":"druid/%[1]s","host":%[2]q,"bindOnHost":false,"plaintextPort":%[3]s,"port":-1,`+
		`"tlsPort":-1,"enablePlaintextPort":true,"enableTlsPort":false},"nodeType":%[1]q,"services":{}}`, k8sRoleName(role), host, port)
	srv.AddPod(testNS, name, map[string]string{"app": "druid", K8sClusterLabel: cluster, K8sRoleLabel(role): "true",
		K8sIDHashLabel: K8sIDHash(hostPort)}, map[string]string{K8sNodeAnnotation(role): node}, ready...)
}

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Role+" "+n.Name)
	}
	slices.Sort(out)
	return out
}

// waitNodes waits, with a deadline, for the nodes of role to be want.
func waitNodes(t *testing.T, k *Kubernetes, role string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes, err := k.Nodes(context.Background(), role)
		got := names(nodes)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s nodes = %v (error %v), want %v", role, got, err, want)
		}
		time.Sleep(10 * time.Millisecond) // polling the watch's state; the deadline bounds it
	}
}

// TestKubernetesNodes reads the cluster as a Broker's K8sDruidNodeDiscoveryProvider does: only this cluster's pods
// of the role, only while every regular container is ready (native sidecars' statuses ignored), through readiness
// flips, bookmarks, a relist after 410 Gone, and deletion.
func TestKubernetesNodes(t *testing.T) {
	srv, core := startKube(t)
	announcedPod(srv, "historical-0", testCluster, RoleHistorical, "127.0.0.11:8083", true, true)
	announcedPod(srv, "historical-1", testCluster, RoleHistorical, "127.0.0.12:8083", true, false)
	announcedPod(srv, "other-cluster", "druid-other", RoleHistorical, "127.0.0.13:8083", true)
	announcedPod(srv, "broker-0", testCluster, "BROKER", "127.0.0.14:8082", true)
	srv.AddPod(testNS, "unannounced", map[string]string{"app": "druid"}, map[string]string{"a": "b"}, true)
	k := NewKubernetes(core, testNS, k8sCfg(), KubernetesOptions{RetryWait: 20 * time.Millisecond})
	defer k.Close()

	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083")
	nodes, err := k.Nodes(context.Background())
	if err != nil || !slices.Equal(names(nodes), []string{"BROKER 127.0.0.14:8082", "HISTORICAL 127.0.0.11:8083"}) {
		t.Fatalf("every role: %v, %v", names(nodes), err)
	}
	if n := nodes[1]; n.NodeType != "historical" || n.Host != "127.0.0.11" || n.PlaintextPort != 8083 || n.Service != "druid/historical" {
		t.Errorf("decoded node = %+v", n)
	}

	// MODIFIED and ready: added; MODIFIED and not ready: removed.
	srv.SetContainerReady(testNS, "historical-1", 1, true)
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083", "HISTORICAL 127.0.0.12:8083")
	srv.SetContainerReady(testNS, "historical-0", 0, false)
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.12:8083")
	// A native sidecar that is not ready does not take the Historical out; its own readiness does not count either.
	srv.SetInitContainerStatuses(testNS, "historical-1", false)
	srv.SetInitContainerStatuses(testNS, "historical-0", true)
	srv.SetContainerReady(testNS, "broker-0", 0, false) // a later change, to know the two above were seen
	waitNodes(t, k, "BROKER")
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.12:8083")

	// A bookmark moves the watch on without a relist.
	lists, watches := srv.Calls()
	srv.Bookmark()
	srv.SetContainerReady(testNS, "historical-0", 0, true)
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083", "HISTORICAL 127.0.0.12:8083")
	if l, w := srv.Calls(); l != lists || w != watches {
		t.Errorf("after a bookmark: %d lists and %d watches, want %d and %d (no relist, no new watch)", l, w, lists, watches)
	}

	// A watch the server ends is resumed from the last version seen, without a relist.
	srv.EndWatches()
	srv.SetContainerReady(testNS, "historical-0", 0, false)
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.12:8083")
	srv.SetContainerReady(testNS, "historical-0", 0, true)
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083", "HISTORICAL 127.0.0.12:8083")
	if l, w := srv.Calls(); l != lists || w <= watches {
		t.Errorf("after the server ended the watches: %d lists and %d watches, want %d lists and more than %d watches", l, w, lists, watches)
	}

	// 410 Gone ends the watch: the watcher lists again at once and watches from the new version.
	srv.Expire()
	srv.DeletePod(testNS, "historical-1")
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083")
	deadline := time.Now().Add(10 * time.Second)
	for l, _ := srv.Calls(); l < lists+2; l, _ = srv.Calls() { // one relist per watched role
		if time.Now().After(deadline) {
			t.Fatalf("no relist after 410 Gone: %d lists, had %d", l, lists)
		}
		time.Sleep(10 * time.Millisecond)
	}
	announcedPod(srv, "historical-2", testCluster, RoleHistorical, "127.0.0.15:8083", true)
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083", "HISTORICAL 127.0.0.15:8083")

	// Leaving the selector (the labels removed by an unannouncement) is a DELETED event.
	srv.DeletePod(testNS, "historical-2")
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083")
}

// TestKubernetesBadAnnotation: a pod whose annotation is not a DiscoveryDruidNode is reported; the others are read.
func TestKubernetesBadAnnotation(t *testing.T) {
	srv, core := startKube(t)
	announcedPod(srv, "historical-0", testCluster, RoleHistorical, "127.0.0.11:8083", true)
	srv.AddPod(testNS, "broken", map[string]string{K8sClusterLabel: testCluster, K8sRoleLabel(RoleHistorical): "true"},
		map[string]string{K8sNodeAnnotation(RoleHistorical): "{not json"}, true)
	k := NewKubernetes(core, testNS, k8sCfg(), KubernetesOptions{})
	defer k.Close()
	nodes, err := k.Nodes(context.Background(), RoleHistorical)
	if err == nil || !strings.Contains(err.Error(), "druid/broken") || len(nodes) != 1 {
		t.Fatalf("nodes %v, error %v: want the good pod and an error naming druid/broken", names(nodes), err)
	}
}

// TestKubernetesLeaders reads the leader ConfigMaps as Druid's ConfigMap lock writes them.
func TestKubernetesLeaders(t *testing.T) {
	srv, core := startKube(t)
	cfg := k8sCfg()
	cfg.OverlordLeaderNamespace = "control"
	k := NewKubernetes(core, testNS, cfg, KubernetesOptions{})
	defer k.Close()
	if l, err := k.CoordinatorLeader(context.Background()); l != nil || err != nil {
		t.Fatalf("no ConfigMap: leader %v, error %v; want none", l, err)
	}
	srv.SetLeader(testNS, testCluster+"-leaderelection-coordinator", "http://127.0.0.21:8081")
	srv.SetLeader("control", testCluster+"-leaderelection-overlord", "https://127.0.0.22:8290")
	srv.SetLeader(testNS, testCluster+"-leaderelection-overlord", "http://127.0.0.99:8090") // not the namespace configured
	c, err := k.CoordinatorLeader(context.Background())
	if err != nil || c == nil || c.URL != "http://127.0.0.21:8081" {
		t.Errorf("coordinator leader %+v, %v", c, err)
	}
	o, err := k.OverlordLeader(context.Background())
	if err != nil || o == nil || o.URL != "https://127.0.0.22:8290" {
		t.Errorf("overlord leader %+v, %v", o, err)
	}
}

func announcerCfg(t *testing.T, hostPort string) *configs.Config {
	t.Helper()
	t.Setenv("TEST_POD", "historical-0")
	t.Setenv("TEST_POD_NS", testNS)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.host=" + hostPort,
		"druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier=" + testCluster,
		"druid.discovery.k8s.podNameEnvKey=TEST_POD", "druid.discovery.k8s.podNamespaceEnvKey=TEST_POD_NS"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestKubernetesAnnouncer patches the pod as K8sDruidNodeAnnouncer does and removes the same paths again; a failing
// API server is tried 3 times; a pod without labels cannot be announced on, as in Druid.
func TestKubernetesAnnouncer(t *testing.T) {
	srv, core := startKube(t)
	srv.AddPod(testNS, "historical-0", map[string]string{"app": "druid"}, map[string]string{"note": "x"}, true)
	cfg := announcerCfg(t, "127.0.0.11:8083")
	node := HistoricalNodeJSON(cfg, time.Unix(0, 0), nil)
	a, err := NewKubernetesAnnouncer(core, cfg, RoleHistorical, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.firstWait = time.Millisecond
	srv.FailPatches(2)
	if err := a.Announce(context.Background()); err != nil {
		t.Fatal(err)
	}
	patches := srv.Patches()
	if len(patches) != 3 || patches[2].Status != http.StatusOK || patches[2].ContentType != "application/json-patch+json" {
		t.Fatalf("patches %+v: want 2 refused and a third taken, as application/json-patch+json", patches)
	}
	var ops []map[string]string
	if err := json.Unmarshal(patches[2].Body, &ops); err != nil {
		t.Fatal(err)
	}
	wantOps := []map[string]string{
		{"op": "add", "path": "/metadata/labels/druidDiscoveryAnnouncement-historical", "value": "true"},
		{"op": "add", "path": "/metadata/labels/druidDiscoveryAnnouncement-id-hash", "value": K8sIDHash("127.0.0.11:8083")},
		{"op": "add", "path": "/metadata/labels/druidDiscoveryAnnouncement-cluster-identifier", "value": testCluster},
		{"op": "add", "path": "/metadata/annotations/druidNodeInfo-historical", "value": string(node)},
	}
	if fmt.Sprint(ops) != fmt.Sprint(wantOps) {
		t.Errorf("patch\n%v\nwant\n%v", ops, wantOps)
	}
	pod := srv.Pod(testNS, "historical-0")
	wantLabels := map[string]string{"app": "druid", "druidDiscoveryAnnouncement-historical": "true",
		"druidDiscoveryAnnouncement-id-hash": K8sIDHash("127.0.0.11:8083"), "druidDiscoveryAnnouncement-cluster-identifier": testCluster}
	if fmt.Sprint(pod.Labels) != fmt.Sprint(wantLabels) || pod.Annotations["druidNodeInfo-historical"] != string(node) {
		t.Errorf("announced pod: labels %v, annotations %v", pod.Labels, pod.Annotations)
	}
	// What the patch wrote is what discovery reads.
	k := NewKubernetes(core, testNS, k8sCfg(), KubernetesOptions{})
	defer k.Close()
	waitNodes(t, k, RoleHistorical, "HISTORICAL 127.0.0.11:8083")

	if err := a.Unannounce(context.Background()); err != nil {
		t.Fatal(err)
	}
	pod = srv.Pod(testNS, "historical-0")
	if fmt.Sprint(pod.Labels) != "map[app:druid]" || fmt.Sprint(pod.Annotations) != "map[note:x]" {
		t.Errorf("unannounced pod: labels %v, annotations %v", pod.Labels, pod.Annotations)
	}
	waitNodes(t, k, RoleHistorical)
	// A second withdrawal (the node's stop, then the announcer's) sends nothing.
	n := len(srv.Patches())
	if err := a.Unannounce(context.Background()); err != nil || len(srv.Patches()) != n {
		t.Errorf("second Unannounce: %v, %d patches after %d", err, len(srv.Patches()), n)
	}

	// Without labels, "add" has no map to add to: the API server refuses the patch (422), as Druid warns.
	srv.AddPod(testNS, "bare", nil, nil, true)
	t.Setenv("TEST_POD", "bare")
	b, err := NewKubernetesAnnouncer(core, cfg, RoleHistorical, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.firstWait = time.Millisecond
	if err := b.Announce(context.Background()); err == nil || !strings.Contains(err.Error(), "at least one label") {
		t.Errorf("announcing on a pod without labels: %v", err)
	}
}

// TestKubernetesAnnouncerMinValueHash: a host:port hashing to Integer.MIN_VALUE gives the label value
// "-2147483648", which the API server refuses (a label value starts with a letter or digit); Druid's announcer
// computes the same value and fails the same way, so the failure is reported, never hidden.
func TestKubernetesAnnouncerMinValueHash(t *testing.T) {
	srv, core := startKube(t)
	srv.AddPod(testNS, "historical-0", map[string]string{"app": "druid"}, map[string]string{"note": "x"}, true)
	cfg := announcerCfg(t, minValueHost)
	a, err := NewKubernetesAnnouncer(core, cfg, RoleHistorical, HistoricalNodeJSON(cfg, time.Unix(0, 0), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.firstWait = time.Millisecond
	err = a.Announce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "-2147483648") {
		t.Fatalf("announcing %s: %v, want the API server's refusal of the label value -2147483648", minValueHost, err)
	}
	if p := srv.Patches(); len(p) != 3 || p[0].Status != http.StatusUnprocessableEntity {
		t.Errorf("patches %+v: want 3 tries refused with 422", p)
	}
}

// TestKubernetesWatchTooOld: a watch from a resourceVersion older than the server's history gets 410 Gone, which the
// watcher takes as the sign to list again.
func TestKubernetesWatchTooOld(t *testing.T) {
	srv, core := startKube(t)
	announcedPod(srv, "historical-0", testCluster, RoleHistorical, "127.0.0.11:8083", true)
	srv.Expire()
	k := NewKubernetes(core, testNS, k8sCfg(), KubernetesOptions{})
	defer k.Close()
	w := k.watcher(RoleHistorical)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.watch(ctx, "1"); !isGone(err) {
		t.Fatalf("watch from resourceVersion 1 after a compaction: %v, want 410 Gone", err)
	}
}
