package agent

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/kubepeer"
)

// TestServeKubernetesDiscovery runs serve in a cluster with Kubernetes discovery and no ZooKeeper, against the
// API-server stand-in, as the cluster sees it: the leader Coordinator is found through its ConfigMap; the pod is
// patched with exactly the labels and annotation of K8sDruidNodeAnnouncer, and nothing reports ready before the
// patch is taken; a Broker's discovery then finds the Historical; shutdown removes the announcement.
func TestServeKubernetesDiscovery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube, err := kubepeer.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := kube.WriteKubeconfig(t.TempDir(), "default")
	if err != nil {
		t.Fatal(err)
	}
	const ns, pod, cluster = "druid", "historical-0", "druid-k8s-test"
	t.Setenv("KUBECONFIG", kubeconfig)
	t.Setenv("TEST_K8S_POD", pod)
	t.Setenv("TEST_K8S_NAMESPACE", ns)
	kube.AddPod(ns, pod, map[string]string{"app": "druid"}, map[string]string{"kubectl.kubernetes.io/default-container": "historical"}, true)

	coord, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	coord.SetVersion("38.0.0")
	kube.SetLeader(ns, cluster+"-leaderelection-coordinator", coord.URL())

	port := freePort(t)
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(port),
		"druid.zk.service.enabled=false", "druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier="+cluster,
		"druid.discovery.k8s.podNameEnvKey=TEST_K8S_POD", "druid.discovery.k8s.podNamespaceEnvKey=TEST_K8S_NAMESPACE",
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, t.TempDir()))
	base := "http://" + cfg.Node.HostAndPort()

	// While the API server holds the announcement patch, serve answers but is not ready by any of its probes.
	var mu sync.Mutex
	atPatch := map[string]string{}
	kube.OnPatch(func(kubepeer.Patch) {
		mu.Lock()
		defer mu.Unlock()
		if len(atPatch) > 0 {
			return // the unannouncement
		}
		for _, p := range []string{ReadyPath, ReadinessPath, LoadStatusPath} {
			resp, err := http.Get(base + p)
			if err != nil {
				atPatch[p] = err.Error()
				continue
			}
			var body [64]byte
			n, _ := resp.Body.Read(body[:])
			resp.Body.Close()
			atPatch[p] = fmt.Sprintf("%d %s", resp.StatusCode, body[:n])
		}
	})

	r := start(t, cfg)
	mu.Lock()
	for p, got := range atPatch {
		want := map[string]string{ReadyPath: "503 false\n", ReadinessPath: "503 ", LoadStatusPath: `200 {"cacheInitialized":false}` + "\n"}[p]
		if got != want {
			t.Errorf("%s while the patch was pending: %q, want %q", p, got, want)
		}
	}
	if len(atPatch) != 3 {
		t.Errorf("probes while the patch was pending: %v", atPatch)
	}
	mu.Unlock()
	for _, p := range []string{ReadyPath, ReadinessPath} {
		resp, err := http.Get(r.url + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s once announced: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	if coord.Count("/druid/coordinator/v1/metadata/bootstrapSegments") == 0 {
		t.Errorf("the leader Coordinator of the ConfigMap was never asked for the bootstrap segments: %+v", coord.Requests())
	}

	// The pod as the announcer leaves it.
	hostPort := "127.0.0.1:" + strconv.Itoa(port)
	p := kube.Pod(ns, pod)
	wantLabels := map[string]string{"app": "druid", "druidDiscoveryAnnouncement-historical": "true",
		"druidDiscoveryAnnouncement-id-hash": discovery.K8sIDHash(hostPort), "druidDiscoveryAnnouncement-cluster-identifier": cluster}
	if fmt.Sprint(p.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("pod labels %v, want %v", p.Labels, wantLabels)
	}
	if len(p.Annotations) != 2 {
		t.Errorf("pod annotations %v: want the pod's own and druidNodeInfo-historical", p.Annotations)
	}
	n, err := discovery.ParseNode([]byte(p.Annotations["druidNodeInfo-historical"]))
	if err != nil || n.Host != "127.0.0.1" || n.PlaintextPort != port || n.NodeType != "historical" || n.DataNode == nil ||
		n.DataNode.ServerType != "historical" || n.DataNode.Tier != "_default_tier" {
		t.Errorf("annotation decodes to %+v (%v)", n, err)
	}
	if ps := kube.Patches(); len(ps) != 1 || ps[0].ContentType != "application/json-patch+json" || ps[0].Namespace != ns {
		t.Errorf("patches %+v: want one JSON Patch on %s/%s", ps, ns, pod)
	}

	// A Broker's discovery finds it.
	core, err := corev1client.NewForConfig(&rest.Config{Host: kube.URL()})
	if err != nil {
		t.Fatal(err)
	}
	k := discovery.NewKubernetes(core, ns, cfg.Discovery.K8s, discovery.KubernetesOptions{})
	defer k.Close()
	nodes, err := k.Nodes(ctx, discovery.RoleHistorical)
	if err != nil || len(nodes) != 1 || nodes[0].Name != hostPort {
		t.Errorf("a Broker's view: %+v (%v)", nodes, err)
	}

	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	p = kube.Pod(ns, pod)
	if fmt.Sprint(p.Labels) != "map[app:druid]" || len(p.Annotations) != 1 {
		t.Errorf("after shutdown: labels %v, annotations %v; want the announcement removed", p.Labels, p.Annotations)
	}
}
