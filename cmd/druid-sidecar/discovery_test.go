package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/kubepeer"
)

// TestUnknownDiscoveryType: a discovery type druid-sidecar does not implement is a configuration error naming the
// key and the value for serve, cluster and audit (exit 2), never a run that announces nothing; k8s without a
// cluster identifier is one too.
func TestUnknownDiscoveryType(t *testing.T) {
	for _, cmd := range []string{"serve", "cluster", "audit"} {
		for _, tc := range []struct {
			sets []string
			want string
		}{
			{[]string{"druid.discovery.type=zookeeper"}, `druid.discovery.type: expected one of curator, k8s; got "zookeeper"`},
			{[]string{"druid.discovery.type=k8s"}, "druid.discovery.k8s.clusterIdentifier: not set"},
		} {
			args := []string{cmd, "--set", "druid.host=127.0.0.1", "--set", `druid.segmentCache.locations=[{"path":"` + t.TempDir() + `","maxSize":"1m"}]`}
			for _, s := range tc.sets {
				args = append(args, "--set", s)
			}
			code, _, stderr := runCLI(t, []string{}, args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s %v: exit %d, stderr %q; want %d and %q", cmd, tc.sets, code, stderr, exitBadInput, tc.want)
			}
		}
	}
}

// TestClusterKubernetesDiscovery: `cluster` reads the nodes and leaders of a cluster with Kubernetes discovery and
// no ZooKeeper from the API server (the stand-in): the ready pods' announcements and the leader ConfigMaps.
func TestClusterKubernetesDiscovery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube, err := kubepeer.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := kube.WriteKubeconfig(t.TempDir(), "druid")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	t.Setenv("POD_NAMESPACE", "") // outside a pod: the kubeconfig's namespace
	const cluster = "druid-cli"
	for i, ready := range []bool{true, false} {
		hostPort := fmt.Sprintf("127.0.0.%d:8083", 31+i)
		node := fmt.Sprintf(`{"druidNode":{"service":"druid/historical","host":"127.0.0.%d","plaintextPort":8083,"tlsPort":-1},`+
			`"nodeType":"historical","services":{"dataNodeService":{"type":"dataNodeService","tier":"hot","maxSize":1000,`+
			`"serverType":"historical","priority":0}}}`, 31+i)
		kube.AddPod("druid", fmt.Sprintf("historical-%d", i), map[string]string{discovery.K8sClusterLabel: cluster,
			discovery.K8sRoleLabel(discovery.RoleHistorical): "true", discovery.K8sIDHashLabel: discovery.K8sIDHash(hostPort)},
			map[string]string{discovery.K8sNodeAnnotation(discovery.RoleHistorical): node}, ready)
	}
	kube.SetLeader("druid", cluster+"-leaderelection-coordinator", "http://127.0.0.30:8081")
	code, stdout, stderr := runCLI(t, []string{}, "cluster", "--format", "json", "--set", "druid.zk.service.enabled=false",
		"--set", "druid.discovery.type=k8s", "--set", "druid.discovery.k8s.clusterIdentifier="+cluster)
	if code != exitOK {
		t.Fatalf("cluster: exit %d, stderr %s", code, stderr)
	}
	var c struct {
		Coordinator *discovery.Leader `json:"coordinatorLeader"`
		Overlord    *discovery.Leader `json:"overlordLeader"`
		Nodes       []discovery.Node  `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatal(err)
	}
	if c.Coordinator == nil || c.Coordinator.URL != "http://127.0.0.30:8081" || c.Overlord != nil {
		t.Errorf("leaders: %+v, %+v", c.Coordinator, c.Overlord)
	}
	if len(c.Nodes) != 1 || c.Nodes[0].Name != "127.0.0.31:8083" || c.Nodes[0].DataNode == nil || c.Nodes[0].DataNode.Tier != "hot" {
		t.Errorf("nodes: %+v; want the ready Historical only", c.Nodes)
	}
}
