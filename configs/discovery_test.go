package configs

import (
	"strings"
	"testing"
)

// TestDiscoveryType: curator and k8s are taken, k8s with Druid's defaults for the pod's environment variables; an
// unknown type or a k8s cluster without a valid identifier is a problem naming the key and the value.
func TestDiscoveryType(t *testing.T) {
	c, err := Load(LoadOptions{Environ: []string{}, Sets: []string{"druid.discovery.type=k8s",
		"druid.discovery.k8s.clusterIdentifier=druid-prod-1", "druid.discovery.k8s.coordinatorLeaderElectionConfigMapNamespace=ctl"}})
	if err != nil {
		t.Fatal(err)
	}
	want := K8sDiscoveryConfig{ClusterIdentifier: "druid-prod-1", PodNameEnvKey: "POD_NAME", PodNamespaceEnvKey: "POD_NAMESPACE",
		CoordinatorLeaderNamespace: "ctl"}
	if c.Discovery.Type != DiscoveryK8s || c.Discovery.K8s != want {
		t.Errorf("discovery = %+v, want k8s %+v", c.Discovery, want)
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"druid.discovery.type=zookeeper"}, `druid.discovery.type: expected one of curator, k8s; got "zookeeper"`},
		{[]string{"druid.discovery.type=k8s"}, "druid.discovery.k8s.clusterIdentifier: not set"},
		{[]string{"druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier=Druid_1"},
			`druid.discovery.k8s.clusterIdentifier: expected lower-case letters`},
		{[]string{"druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier=a-"}, `got "a-"`},
	} {
		_, err := Load(LoadOptions{Environ: []string{}, Sets: tc.sets})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.sets, err, tc.want)
		}
	}
}
