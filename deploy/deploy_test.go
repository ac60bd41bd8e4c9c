package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// The Druid endpoints the probes use (a Historical's, which `serve` and `companion` answer as well).
const (
	healthPath    = "/status/health"
	readinessPath = "/druid/historical/v1/readiness"
)

// druidUID is the uid and gid of Druid's image, which druid-sidecar must share with a Java Historical.
const druidUID = 1000

// cacheMargin is the share of the cache volume kept free beyond the locations' maxSize and the prefetch window:
// ext4 reserves 5% for root, which uid 1000 cannot use, and the filesystem's own metadata takes more.
const cacheMargin = 0.10

// The tools that render the chart and the kustomization, built from the Go module proxy at pinned versions, so
// that every machine renders with the same ones. kustomize 5.8.1 is the newest that builds with Go 1.26 (5.8.3 needs
// Go 1.27); it is built only where kubectl, which embeds kustomize, is missing.
var (
	helmTool      = goTool{name: "helm", module: "helm.sh/helm/v3", pkg: "helm.sh/helm/v3/cmd/helm", version: "v3.21.4"}
	kustomizeTool = goTool{name: "kustomize", module: "sigs.k8s.io/kustomize/kustomize/v5", pkg: "sigs.k8s.io/kustomize/kustomize/v5", version: "v5.8.1"}
)

// ---- the plain manifests ---------------------------------------------------------------------------------------

func TestManifestCompanion(t *testing.T) {
	objs := decodeFile(t, filepath.Join("kubernetes", "historical-companion.yaml"))
	checkCompanion(t, objs, "druid-sidecar", "historical")
	checkServices(t, objs)
}

func TestManifestServe(t *testing.T) {
	objs := decodeFile(t, filepath.Join("kubernetes", "historical-serve.yaml"))
	checkServe(t, objs, "druid-sidecar", "segment-server")
	checkServices(t, objs)
}

// TestManifestsKubernetesDiscovery switches each plain manifest to Kubernetes discovery as its ConfigMap says (the
// lines commented out as "#druid."), and checks the pod still holds together and has what Druid's Kubernetes
// discovery needs: its own ServiceAccount bound to the minimal Role, the pod's name and namespace in every container
// that announces or discovers, and the cluster identifier the Role's ConfigMaps are named after.
func TestManifestsKubernetesDiscovery(t *testing.T) {
	t.Run("companion", func(t *testing.T) {
		objs := k8sSwitched(t, decodeFile(t, filepath.Join("kubernetes", "historical-companion.yaml")))
		sts := checkCompanion(t, objs, "druid-sidecar", "historical")
		checkK8sDiscovery(t, objs, sts, "", "druid-sidecar", "historical")
	})
	t.Run("serve", func(t *testing.T) {
		objs := k8sSwitched(t, decodeFile(t, filepath.Join("kubernetes", "historical-serve.yaml")))
		sts := checkServe(t, objs, "druid-sidecar", "segment-server")
		checkK8sDiscovery(t, objs, sts, "", "druid-sidecar")
	})
}

// TestManifestSelectorsApart applies both plain manifests to one namespace, as the examples allow: no Service,
// StatefulSet or PodDisruptionBudget of one may select the other's pods.
func TestManifestSelectorsApart(t *testing.T) {
	a := decodeFile(t, filepath.Join("kubernetes", "historical-companion.yaml"))
	b := decodeFile(t, filepath.Join("kubernetes", "historical-serve.yaml"))
	checkSelectorsApart(t, a, b)
}

// checkSelectorsApart checks that no selector of one set of objects matches the pods of the other's StatefulSet.
func checkSelectorsApart(t *testing.T, a, b []any) {
	t.Helper()
	for _, pair := range [][2][]any{{a, b}, {b, a}} {
		pods := only[*appsv1.StatefulSet](t, pair[1]).Spec.Template.Labels
		for _, sel := range selectors(pair[0]) {
			if reflect.DeepEqual(sel.labels, pick(pods, sel.labels)) {
				t.Errorf("%s selects %v, which also matches the other release's pods %v", sel.what, sel.labels, pods)
			}
		}
	}
}

type selector struct {
	what   string
	labels map[string]string
}

// selectors are the label selectors of the Services, StatefulSets and PodDisruptionBudgets in objs.
func selectors(objs []any) []selector {
	var out []selector
	for _, s := range ofType[*corev1.Service](objs) {
		out = append(out, selector{"Service " + s.Name, s.Spec.Selector})
	}
	for _, s := range ofType[*appsv1.StatefulSet](objs) {
		out = append(out, selector{"StatefulSet " + s.Name, s.Spec.Selector.MatchLabels})
	}
	for _, p := range ofType[*policyv1.PodDisruptionBudget](objs) {
		if p.Spec.Selector != nil {
			out = append(out, selector{"PodDisruptionBudget " + p.Name, p.Spec.Selector.MatchLabels})
		}
	}
	return out
}

// ---- the Helm chart --------------------------------------------------------------------------------------------

const chartDir = "helm/druid-sidecar"

// serveValues turn the chart's defaults into a valid serve release.
var serveValues = []string{"--set", "mode=serve",
	"--set", "segmentServer.image.repository=registry.example.com/segment-server",
	"--set", "segmentServer.image.tag=1.0.0"}

func TestHelmCompanion(t *testing.T) {
	objs := decodeRendered(t, "helm template", helmTemplate(t))
	sts := checkCompanion(t, objs, "druid-sidecar", "historical")
	checkServices(t, objs)
	checkPDB(t, objs, sts)
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("StatefulSet %s: %d volume claim templates, want the segment cache's", sts.Name, len(sts.Spec.VolumeClaimTemplates))
	}
	if sts.Spec.Template.Annotations["checksum/config"] == "" {
		t.Errorf("StatefulSet %s: no checksum/config annotation; a change of the properties would not roll the pods", sts.Name)
	}
}

func TestHelmServe(t *testing.T) {
	objs := decodeRendered(t, "helm template (serve)", helmTemplate(t, serveValues...))
	sts := checkServe(t, objs, "druid-sidecar", "segment-server")
	checkServices(t, objs)
	checkPDB(t, objs, sts)
	c := container(t, &sts.Spec.Template.Spec, "druid-sidecar")
	if v := envValue(c, "druid_sidecar_upstream"); v != "http://127.0.0.1:8100" {
		t.Errorf("druid-sidecar: druid_sidecar_upstream = %q, want http://127.0.0.1:8100, the segment server's port", v)
	}
}

// TestHelmOptions renders the chart with the settings an operator changes most, and checks each still holds
// together.
func TestHelmOptions(t *testing.T) {
	testenv.Integration(t)
	t.Run("emptyDir", func(t *testing.T) {
		t.Parallel()
		objs := decodeRendered(t, "helm template", helmTemplate(t, "--set", "segmentCache.persistence.enabled=false",
			"--set", "segmentCache.emptyDir.sizeLimit=400Gi"))
		sts := checkCompanion(t, objs, "druid-sidecar", "historical")
		if len(sts.Spec.VolumeClaimTemplates) != 0 {
			t.Errorf("persistence off: %d volume claim templates, want none", len(sts.Spec.VolumeClaimTemplates))
		}
	})
	t.Run("ports", func(t *testing.T) {
		t.Parallel()
		objs := decodeRendered(t, "helm template", helmTemplate(t, "--set", "druidPort=8088", "--set", "sidecar.companionPort=9283"))
		sts := checkCompanion(t, objs, "druid-sidecar", "historical")
		if p := containerPort(t, container(t, &sts.Spec.Template.Spec, "historical"), "http"); p != 8088 {
			t.Errorf("historical: port http = %d, want 8088", p)
		}
		checkServices(t, objs)
	})
	t.Run("rolloutGate", func(t *testing.T) {
		t.Parallel()
		objs := decodeRendered(t, "helm template", helmTemplate(t, "--set", "sidecar.rolloutGate=true"))
		sts := checkCompanion(t, objs, "druid-sidecar", "historical")
		if c := container(t, &sts.Spec.Template.Spec, "druid-sidecar"); c.ReadinessProbe == nil {
			t.Error("sidecar.rolloutGate=true: no readiness probe on the companion")
		}
	})
	t.Run("existingConfigMap", func(t *testing.T) {
		t.Parallel()
		objs := decodeRendered(t, "helm template", helmTemplate(t, "--set", "properties.existingConfigMap=druid-historical-config"))
		if cms := ofType[*corev1.ConfigMap](objs); len(cms) != 0 {
			t.Errorf("existingConfigMap set: the chart rendered ConfigMap %s too", cms[0].Name)
		}
		sts := only[*appsv1.StatefulSet](t, objs)
		v := volume(t, &sts.Spec.Template.Spec, "config")
		if v.ConfigMap == nil || v.ConfigMap.Name != "druid-historical-config" {
			t.Errorf("existingConfigMap set: volume config = %+v, want ConfigMap druid-historical-config", v.VolumeSource)
		}
		// The plain manifest's ConfigMap is such an existing one: the pod must load with it.
		cm := only[*corev1.ConfigMap](t, decodeFile(t, filepath.Join("kubernetes", "historical-companion.yaml")))
		checkCompanion(t, append(objs, cm), "druid-sidecar", "historical")
	})
	t.Run("kubernetesDiscovery", func(t *testing.T) {
		t.Parallel()
		k8s := k8sValues(t)
		objs := decodeRendered(t, "helm template (k8s)", helmTemplate(t, k8s...))
		sts := checkCompanion(t, objs, "druid-sidecar", "historical")
		checkK8sDiscovery(t, objs, sts, "druid", "druid-sidecar", "historical")
		if sas := ofType[*corev1.ServiceAccount](objs); len(sas) != 1 || sas[0].Name != sts.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("discovery.type=k8s: ServiceAccounts %+v, want the pod's own, made by the chart", sas)
		}

		objs = decodeRendered(t, "helm template (k8s, serve)", helmTemplate(t, append(k8s, serveValues...)...))
		checkK8sDiscovery(t, objs, checkServe(t, objs, "druid-sidecar", "segment-server"), "druid", "druid-sidecar")

		// A ServiceAccount of the operator's: bound, not made.
		objs = decodeRendered(t, "helm template (k8s, own ServiceAccount)",
			helmTemplate(t, append(k8s, "--set", "serviceAccountName=druid")...))
		checkK8sDiscovery(t, objs, checkCompanion(t, objs, "druid-sidecar", "historical"), "druid", "druid-sidecar", "historical")
		if sas := ofType[*corev1.ServiceAccount](objs); len(sas) != 0 {
			t.Errorf("serviceAccountName set: the chart made ServiceAccount %s too", sas[0].Name)
		}
	})
	t.Run("zookeeperDiscovery", func(t *testing.T) {
		t.Parallel()
		// The default: nothing of Kubernetes discovery, no rights the pod does not use.
		objs := decodeRendered(t, "helm template", helmTemplate(t))
		if n := len(ofType[*rbacv1.Role](objs)) + len(ofType[*rbacv1.RoleBinding](objs)) + len(ofType[*corev1.ServiceAccount](objs)); n != 0 {
			t.Errorf("discovery.type=curator: %d RBAC objects, want none", n)
		}
		if sa := only[*appsv1.StatefulSet](t, objs).Spec.Template.Spec.ServiceAccountName; sa != "" {
			t.Errorf("discovery.type=curator: serviceAccountName %q, want the namespace's default", sa)
		}
	})
	t.Run("lint", func(t *testing.T) {
		t.Parallel()
		for _, values := range [][]string{nil, serveValues, k8sValues(t)} {
			args := append([]string{"lint", "--strict", chartDir}, values...)
			if _, err := runTool(t, helm(t), args...); err != nil {
				t.Error(err)
			}
		}
	})
}

// TestHelmRefuses checks that the chart fails with a message naming the mistake, rather than render a pod that
// cannot work.
func TestHelmRefuses(t *testing.T) {
	testenv.Integration(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"--set", "mode=sidecar"}, "mode"},
		{"misspelt value", []string{"--set", "segmentCache.mountpath=/data"}, "mountpath"},
		{"cache outside the volume", []string{"--set", "segmentCache.mountPath=/var/lib/druid"}, "not under segmentCache.mountPath"},
		{"serve without a segment server", []string{"--set", "mode=serve"}, "segmentServer.image.repository"},
		{"serve with the segment server's tag left empty", []string{"--set", "mode=serve",
			"--set", "segmentServer.image.repository=registry.example.com/segment-server"}, "segmentServer.image.tag"},
		{"Kubernetes without native sidecars", []string{"--kube-version", "1.28.9"}, "kubeVersion"},
		{"k8s discovery, the Historical without the extension", []string{"--set", "discovery.type=k8s"}, "druid-kubernetes-extensions"},
		{"k8s discovery, a cluster identifier Druid refuses", []string{"--set", "discovery.type=k8s",
			"--set", "discovery.k8s.clusterIdentifier=Druid_Prod"}, "clusterIdentifier"},
		{"unknown discovery, schema skipped", []string{"--skip-schema-validation", "--set", "discovery.type=zk"}, "must be curator"},
		{"unknown mode, schema skipped", []string{"--skip-schema-validation", "--set", "mode=sidecar"}, "must be companion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"template", "druid", chartDir, "--namespace", "druid", "--kube-version", "1.29.0"}, tc.args...)
			_, err := runTool(t, helm(t), args...)
			if err == nil {
				t.Fatalf("helm %s: rendered, want a failure mentioning %q", strings.Join(args, " "), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("failed without mentioning %q: %v", tc.want, err)
			}
		})
	}
}

// k8sValues turn the chart's defaults to Kubernetes discovery, with the extension in the Historical's loadList.
func k8sValues(t *testing.T) []string {
	t.Helper()
	var values struct {
		Properties struct{ Common string }
	}
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	common := strings.Replace(values.Properties.Common, `"postgresql-metadata-storage"]`,
		`"postgresql-metadata-storage","druid-kubernetes-extensions"]`, 1)
	if common == values.Properties.Common {
		t.Fatal("values.yaml: no druid.extensions.loadList ending with postgresql-metadata-storage to extend")
	}
	file := filepath.Join(t.TempDir(), "k8s.yaml")
	out, err := yaml.Marshal(map[string]any{"discovery": map[string]any{"type": "k8s"},
		"properties": map[string]any{"common": common}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--values", file}
}

// helmTemplate renders the chart as release "druid" in namespace "druid" on the oldest Kubernetes it supports.
func helmTemplate(t *testing.T, args ...string) []byte {
	t.Helper()
	testenv.Integration(t)
	all := append([]string{"template", "druid", chartDir, "--namespace", "druid", "--kube-version", "1.29.0"}, args...)
	out, err := runTool(t, helm(t), all...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---- the druid-operator patch ----------------------------------------------------------------------------------

const operatorDir = "kustomize/druid-operator"

// TestOperatorPatchDecodes decodes the patch on its own: a misspelt field fails here even without kustomize.
func TestOperatorPatchDecodes(t *testing.T) {
	patch := only[*appsv1.StatefulSet](t, decodeFile(t, filepath.Join(operatorDir, "companion-sidecar.yaml")))
	spec := &patch.Spec.Template.Spec
	if len(spec.Containers) != 0 || len(spec.Volumes) != 0 {
		t.Errorf("the patch changes the operator's containers or volumes; it must add the init container only")
	}
	checkSidecarContainer(t, spec, container(t, spec, "druid-sidecar"), true)
}

func TestKustomizeOperator(t *testing.T) {
	testenv.Integration(t)
	out, err := kustomizeBuild(t, operatorDir)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeRendered(t, "kustomize build "+operatorDir, out)
	sts := only[*appsv1.StatefulSet](t, objs)
	base := only[*appsv1.StatefulSet](t, decodeFile(t, filepath.Join(operatorDir, "historical-statefulset.yaml")))

	// The operator's own pod is untouched: the patch only adds.
	want := base.Spec.Template.Spec.DeepCopy()
	got := sts.Spec.Template.Spec.DeepCopy()
	got.InitContainers = slices.DeleteFunc(got.InitContainers, func(c corev1.Container) bool { return c.Name == "druid-sidecar" })
	if len(got.InitContainers) == 0 {
		got.InitContainers = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the patched pod differs from druid-operator's beyond the added sidecar:\n got %+v\nwant %+v", got, want)
	}

	spec := &sts.Spec.Template.Spec
	side := container(t, spec, "druid-sidecar")
	hist := container(t, spec, "druid-tiny-cluster-historicals")
	checkSidecarContainer(t, spec, side, true)
	checkPodBasics(t, sts)
	if uid := effectiveUID(spec, side); uid != druidUID {
		t.Errorf("druid-sidecar runs as uid %d, want %d", uid, druidUID)
	}

	// Loaded from the ConfigMaps druid-operator makes for this StatefulSet, as the patched pod would.
	cms := ofType[*corev1.ConfigMap](decodeFile(t, filepath.Join(operatorDir, "operator-configmaps.yaml")))
	cfg := loadConfig(t, spec, side, cms, propertiesArgs(t, side))
	port := containerPort(t, hist, "druid-port")
	if cfg.Node.PlaintextPort != port {
		t.Errorf("druid-sidecar reads druid.plaintextPort %d, but the Historical listens on %d (its druid.port)", cfg.Node.PlaintextPort, port)
	}
	checkProbe(t, "druid-sidecar startupProbe", side, side.StartupProbe, healthPath, cfg.Sidecar.CompanionPort)
	checkCacheShared(t, sts, cfg, side, hist)
	checkSameDruidEnv(t, hist, side, cms)

	// The Historical's own configuration, from the same ConfigMaps through its own mounts: the two name one server.
	histCfg := loadConfig(t, spec, hist, cms, []string{
		mountPathOf(t, hist, "common-config-volume") + "/common.runtime.properties",
		mountPathOf(t, hist, "nodetype-config-volume") + "/runtime.properties"})
	if a, b := cfg.Node.HostAndPort(), histCfg.Node.HostAndPort(); a != b {
		t.Errorf("druid-sidecar looks for the Historical as %s, the Historical announces %s", a, b)
	}
	checkHostName(t, sts, "druid-sidecar", cfg)
	checkHostName(t, sts, hist.Name, histCfg)
	checkNoSetHost(t, hist)
	checkGoMemLimit(t, "StatefulSet "+sts.Name, side)
	if envVar(side, "druid_plaintextPort") != nil || envVar(side, "druid_port") != nil {
		t.Errorf("druid-sidecar sets its port by variable; it must take the node's druid.port from its runtime.properties")
	}
}

// TestKustomizeKubernetesDiscovery renders druid-operator's Historical with the companion and the Kubernetes
// discovery component, as an operator's own kustomization would include them, and checks the pod against its
// ConfigMaps switched to Kubernetes discovery.
func TestKustomizeKubernetesDiscovery(t *testing.T) {
	testenv.Integration(t)
	dir := t.TempDir()
	// Relative paths: kustomize takes no absolute one as a kustomization's root.
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := filepath.Rel(dir, abs)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base, component := rel(operatorDir), rel(filepath.Join("kustomize", "kubernetes-discovery"))
	kustomization := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"+
		"resources:\n  - %s\ncomponents:\n  - %s\n", base, component)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := kustomizeBuild(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeRendered(t, "kustomize build (kubernetes-discovery)", out)
	objs = append(objs, k8sSwitched(t, decodeFile(t, filepath.Join(operatorDir, "operator-configmaps.yaml")))...)
	checkK8sDiscovery(t, objs, only[*appsv1.StatefulSet](t, objs), "", "druid-sidecar", "druid-tiny-cluster-historicals")
}

// mountPathOf is where the container mounts the volume.
func mountPathOf(t *testing.T, c *corev1.Container, volume string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return strings.TrimSuffix(m.MountPath, "/")
		}
	}
	t.Fatalf("%s does not mount volume %s", c.Name, volume)
	return ""
}

// checkSameDruidEnv checks that every druid_* variable of the Historical that sets a key druid-sidecar reads, and
// its metadata password, reach druid-sidecar with the same value once the kubelet has resolved them: both must read
// the same configuration. (Keys only Java reads, druid.processing.* say, need not be copied.)
func checkSameDruidEnv(t *testing.T, hist, side *corev1.Container, cms []*corev1.ConfigMap) {
	t.Helper()
	known := map[string]bool{}
	for _, k := range configs.Keys() {
		known[k.Name] = true
	}
	h, s := kubeletEnv(t, hist, cms), kubeletEnv(t, side, cms)
	for name, v := range h {
		key, isDruid := strings.CutPrefix(name, "druid_")
		if (isDruid && known["druid."+strings.ReplaceAll(key, "_", ".")]) || name == "DRUID_METADATA_PASSWORD" {
			if got, ok := s[name]; !ok || got != v {
				t.Errorf("%s: variable %s = %q, the Historical's is %q; both must read the same configuration", side.Name, name, got, v)
			}
		}
	}
}

// ---- the README's snippet -------------------------------------------------------------------------------------

// TestReadmeSnippet decodes the init container block that deploy/README.md and the repository's README.md tell
// operators to paste, and checks it against the companion of the plain manifest: what is pasted must be what is
// tested.
func TestReadmeSnippet(t *testing.T) {
	for _, readme := range []string{"README.md", filepath.Join("..", "README.md")} {
		t.Run(readme, func(t *testing.T) { checkReadmeSnippet(t, readme) })
	}
}

func checkReadmeSnippet(t *testing.T, readme string) {
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	var snippet string
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		if strings.Contains(block[1], "initContainers:") {
			snippet = block[1]
		}
	}
	if snippet == "" {
		t.Fatalf("%s: no yaml block with initContainers", readme)
	}
	var spec corev1.PodSpec
	if err := yaml.UnmarshalStrict([]byte(dedent(snippet)), &spec); err != nil {
		t.Fatalf("%s: the initContainers block does not decode as a pod spec: %v", readme, err)
	}
	side := container(t, &spec, "druid-sidecar")
	checkSidecarContainer(t, &spec, side, true)

	sts := only[*appsv1.StatefulSet](t, decodeFile(t, filepath.Join("kubernetes", "historical-companion.yaml")))
	want := container(t, &sts.Spec.Template.Spec, "druid-sidecar")
	if !reflect.DeepEqual(side.Args, want.Args) || !reflect.DeepEqual(side.Ports, want.Ports) ||
		!reflect.DeepEqual(side.Env, want.Env) || !reflect.DeepEqual(side.VolumeMounts, want.VolumeMounts) ||
		side.Image != want.Image || !reflect.DeepEqual(side.Resources, want.Resources) {
		t.Errorf("%s's snippet differs from kubernetes/historical-companion.yaml's druid-sidecar:\n got %+v\nwant %+v", readme, side, want)
	}
	for _, p := range []struct {
		what      string
		got, want *corev1.Probe
	}{{"startupProbe", side.StartupProbe, want.StartupProbe}, {"livenessProbe", side.LivenessProbe, want.LivenessProbe}} {
		if p.got == nil || p.got.HTTPGet == nil || !reflect.DeepEqual(*p.got.HTTPGet, *p.want.HTTPGet) {
			t.Errorf("%s's snippet: %s %+v, want the manifest's %+v", readme, p.what, p.got, p.want)
		}
	}
}

// dedent removes the indentation of the first line from every line.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// ---- the Dockerfile --------------------------------------------------------------------------------------------

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	type stage struct {
		from, name, platform string
		instr                [][2]string // instruction, arguments
	}
	var stages []*stage
	var args = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var line string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if line == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		instr, rest, _ := strings.Cut(line, " ")
		instr, rest = strings.ToUpper(instr), strings.TrimSpace(rest)
		line = ""
		switch {
		case instr == "FROM":
			f := strings.Fields(rest)
			s := &stage{}
			if p, ok := strings.CutPrefix(f[0], "--platform="); ok {
				s.platform, f = p, f[1:]
			}
			s.from = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0 && instr == "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case len(stages) == 0:
			t.Errorf("Dockerfile: %s before the first FROM", instr)
		default:
			s := stages[len(stages)-1]
			s.instr = append(s.instr, [2]string{instr, rest})
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The build stage: the Go release of go.mod, on the build machine's platform, cross-compiling with
	// `make image-binary` for the target's (no emulation).
	goVersion := goDirective(t)
	if got := strings.ReplaceAll(build.from, "${GO_VERSION}", args["GO_VERSION"]); !strings.HasPrefix(got, "golang:"+goVersion) {
		t.Errorf("Dockerfile: build stage FROM %s (GO_VERSION %s), want golang:%s, go.mod's go directive", build.from, args["GO_VERSION"], goVersion)
	}
	if build.platform != "$BUILDPLATFORM" {
		t.Errorf("Dockerfile: build stage FROM --platform=%q, want $BUILDPLATFORM (cross-compile, no emulation)", build.platform)
	}
	var makeRun string
	declared := map[string]bool{}
	for _, i := range build.instr {
		switch {
		case i[0] == "ARG":
			for _, a := range strings.Fields(i[1]) {
				k, _, _ := strings.Cut(a, "=")
				declared[k] = true
			}
		case i[0] == "RUN" && strings.Contains(i[1], "make "):
			makeRun = i[1]
		}
	}
	if !strings.Contains(makeRun, "make image-binary ") || !strings.Contains(makeRun, `GOOS="${TARGETOS}"`) ||
		!strings.Contains(makeRun, `GOARCH="${TARGETARCH}"`) {
		t.Errorf("Dockerfile: the build stage runs %q, want make image-binary with GOOS and GOARCH from TARGETOS and TARGETARCH", makeRun)
	}
	if !declared["TARGETOS"] || !declared["TARGETARCH"] {
		t.Errorf("Dockerfile: the build stage does not declare ARG TARGETOS and TARGETARCH; they would be empty")
	}
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^image-binary:\n\tCGO_ENABLED=0 GOOS=\$\(GOOS\) GOARCH=\$\(GOARCH\) \$\(GO\) build -trimpath -ldflags '-s -w \$\(LDFLAGS\)' -o \$\(IMAGE_BINARY\) \./cmd/druid-sidecar$`).Match(mk) ||
		!regexp.MustCompile(`(?m)^IMAGE_BINARY +\?= bin/druid-sidecar$`).Match(mk) {
		t.Errorf("Makefile: image-binary no longer builds make build's binary (CGO_ENABLED=0, -trimpath, LDFLAGS), stripped, for GOOS and GOARCH, into bin/druid-sidecar")
	}
	if !regexp.MustCompile(`(?m)^image:\n\tdocker build -f deploy/Dockerfile --platform \$\(IMAGE_PLATFORM\)`).Match(mk) {
		t.Errorf("Makefile: no image target building deploy/Dockerfile for IMAGE_PLATFORM")
	}

	// The final stage: no shell (distroless static or scratch, and nothing RUN in it), uid 1000, the binary as
	// the entrypoint.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("Dockerfile: final stage FROM %s, want distroless static or scratch", final.from)
	}
	for _, st := range stages {
		ref := strings.ReplaceAll(st.from, "${GO_VERSION}", args["GO_VERSION"])
		if ref != "scratch" && !strings.Contains(ref, "@sha256:") && (!strings.Contains(ref, ":") || strings.HasSuffix(ref, ":latest")) {
			t.Errorf("Dockerfile: FROM %s is not pinned (a tag other than latest, or a digest)", st.from)
		}
	}
	var user, entrypoint string
	for _, i := range final.instr {
		switch i[0] {
		case "RUN":
			t.Errorf("Dockerfile: RUN %s in the final stage, which has no shell", i[1])
		case "USER":
			user = i[1]
		case "ENTRYPOINT":
			entrypoint = i[1]
		case "COPY":
			if strings.HasPrefix(i[1], "--from="+build.name+" ") && !strings.Contains(i[1], "/src/bin/druid-sidecar ") {
				t.Errorf("Dockerfile: COPY %s does not take make build's bin/druid-sidecar", i[1])
			}
		}
	}
	if user != "1000:1000" {
		t.Errorf("Dockerfile: final stage USER %q, want 1000:1000 (Druid's uid and gid)", user)
	}
	var ep []string
	if err := yaml.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 || path.Base(ep[0]) != "druid-sidecar" {
		t.Errorf("Dockerfile: ENTRYPOINT %s, want the exec form running druid-sidecar", entrypoint)
	}

	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", ".state", "bin"} {
		if !slices.Contains(strings.Fields(string(ignore)), p) {
			t.Errorf("Dockerfile.dockerignore: %s is not excluded from the build context", p)
		}
	}
}

// goDirective is the Go release named by go.mod's go directive.
func goDirective(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	return string(m[1])
}

// ---- the checks ------------------------------------------------------------------------------------------------

// checkCompanion checks a Java Historical with druid-sidecar companion as a native sidecar, and returns its
// StatefulSet.
func checkCompanion(t *testing.T, objs []any, sidecarName, historicalName string) *appsv1.StatefulSet {
	t.Helper()
	sts := only[*appsv1.StatefulSet](t, objs)
	spec := &sts.Spec.Template.Spec
	checkPodBasics(t, sts)
	side := container(t, spec, sidecarName)
	hist := container(t, spec, historicalName)
	checkSidecarContainer(t, spec, side, false)
	if slices.ContainsFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == sidecarName }) {
		t.Errorf("%s is a container of the pod; companion must be an init container with restartPolicy Always", sidecarName)
	}
	cms := ofType[*corev1.ConfigMap](objs)

	// What druid-sidecar reads, and what the Historical reads (DRUID_CONFIG_COMMON, then DRUID_CONFIG_historical,
	// as the image's druid.sh copies them), must agree on the node and its cache.
	sideCfg := loadConfig(t, spec, side, cms, propertiesArgs(t, side))
	var histFiles []string
	for _, name := range []string{"DRUID_CONFIG_COMMON", "DRUID_CONFIG_historical"} {
		v := envValue(hist, name)
		if v == "" {
			t.Fatalf("%s: %s is not set; the Historical would not read the properties druid-sidecar reads", historicalName, name)
		}
		histFiles = append(histFiles, v)
	}
	histCfg := loadConfig(t, spec, hist, cms, histFiles)
	if a, b := sideCfg.Node.HostAndPort(), histCfg.Node.HostAndPort(); a != b {
		t.Errorf("druid-sidecar sees the Historical at %s, the Historical announces %s", a, b)
	}
	checkHostName(t, sts, sidecarName, sideCfg)
	checkHostName(t, sts, historicalName, histCfg)
	checkNoSetHost(t, hist)
	checkGoMemLimit(t, "StatefulSet "+sts.Name, side)
	if a, b := sideCfg.SegmentCache.Locations(), histCfg.SegmentCache.Locations(); !reflect.DeepEqual(a, b) {
		t.Errorf("druid-sidecar's cache locations %+v differ from the Historical's %+v", a, b)
	}
	if sideCfg.SegmentCache.InfoDir != histCfg.SegmentCache.InfoDir {
		t.Errorf("druid-sidecar's info_dir %s differs from the Historical's %s", sideCfg.SegmentCache.InfoDir, histCfg.SegmentCache.InfoDir)
	}
	if histCfg.Metadata.Password.IsZero() {
		t.Errorf("the metadata store's password is empty; the password provider's variable is not set")
	}
	if sideCfg.Sidecar.PrefetchMaxBytes == 0 {
		t.Errorf("druid.sidecar.prefetch.maxBytes is 0 in the example: companion would prefetch nothing")
	}
	checkSameDruidEnv(t, hist, side, cms)

	// Probes: the companion on its own port, never a readiness probe; the Historical's readiness is Druid's.
	checkProbe(t, sidecarName+" startupProbe", side, side.StartupProbe, healthPath, sideCfg.Sidecar.CompanionPort)
	checkProbe(t, sidecarName+" livenessProbe", side, side.LivenessProbe, healthPath, sideCfg.Sidecar.CompanionPort)
	checkProbe(t, historicalName+" livenessProbe", hist, hist.LivenessProbe, healthPath, histCfg.Node.PlaintextPort)
	checkProbe(t, historicalName+" readinessProbe", hist, hist.ReadinessProbe, readinessPath, histCfg.Node.PlaintextPort)
	if sideCfg.Sidecar.CompanionPort == histCfg.Node.PlaintextPort ||
		(histCfg.Node.EnableTLSPort && sideCfg.Sidecar.CompanionPort == histCfg.Node.TLSPort) {
		t.Errorf("druid.sidecar.companion.port %d is one of the Historical's ports", sideCfg.Sidecar.CompanionPort)
	}
	if uid := effectiveUID(spec, hist); uid != druidUID {
		t.Errorf("%s runs as uid %d, want %d", historicalName, uid, druidUID)
	}
	checkCacheShared(t, sts, sideCfg, side, hist)
	return sts
}

// checkServe checks druid-sidecar serve as the pod's container beside a segment server that is the native
// sidecar, and returns the StatefulSet.
func checkServe(t *testing.T, objs []any, sidecarName, serverName string) *appsv1.StatefulSet {
	t.Helper()
	sts := only[*appsv1.StatefulSet](t, objs)
	spec := &sts.Spec.Template.Spec
	checkPodBasics(t, sts)
	side := container(t, spec, sidecarName)
	server := container(t, spec, serverName)
	if !slices.ContainsFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == sidecarName }) {
		t.Errorf("druid-sidecar serve must be a container of the pod, stopped before the segment server")
	}
	if restartPolicy(server) != string(corev1.ContainerRestartPolicyAlways) ||
		!slices.ContainsFunc(spec.InitContainers, func(c corev1.Container) bool { return c.Name == serverName }) {
		t.Errorf("%s must be an init container with restartPolicy Always, up before druid-sidecar and stopped after it", serverName)
	}
	if server.StartupProbe == nil {
		t.Errorf("%s has no startup probe: druid-sidecar would start before it accepts connections", serverName)
	}
	cfg := loadConfig(t, spec, side, ofType[*corev1.ConfigMap](objs), propertiesArgs(t, side))
	if cfg.Sidecar.Upstream == "" {
		t.Fatalf("druid.sidecar.upstream is not set; serve would have no segment server")
	}
	checkHostName(t, sts, sidecarName, cfg)
	checkGoMemLimit(t, "StatefulSet "+sts.Name, side)
	if server.Resources.Requests.Memory().IsZero() || server.Resources.Requests.Cpu().IsZero() {
		t.Errorf("%s requests no CPU or memory: nothing is reserved for the process that answers the queries", serverName)
	}
	port := probePort(t, server, server.StartupProbe)
	if want := fmt.Sprintf("http://127.0.0.1:%d", port); strings.TrimSuffix(cfg.Sidecar.Upstream, "/") != want {
		t.Errorf("druid.sidecar.upstream = %s, want %s, the segment server's port", cfg.Sidecar.Upstream, want)
	}
	checkProbe(t, sidecarName+" startupProbe", side, side.StartupProbe, healthPath, cfg.Node.PlaintextPort)
	checkProbe(t, sidecarName+" livenessProbe", side, side.LivenessProbe, healthPath, cfg.Node.PlaintextPort)
	checkProbe(t, sidecarName+" readinessProbe", side, side.ReadinessProbe, readinessPath, cfg.Node.PlaintextPort)
	if uid := effectiveUID(spec, side); uid != druidUID {
		t.Errorf("%s runs as uid %d, want %d", sidecarName, uid, druidUID)
	}
	checkCacheShared(t, sts, cfg, side, server)
	return sts
}

// k8sSwitched returns objs with the Kubernetes discovery switch of each ConfigMap turned on: its lines commented
// out as "#druid." uncommented, as the manifest tells an operator to do.
func k8sSwitched(t *testing.T, objs []any) []any {
	t.Helper()
	switched := false
	out := slices.Clone(objs)
	for i, o := range out {
		cm, ok := o.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		cm = cm.DeepCopy()
		for k, v := range cm.Data {
			on := regexp.MustCompile(`(?m)^(\s*)#(druid\.)`).ReplaceAllString(v, "$1$2")
			switched = switched || on != v
			cm.Data[k] = on
		}
		out[i] = cm
	}
	if !switched {
		t.Fatal("no ConfigMap has the Kubernetes discovery switch (lines commented out as #druid.)")
	}
	return out
}

// k8sRules are the rules of the Role a Historical's pod needs under Kubernetes discovery in cluster id, and no
// more: its processes patch their own pod to announce themselves (K8sDruidNodeAnnouncer), list and watch the pods
// to discover the others, and druid-sidecar reads the leaders from their leader-election ConfigMaps. A Historical
// never runs for leader, so it never creates or updates those ConfigMaps (Druid's docs grant '*' to every pod).
func k8sRules(id string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"},
			ResourceNames: []string{id + "-leaderelection-coordinator", id + "-leaderelection-overlord"}},
	}
}

// entry is the value of key in the configuration as loaded, known to druid-sidecar or not ("" when unset).
func entry(cfg *configs.Config, key string) string {
	for _, e := range cfg.Entries() {
		if e.Key == key {
			return e.Value
		}
	}
	return ""
}

// checkK8sDiscovery checks a StatefulSet run under Kubernetes discovery: each named container loads a configuration
// with druid.discovery.type=k8s, one valid cluster identifier, ZooKeeper off and the HTTP server view (as Druid's
// docs require of every process), and POD_NAME and POD_NAMESPACE from the downward API; the pod's ServiceAccount (created in objs unless it is external, named
// by the chart's values) is bound in namespace ns ("" for the binding's own) to a Role with k8sRules exactly.
func checkK8sDiscovery(t *testing.T, objs []any, sts *appsv1.StatefulSet, ns string, names ...string) {
	t.Helper()
	spec := &sts.Spec.Template.Spec
	cms := ofType[*corev1.ConfigMap](objs)
	var id string
	for _, name := range names {
		c := container(t, spec, name)
		cfg := loadConfig(t, spec, c, cms, configFiles(t, c))
		for key, want := range map[string]string{"druid.discovery.type": "k8s", "druid.zk.service.enabled": "false",
			"druid.serverview.type": "http"} {
			if got := entry(cfg, key); got != want {
				t.Errorf("%s: %s = %q, want %q under Kubernetes discovery", name, key, got, want)
			}
		}
		cid := entry(cfg, "druid.discovery.k8s.clusterIdentifier")
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`).MatchString(cid) {
			t.Errorf("%s: druid.discovery.k8s.clusterIdentifier %q is not a name Druid takes", name, cid)
		}
		if id != "" && cid != id {
			t.Errorf("%s: druid.discovery.k8s.clusterIdentifier %q, another container of the pod has %q", name, cid, id)
		}
		id = cid
		if c.Name != "druid-sidecar" && !strings.Contains(entry(cfg, "druid.extensions.loadList"), `"druid-kubernetes-extensions"`) {
			t.Errorf("%s: druid.extensions.loadList %s lacks druid-kubernetes-extensions, which Druid's k8s discovery is in",
				name, entry(cfg, "druid.extensions.loadList"))
		}
		// Druid's default variables (podNameEnvKey and podNamespaceEnvKey, which the examples leave alone).
		for v, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
			e := envVar(c, v)
			if e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
				t.Errorf("%s: variable %s is %+v, want the downward API's %s", name, v, e, field)
			}
		}
	}

	sa := spec.ServiceAccountName
	if sa == "" || sa == "default" {
		t.Fatalf("StatefulSet %s: serviceAccountName %q; the pod needs its own ServiceAccount for the Role", sts.Name, sa)
	}
	if spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken {
		t.Errorf("StatefulSet %s: automountServiceAccountToken false; no process of the pod could reach the API server", sts.Name)
	}
	var bound bool
	for _, rb := range ofType[*rbacv1.RoleBinding](objs) {
		if !slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns
		}) {
			continue
		}
		if rb.RoleRef.Kind != "Role" || rb.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("RoleBinding %s binds %+v, want a Role of the namespace", rb.Name, rb.RoleRef)
			continue
		}
		for _, r := range ofType[*rbacv1.Role](objs) {
			if r.Name == rb.RoleRef.Name {
				bound = true
				if !reflect.DeepEqual(r.Rules, k8sRules(id)) {
					t.Errorf("Role %s: rules %+v, want exactly %+v", r.Name, r.Rules, k8sRules(id))
				}
			}
		}
	}
	if !bound {
		t.Errorf("no RoleBinding here binds ServiceAccount %s (namespace %q) to a Role here", sa, ns)
	}
}

// configFiles are the properties files the container reads: druid-sidecar's --properties, or the Java Historical's
// DRUID_CONFIG_COMMON and DRUID_CONFIG_historical, which the image's druid.sh reads in that order, or druid-operator's
// two ConfigMaps.
func configFiles(t *testing.T, c *corev1.Container) []string {
	t.Helper()
	switch {
	case slices.Contains(c.Args, "--properties"):
		return propertiesArgs(t, c)
	case envVar(c, "DRUID_CONFIG_COMMON") != nil:
		return []string{envValue(c, "DRUID_CONFIG_COMMON"), envValue(c, "DRUID_CONFIG_historical")}
	}
	// druid-operator's layout: its two ConfigMaps, mounted where its druid.sh reads them.
	return []string{mountPathOf(t, c, "common-config-volume") + "/common.runtime.properties",
		mountPathOf(t, c, "nodetype-config-volume") + "/runtime.properties"}
}

// checkHostName checks that the container announces (or looks for) the pod's stable DNS name under the
// StatefulSet's headless Service, <pod>.<serviceName>.<namespace>.svc.<cluster domain>, whatever pod it runs in: the
// name Druid 33+ announces by itself, which stays the same across restarts.
func checkHostName(t *testing.T, sts *appsv1.StatefulSet, name string, cfg *configs.Config) {
	t.Helper()
	want := podValues["metadata.name"] + "." + sts.Spec.ServiceName + "." + podValues["metadata.namespace"] + ".svc."
	if !strings.HasPrefix(cfg.Node.Host, want) {
		t.Errorf("%s: druid.host %q, want the pod's DNS name %s<cluster domain>", name, cfg.Node.Host, want)
	}
}

// checkNoSetHost checks that the Druid image is not asked to pick druid.host itself: DRUID_SET_HOST is no longer
// read (Druid 33 renamed it DRUID_SET_HOST_IP), and DRUID_SET_HOST_IP=1 would only be overridden by druid_host.
func checkNoSetHost(t *testing.T, c *corev1.Container) {
	t.Helper()
	for _, name := range []string{"DRUID_SET_HOST", "DRUID_SET_HOST_IP"} {
		if envVar(c, name) != nil {
			t.Errorf("%s: %s is set; druid_host alone names the server", c.Name, name)
		}
	}
}

// checkPodBasics checks what every pod here needs: Druid's uid, gid and fsGroup, names and ports Kubernetes
// accepts, and a definition for every volume mounted.
func checkPodBasics(t *testing.T, sts *appsv1.StatefulSet) {
	t.Helper()
	spec := &sts.Spec.Template.Spec
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != druidUID || sc.RunAsGroup == nil || *sc.RunAsGroup != druidUID ||
		sc.FSGroup == nil || *sc.FSGroup != druidUID {
		t.Errorf("pod securityContext %+v: want runAsUser, runAsGroup and fsGroup %d", sc, druidUID)
	}
	ports := map[string]bool{}
	names := map[string]bool{}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 || names[c.Name] {
			t.Errorf("container name %q: duplicate or invalid %v", c.Name, errs)
		}
		names[c.Name] = true
		for _, p := range c.Ports {
			if p.Name == "" {
				continue
			}
			if errs := validation.IsValidPortName(p.Name); len(errs) > 0 || ports[p.Name] {
				t.Errorf("%s: port name %q: duplicate in the pod or invalid %v", c.Name, p.Name, errs)
			}
			ports[p.Name] = true
		}
		for _, m := range c.VolumeMounts {
			if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) &&
				!slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == m.Name }) {
				t.Errorf("%s: volume %s is mounted but not defined", c.Name, m.Name)
			}
		}
	}
}

// checkSidecarContainer checks druid-sidecar as a native sidecar: an init container with restartPolicy Always,
// running as uid 1000 (from the pod or, for a patch, its own securityContext), with no readiness probe.
func checkSidecarContainer(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, ownUID bool) {
	t.Helper()
	if !slices.ContainsFunc(spec.InitContainers, func(i corev1.Container) bool { return i.Name == c.Name }) {
		t.Errorf("%s is not an init container", c.Name)
	}
	if restartPolicy(c) != string(corev1.ContainerRestartPolicyAlways) {
		t.Errorf("%s: restartPolicy %q, want Always (a native sidecar; otherwise the Historical never starts)", c.Name, restartPolicy(c))
	}
	switch {
	case envValue(c, "druid_sidecar_rolloutGate") == "true":
		// The rollout gate is the one readiness probe a companion may have: it latches once ready.
		if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/status/rollout" ||
			probePort(t, c, p) != containerPort(t, c, "sidecar-http") {
			t.Errorf("%s: the rollout gate is on, readiness probe %+v; want a GET of /status/rollout on sidecar-http", c.Name, p)
		}
	case c.ReadinessProbe != nil:
		t.Errorf("%s: a readiness probe; a sidecar's readiness would take the Historical out of service", c.Name)
	}
	if c.StartupProbe == nil || c.LivenessProbe == nil {
		t.Errorf("%s: want a startup and a liveness probe", c.Name)
	}
	if v := envValue(c, "druid_sidecar_nativeSidecar"); v != "true" {
		t.Errorf("%s: druid_sidecar_nativeSidecar = %q, want true: the rollout gate refuses Kubernetes discovery without it", c.Name, v)
	}
	if len(c.Args) == 0 || c.Args[0] != "companion" {
		t.Errorf("%s: args %q, want the companion command", c.Name, c.Args)
	}
	if ownUID {
		sc := c.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != druidUID || sc.RunAsGroup == nil || *sc.RunAsGroup != druidUID {
			t.Errorf("%s: securityContext %+v, want runAsUser and runAsGroup %d of its own", c.Name, sc, druidUID)
		}
	}
}

// checkProbe checks that a probe GETs path on port of the container.
func checkProbe(t *testing.T, what string, c *corev1.Container, p *corev1.Probe, path string, port int) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: want an HTTP GET of %s on port %d, have %+v", what, path, port, p)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s: path %s, want %s", what, p.HTTPGet.Path, path)
	}
	if got := probePort(t, c, p); got != port {
		t.Errorf("%s: port %d, want %d (from the configuration the container loads)", what, got, port)
	}
}

// probePort resolves a probe's port, named or numbered, against the container's ports.
func probePort(t *testing.T, c *corev1.Container, p *corev1.Probe) int {
	t.Helper()
	var port intstr.IntOrString
	switch {
	case p == nil:
		t.Fatalf("%s: no probe", c.Name)
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	default:
		t.Fatalf("%s: a probe that is neither an HTTP GET nor a TCP check", c.Name)
	}
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	return containerPort(t, c, port.StrVal)
}

func containerPort(t *testing.T, c *corev1.Container, name string) int {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("%s: no port named %s", c.Name, name)
	return 0
}

// checkCacheShared checks that every segment cache location, and info_dir, lies on one volume mounted at the same
// path in both containers (writable for druid-sidecar), and that the volume holds the locations' maxSize, the
// prefetch window and a margin.
func checkCacheShared(t *testing.T, sts *appsv1.StatefulSet, cfg *configs.Config, side, peer *corev1.Container) {
	t.Helper()
	locs := cfg.SegmentCache.Locations()
	if len(locs) == 0 {
		t.Fatalf("druid.segmentCache.locations is empty")
	}
	paths := []string{cfg.SegmentCache.InfoDir}
	var need float64
	for _, l := range locs {
		paths = append(paths, l.Path)
		if l.MaxSize == math.MaxInt64 {
			t.Errorf("location %s has no maxSize: the volume cannot be sized for it", l.Path)
		}
		need += float64(l.MaxSize)
	}
	need += float64(cfg.Sidecar.PrefetchMaxBytes)
	need *= 1 + cacheMargin
	volumes := map[string]bool{}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			t.Errorf("cache path %s is relative; both containers must resolve it alike", p)
			continue
		}
		ms, ok := mountOf(side, p)
		mp, okp := mountOf(peer, p)
		switch {
		case !ok || !okp:
			t.Errorf("cache path %s: not on a volume in both %s and %s", p, side.Name, peer.Name)
		case ms.Name != mp.Name || ms.MountPath != mp.MountPath:
			t.Errorf("cache path %s: %s has it on %s at %s, %s on %s at %s; want one volume at one path",
				p, side.Name, ms.Name, ms.MountPath, peer.Name, mp.Name, mp.MountPath)
		case ms.ReadOnly:
			t.Errorf("cache path %s: read-only in %s", p, side.Name)
		default:
			volumes[ms.Name] = true
		}
	}
	for name := range volumes {
		var size *resource.Quantity
		for _, c := range sts.Spec.VolumeClaimTemplates {
			if c.Name == name {
				q := c.Spec.Resources.Requests[corev1.ResourceStorage]
				size = &q
			}
		}
		for _, v := range sts.Spec.Template.Spec.Volumes {
			if v.Name == name {
				switch {
				case v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil:
					size = v.EmptyDir.SizeLimit
				case v.EmptyDir == nil:
					t.Errorf("cache volume %s is neither a volume claim nor an emptyDir", name)
				}
			}
		}
		if size != nil && size.AsApproximateFloat64() < need {
			t.Errorf("cache volume %s: %s (%.0f bytes) is less than the locations' maxSize plus druid.sidecar.prefetch.maxBytes "+
				"plus %.0f%% (%.0f bytes)", name, size.String(), size.AsApproximateFloat64(), cacheMargin*100, need)
		}
	}
}

// mountOf is the container's mount that holds p, the deepest one.
func mountOf(c *corev1.Container, p string) (corev1.VolumeMount, bool) {
	var best corev1.VolumeMount
	found := false
	for _, m := range c.VolumeMounts {
		mp := strings.TrimSuffix(m.MountPath, "/")
		if (p == mp || strings.HasPrefix(p, mp+"/")) && (!found || len(mp) > len(best.MountPath)) {
			best, found = m, true
		}
	}
	return best, found
}

// checkServices checks that each Service selects the StatefulSet's pods on ports they have, and that the
// StatefulSet's serviceName is one of them and headless.
func checkServices(t *testing.T, objs []any) {
	t.Helper()
	sts := only[*appsv1.StatefulSet](t, objs)
	svcs := ofType[*corev1.Service](objs)
	if !reflect.DeepEqual(sts.Spec.Selector.MatchLabels, pick(sts.Spec.Template.Labels, sts.Spec.Selector.MatchLabels)) {
		t.Errorf("StatefulSet %s: selector %v does not match its pods' labels %v", sts.Name, sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels)
	}
	named := map[string]bool{}
	for _, c := range append(slices.Clone(sts.Spec.Template.Spec.InitContainers), sts.Spec.Template.Spec.Containers...) {
		for _, p := range c.Ports {
			named[p.Name] = true
		}
	}
	headless := false
	for _, s := range svcs {
		if !reflect.DeepEqual(s.Spec.Selector, pick(sts.Spec.Template.Labels, s.Spec.Selector)) {
			t.Errorf("Service %s: selector %v does not select the pods (labels %v)", s.Name, s.Spec.Selector, sts.Spec.Template.Labels)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type == intstr.String && !named[p.TargetPort.StrVal] {
				t.Errorf("Service %s: targetPort %s is no port of the pod", s.Name, p.TargetPort.StrVal)
			}
		}
		if s.Name == sts.Spec.ServiceName && s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = true
			// druid.host is the pod's name in this Service: a pod not Ready must keep it.
			if !s.Spec.PublishNotReadyAddresses {
				t.Errorf("Service %s: publishNotReadyAddresses is false; a pod not Ready loses the DNS name that is "+
					"its druid.host", s.Name)
			}
		}
	}
	if !headless {
		t.Errorf("StatefulSet %s: serviceName %s is not a headless Service here", sts.Name, sts.Spec.ServiceName)
	}
}

// checkPDB checks that a PodDisruptionBudget covers the StatefulSet's pods.
func checkPDB(t *testing.T, objs []any, sts *appsv1.StatefulSet) {
	t.Helper()
	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	if pdb.Spec.Selector == nil || !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, pick(sts.Spec.Template.Labels, pdb.Spec.Selector.MatchLabels)) {
		t.Errorf("PodDisruptionBudget %s does not select the StatefulSet's pods", pdb.Name)
	}
}

// pick is the subset of labels with the keys of sel.
func pick(labels, sel map[string]string) map[string]string {
	out := map[string]string{}
	for k := range sel {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// ---- the configuration a container reads -----------------------------------------------------------------------

// podValues stand in for what the kubelet fills in: the downward API's fields and Secrets' values. The pod's
// address is a loopback one, as for every host a test names.
var podValues = map[string]string{
	"status.podIP":       "127.0.0.1",
	"metadata.name":      "druid-historical-0",
	"metadata.namespace": "druid",
}

const secretValue = "secret-from-the-test"

// propertiesArgs are the files named by the container's --properties flags, in order.
func propertiesArgs(t *testing.T, c *corev1.Container) []string {
	t.Helper()
	var files []string
	for i, a := range c.Args {
		if a == "--properties" && i+1 < len(c.Args) {
			files = append(files, c.Args[i+1])
		} else if f, ok := strings.CutPrefix(a, "--properties="); ok {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s: no --properties in args %q", c.Name, c.Args)
	}
	return files
}

// loadConfig loads the configuration the container would see: files read through its mounts from the ConfigMaps
// given, its environment as the kubelet would set it. Any problem fails the test.
func loadConfig(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, cms []*corev1.ConfigMap, files []string) *configs.Config {
	t.Helper()
	byName := map[string]*corev1.ConfigMap{}
	for _, cm := range cms {
		byName[cm.Name] = cm
	}
	environ := kubeletEnviron(t, c, cms)
	readFile := func(p string) ([]byte, error) {
		m, ok := mountOf(c, p)
		if !ok {
			return nil, fmt.Errorf("%s: no volume mounted at %s: %w", c.Name, p, fs.ErrNotExist)
		}
		var cmName string
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cmName = v.ConfigMap.Name
			}
		}
		cm := byName[cmName]
		if cm == nil {
			return nil, fmt.Errorf("%s: %s is on volume %s, not on one of the ConfigMaps here: %w", c.Name, p, m.Name, fs.ErrNotExist)
		}
		key := strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(m.MountPath, "/")), "/")
		if m.SubPath != "" {
			key = m.SubPath
		}
		data, ok := cm.Data[key]
		if !ok {
			return nil, fmt.Errorf("%s: ConfigMap %s has no key %s: %w", c.Name, cm.Name, key, fs.ErrNotExist)
		}
		return []byte(data), nil
	}
	cfg, err := configs.Load(configs.LoadOptions{
		PropertiesFiles: files,
		Environ:         environ,
		ReadFile:        readFile,
		NumCPU:          2,
		Require:         []configs.Requirement{configs.RequireHost, configs.RequireSegmentCache, configs.RequireMetadataStore},
	})
	if err != nil {
		t.Fatalf("%s: the configuration it would read does not load:\n%v", c.Name, err)
	}
	return cfg
}

// kubeletEnviron is the container's environment as the kubelet sets it, in order: the downward API's fields from
// podValues and its resource fields from the container's own resources, Secrets as secretValue, ConfigMap keys from
// cms, and $(VAR) references to variables defined before expanded ($$ escapes one).
func kubeletEnviron(t testing.TB, c *corev1.Container, cms []*corev1.ConfigMap) []string {
	t.Helper()
	byName := map[string]*corev1.ConfigMap{}
	for _, cm := range cms {
		byName[cm.Name] = cm
	}
	defined := map[string]string{}
	var environ []string
	// envFrom first, each source's keys in order, then env, whose variables win: the kubelet's order.
	for _, src := range c.EnvFrom {
		if src.ConfigMapRef == nil {
			t.Fatalf("%s: envFrom %+v: only ConfigMaps can be resolved here", c.Name, src)
		}
		cm := byName[src.ConfigMapRef.Name]
		if cm == nil {
			t.Fatalf("%s: envFrom reads ConfigMap %s, which is not here", c.Name, src.ConfigMapRef.Name)
		}
		keys := slices.Sorted(maps.Keys(cm.Data))
		for _, k := range keys {
			defined[src.Prefix+k] = cm.Data[k]
			environ = append(environ, src.Prefix+k+"="+cm.Data[k])
		}
	}
	for _, e := range c.Env {
		v := expandKubeletRefs(e.Value, defined)
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil:
			var ok bool
			if v, ok = podValues[e.ValueFrom.FieldRef.FieldPath]; !ok {
				t.Fatalf("%s: variable %s reads field %s, which the test does not fill", c.Name, e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		case e.ValueFrom.ResourceFieldRef != nil:
			v = resourceField(t, c, e.Name, e.ValueFrom.ResourceFieldRef)
		case e.ValueFrom.SecretKeyRef != nil:
			v = secretValue
		case e.ValueFrom.ConfigMapKeyRef != nil:
			cm := byName[e.ValueFrom.ConfigMapKeyRef.Name]
			if cm == nil {
				t.Fatalf("%s: variable %s reads ConfigMap %s, which is not here", c.Name, e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
			}
			v = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
		default:
			t.Fatalf("%s: variable %s has a source the test cannot fill: %+v", c.Name, e.Name, e.ValueFrom)
		}
		defined[e.Name] = v
		environ = append(environ, e.Name+"="+v)
	}
	return environ
}

// kubeletEnv is kubeletEnviron as a map.
func kubeletEnv(t testing.TB, c *corev1.Container, cms []*corev1.ConfigMap) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range kubeletEnviron(t, c, cms) {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// expandKubeletRefs expands $(NAME) to a variable defined before, as the kubelet does: $$ is a literal $, and a
// reference to a variable not defined stays as written.
func expandKubeletRefs(s string, defined map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "$("):
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+end]
			if v, ok := defined[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// resourceField is a resourceFieldRef's value: the container's own request or limit, divided by the divisor and
// rounded up, as the kubelet computes it. A limit not set would be the node's capacity, which a manifest must not
// leave to chance.
func resourceField(t testing.TB, c *corev1.Container, name string, ref *corev1.ResourceFieldSelector) string {
	t.Helper()
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		t.Fatalf("%s: variable %s reads the resources of container %s, not its own", c.Name, name, ref.ContainerName)
	}
	kind, res, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(res)]
	if !ok {
		t.Fatalf("%s: variable %s reads %s, which the container does not set", c.Name, name, ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	return strconv.FormatInt(int64(math.Ceil(q.AsApproximateFloat64()/divisor.AsApproximateFloat64())), 10)
}

// ---- objects ---------------------------------------------------------------------------------------------------

func container(t testing.TB, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	t.Fatalf("no container named %s", name)
	return nil
}

func volume(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	t.Fatalf("no volume named %s", name)
	return nil
}

// restartPolicy is the container's restartPolicy, "" when not set.
func restartPolicy(c *corev1.Container) string {
	if c.RestartPolicy == nil {
		return ""
	}
	return string(*c.RestartPolicy)
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func envValue(c *corev1.Container, name string) string {
	if e := envVar(c, name); e != nil {
		return e.Value
	}
	return ""
}

// effectiveUID is the uid the container runs as: its own runAsUser, else the pod's, else -1 (the image's).
func effectiveUID(spec *corev1.PodSpec, c *corev1.Container) int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return *c.SecurityContext.RunAsUser
	}
	if spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil {
		return *spec.SecurityContext.RunAsUser
	}
	return -1
}

func ofType[T any](objs []any) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func only[T any](t testing.TB, objs []any) T {
	t.Helper()
	all := ofType[T](objs)
	if len(all) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want exactly one", len(all), zero)
	}
	return all[0]
}

// ---- strict decoding -------------------------------------------------------------------------------------------

// newObject returns an empty object of the Kubernetes type for apiVersion and kind, or nil for a type these files
// have no business holding.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	}
	return nil
}

func decodeFile(t testing.TB, name string) []any {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return decodeRendered(t, name, data)
}

// decodeRendered splits a YAML stream into documents and decodes each strictly into its Kubernetes type: an
// unknown or misspelt field, a duplicate key or a value of the wrong type fails the test.
func decodeRendered(t testing.TB, source string, data []byte) []any {
	t.Helper()
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []any
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", source, n, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: document %d: %v", source, n, err)
		}
		if tm.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj := newObject(tm.APIVersion, tm.Kind)
		if obj == nil {
			t.Fatalf("%s: document %d: unexpected %s %s", source, n, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: document %d (%s): %v", source, n, tm.Kind, err)
		}
		if m, ok := obj.(metav1.Object); ok {
			if errs := validation.IsDNS1123Subdomain(m.GetName()); len(errs) > 0 {
				t.Errorf("%s: %s %q: invalid name: %v", source, tm.Kind, m.GetName(), errs)
			}
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects", source)
	}
	return objs
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out.Write(l)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// ---- tools -----------------------------------------------------------------------------------------------------

// goTool is a command built with `go install module/pkg@version` into the state directory's bin, and reused from
// there while its module version matches.
type goTool struct {
	name, module, pkg, version string
	once                       sync.Once
	bin                        string
	err                        error
}

// path returns the tool's binary, building it the first time; a failed build fails the test.
func (g *goTool) path(t *testing.T) string {
	t.Helper()
	testenv.Integration(t)
	// The build must end before the test binary's own time limit, or that limit would kill it with a goroutine
	// dump instead of a message.
	limit := buildLimit
	if d, ok := t.Deadline(); ok {
		limit = min(limit, time.Until(d)-30*time.Second)
	}
	g.once.Do(func() { g.bin, g.err = g.build(limit) })
	if g.err != nil {
		t.Fatalf("%s %s: %v", g.name, g.version, g.err)
	}
	return g.bin
}

// kustomizeBuild renders a kustomization with `kubectl kustomize` when kubectl is installed (it embeds kustomize,
// and saves a build), else with kustomize built at its pinned version.
func kustomizeBuild(t *testing.T, dir string) ([]byte, error) {
	t.Helper()
	testenv.Integration(t)
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		return runTool(t, kubectl, "kustomize", dir)
	}
	return runTool(t, kustomizeTool.path(t), "build", dir)
}

func helm(t *testing.T) string {
	t.Helper()
	return helmTool.path(t)
}

// buildLimit bounds a build: the first one downloads the module's dependencies from the module proxy and
// compiles them (minutes on two busy cores); later runs reuse the binary and take none of it.
const buildLimit = 15 * time.Minute

func (g *goTool) build(limit time.Duration) (string, error) {
	dir, err := stateBinDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, g.name)
	if have, err := exec.Command("go", "version", "-m", bin).Output(); err == nil &&
		regexp.MustCompile(`(?m)^\s+mod\s+`+regexp.QuoteMeta(g.module)+`\s+`+regexp.QuoteMeta(g.version)+`\s`).Match(have) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create %s for the build: %w", dir, err)
	}
	if limit <= 0 {
		return "", fmt.Errorf("%s is not built yet and the test has no time left to build it; run `go test -timeout 30m ./deploy` once", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", g.pkg+"@"+g.version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", fmt.Errorf("building it with `go install %s@%s` into %s took longer than %s, the time this test has left; "+
			"run `go test -timeout 30m ./deploy` once to build it (later runs reuse it)", g.pkg, g.version, dir, limit.Round(time.Second))
	}
	if err != nil {
		return "", fmt.Errorf("building it with `go install %s@%s` into %s failed after %s (it needs the Go module proxy once): %w\n%s",
			g.pkg, g.version, dir, time.Since(start).Round(time.Second), err, out)
	}
	return bin, nil
}

// stateBinDir is bin under the state directory of scripts/services.sh: $DRUID_SIDECAR_STATE_DIR (relative to the
// repository root unless absolute), else .state in the repository root.
func stateBinDir() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("the repository root %s has no go.mod: %w", root, err)
	}
	state := os.Getenv("DRUID_SIDECAR_STATE_DIR")
	switch {
	case state == "":
		state = filepath.Join(root, ".state")
	case !filepath.IsAbs(state):
		state = filepath.Join(root, state)
	}
	return filepath.Join(state, "bin"), nil
}

// runTool runs a tool with a time limit and its own empty home, so that no user configuration or cache of the
// machine changes what it renders. It returns the standard output; a failure's error carries the standard error.
func runTool(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}
