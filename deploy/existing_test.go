package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestExistingApacheDruidChart adds the companion to the Historical of the Apache Druid chart the way an operator
// would: post-render.sh as helm's post-renderer, fed the chart's rendered objects (a fixture in its shape). The
// result must be the chart's pod with the native sidecar added and druid_host set in both containers, each reading
// the same configuration, on the same cache volume.
func TestExistingApacheDruidChart(t *testing.T) {
	testenv.Integration(t)
	fixture := filepath.Join("existing", "testdata", "apache-druid-chart.yaml")
	in, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join("existing", "post-render.sh"), filepath.Join("existing", "apache-druid-chart"))
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = os.Environ()
	if _, err := exec.LookPath("kubectl"); err != nil {
		cmd.Env = append(cmd.Env, "KUSTOMIZE="+kustomizeTool.path(t))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("post-render.sh: %v\n%s", err, stderr.Bytes())
	}
	objs := decodeRendered(t, "post-render.sh existing/apache-druid-chart", out)
	base := decodeFile(t, fixture)
	if len(objs) != len(base) {
		t.Errorf("the post-renderer returned %d objects for %d", len(objs), len(base))
	}
	sts := only[*appsv1.StatefulSet](t, objs)
	spec := &sts.Spec.Template.Spec
	side := container(t, spec, "druid-sidecar")
	hist := container(t, spec, "druid")

	// The chart's pod, untouched but for the sidecar and druid_host.
	want := only[*appsv1.StatefulSet](t, base).Spec.Template.Spec.DeepCopy()
	got := spec.DeepCopy()
	got.InitContainers = slices.DeleteFunc(got.InitContainers, func(c corev1.Container) bool { return c.Name == side.Name })
	if len(got.InitContainers) == 0 {
		got.InitContainers = nil
	}
	for i := range got.Containers {
		got.Containers[i].Env = slices.DeleteFunc(got.Containers[i].Env, func(e corev1.EnvVar) bool { return e.Name == "druid_host" })
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the patched pod differs from the chart's beyond the sidecar and druid_host:\n got %+v\nwant %+v", got, want)
	}

	checkSidecarContainer(t, spec, side, true)
	cms := ofType[*corev1.ConfigMap](objs)
	// This chart configures Druid by variables only: neither container reads a properties file of the test's.
	sideCfg := loadConfig(t, spec, side, cms, nil)
	histCfg := loadConfig(t, spec, hist, cms, nil)
	if a, b := sideCfg.Node.HostAndPort(), histCfg.Node.HostAndPort(); a != b {
		t.Errorf("druid-sidecar looks for the Historical as %s, the Historical announces %s", a, b)
	}
	if sideCfg.Node.Host != podValues["status.podIP"] {
		t.Errorf("druid.host = %q, want the pod's address (the chart's Service is not headless)", sideCfg.Node.Host)
	}
	checkSameDruidEnv(t, hist, side, cms)
	if !reflect.DeepEqual(sideCfg.SegmentCache.Locations(), histCfg.SegmentCache.Locations()) {
		t.Errorf("cache locations: druid-sidecar %+v, Historical %+v", sideCfg.SegmentCache.Locations(), histCfg.SegmentCache.Locations())
	}
	if sideCfg.Sidecar.PrefetchMaxBytes == 0 {
		t.Errorf("druid.sidecar.prefetch.maxBytes is 0: companion would prefetch nothing")
	}
	checkProbe(t, "druid-sidecar startupProbe", side, side.StartupProbe, healthPath, sideCfg.Sidecar.CompanionPort)
	checkProbe(t, "druid-sidecar livenessProbe", side, side.LivenessProbe, healthPath, sideCfg.Sidecar.CompanionPort)
	checkGoMemLimit(t, "StatefulSet "+sts.Name, side)
	checkCacheShared(t, sts, sideCfg, side, hist)
	if sc := spec.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != druidUID {
		t.Errorf("pod securityContext %+v: want fsGroup %d, so that the cache is writable for both", sc, druidUID)
	}
}

// operatorDruid is the part of druid-operator's Druid resource druid-additional-container.yaml sets, with the field
// names of druid-operator's API (apis/druid/v1alpha1): decoding it strictly fails on a misspelt field.
type operatorDruid struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Nodes map[string]struct {
			Env                 []corev1.EnvVar               `json:"env"`
			AdditionalContainer []operatorAdditionalContainer `json:"additionalContainer"`
		} `json:"nodes"`
	} `json:"spec"`
}

// operatorAdditionalContainer is druid-operator's AdditionalContainer: all it passes on to the pod.
type operatorAdditionalContainer struct {
	RunAsInit       bool                        `json:"runAsInit"`
	Image           string                      `json:"image"`
	ContainerName   string                      `json:"containerName"`
	Command         []string                    `json:"command"`
	ImagePullPolicy corev1.PullPolicy           `json:"imagePullPolicy,omitempty"`
	Args            []string                    `json:"args,omitempty"`
	SecurityContext *corev1.SecurityContext     `json:"securityContext,omitempty"`
	Resources       corev1.ResourceRequirements `json:"resources,omitempty"`
	VolumeMounts    []corev1.VolumeMount        `json:"volumeMounts,omitempty"`
	Env             []corev1.EnvVar             `json:"env,omitempty"`
	EnvFrom         []corev1.EnvFromSource      `json:"envFrom,omitempty"`
}

// TestOperatorAdditionalContainer builds the pod druid-operator would make from druid-additional-container.yaml:
// the example StatefulSet's (made from the same Druid resource: its env is the node's, plus the operator's
// configMapSHA) with the additional container converted as the operator converts it. The companion must read the
// Historical's configuration, look for it under its druid.host, and share its cache.
func TestOperatorAdditionalContainer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(operatorDir, "druid-additional-container.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d operatorDruid
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		t.Fatalf("druid-additional-container.yaml does not decode as druid-operator's Druid resource: %v", err)
	}
	if d.APIVersion != "druid.apache.org/v1alpha1" || d.Kind != "Druid" {
		t.Errorf("apiVersion %s, kind %s: want druid-operator's druid.apache.org/v1alpha1 Druid", d.APIVersion, d.Kind)
	}
	node, ok := d.Spec.Nodes["historicals"]
	if !ok || len(node.AdditionalContainer) != 1 {
		t.Fatalf("want the historicals node with one additionalContainer, have %+v", d.Spec.Nodes)
	}
	ac := node.AdditionalContainer[0]
	if ac.RunAsInit {
		t.Errorf("runAsInit: true makes companion an init container that must exit before the Historical starts")
	}

	sts := only[*appsv1.StatefulSet](t, decodeFile(t, filepath.Join(operatorDir, "historical-statefulset.yaml")))
	spec := &sts.Spec.Template.Spec
	hist := container(t, spec, "druid-tiny-cluster-historicals")
	if name := "druid-" + d.Metadata.Name + "-historicals"; sts.Name != name {
		t.Errorf("the example StatefulSet is %s, not the one druid-operator makes for this resource's node (%s)", sts.Name, name)
	}
	ownEnv := slices.DeleteFunc(slices.Clone(hist.Env), func(e corev1.EnvVar) bool { return e.Name == "configMapSHA" })
	if !reflect.DeepEqual(ownEnv, node.Env) {
		t.Errorf("the example StatefulSet's Historical env %+v is not the node's env %+v", ownEnv, node.Env)
	}
	spec.Containers = append(spec.Containers, corev1.Container{Image: ac.Image, Name: ac.ContainerName,
		Resources: ac.Resources, VolumeMounts: ac.VolumeMounts, Command: ac.Command, Args: ac.Args,
		ImagePullPolicy: ac.ImagePullPolicy, SecurityContext: ac.SecurityContext, Env: ac.Env, EnvFrom: ac.EnvFrom})
	side := container(t, spec, ac.ContainerName)
	hist = container(t, spec, "druid-tiny-cluster-historicals")
	checkPodBasics(t, sts)
	if len(side.Command) != 1 || filepath.Base(side.Command[0]) != "druid-sidecar" || len(side.Args) == 0 || side.Args[0] != "companion" {
		t.Errorf("%s runs %q %q, want druid-sidecar companion (the operator requires the command)", side.Name, side.Command, side.Args)
	}
	if uid := effectiveUID(spec, side); uid != druidUID {
		t.Errorf("%s runs as uid %d, want %d", side.Name, uid, druidUID)
	}
	cms := ofType[*corev1.ConfigMap](decodeFile(t, filepath.Join(operatorDir, "operator-configmaps.yaml")))
	cfg := loadConfig(t, spec, side, cms, propertiesArgs(t, side))
	histCfg := loadConfig(t, spec, hist, cms, []string{
		mountPathOf(t, hist, "common-config-volume") + "/common.runtime.properties",
		mountPathOf(t, hist, "nodetype-config-volume") + "/runtime.properties"})
	if a, b := cfg.Node.HostAndPort(), histCfg.Node.HostAndPort(); a != b {
		t.Errorf("druid-sidecar looks for the Historical as %s, the Historical announces %s", a, b)
	}
	checkHostName(t, sts, side.Name, cfg)
	checkSameDruidEnv(t, hist, side, cms)
	checkGoMemLimit(t, "additionalContainer", side)
	checkCacheShared(t, sts, cfg, side, hist)
	if !strings.HasPrefix(cfg.Node.Host, podValues["metadata.name"]+".") {
		t.Errorf("druid.host %q is not the pod's DNS name", cfg.Node.Host)
	}
}
