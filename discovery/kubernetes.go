package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// The labels and annotation of Druid's Kubernetes discovery (K8sDruidNodeAnnouncer), per role JSON name.
const (
	k8sLabelPrefix         = "druidDiscoveryAnnouncement-"
	K8sClusterLabel        = k8sLabelPrefix + "cluster-identifier"
	K8sIDHashLabel         = k8sLabelPrefix + "id-hash"
	k8sAnnotationPrefix    = "druidNodeInfo-"
	k8sAnnounced           = "true"
	K8sLeaderAnnotation    = "control-plane.alpha.kubernetes.io/leader"
	k8sDefaultRetryWait    = 10 * time.Second // K8sDruidNodeDiscoveryProvider's wait before a relist after an error
	k8sPatchTries          = 3                // K8sDruidNodeAnnouncer's RetryUtils.retry(…, 3)
	k8sFirstPatchRetryWait = time.Second      // RetryUtils' first backoff, doubled after each try
)

// k8sRoles maps the internal-discovery role (NodeRole.toString(), the ZooKeeper path segment) to NodeRole's JSON
// name, which Kubernetes discovery puts in its label and annotation names.
var k8sRoles = map[string]string{
	"COORDINATOR": "coordinator", "HISTORICAL": "historical", "BROKER": "broker", "OVERLORD": "overlord",
	"PEON": "peon", "ROUTER": "router", "MIDDLE_MANAGER": "middleManager", "INDEXER": "indexer",
}

// K8sRoleLabel is the label a pod announcing role (HISTORICAL, …) carries with the value "true".
func K8sRoleLabel(role string) string { return k8sLabelPrefix + k8sRoleName(role) }

// K8sNodeAnnotation is the annotation holding the DiscoveryDruidNode a pod announces under role.
func K8sNodeAnnotation(role string) string { return k8sAnnotationPrefix + k8sRoleName(role) }

// k8sRoleName is the JSON name of role; a custom role (not one of Druid's) is its own JSON name, as in Druid.
func k8sRoleName(role string) string {
	if n, ok := k8sRoles[role]; ok {
		return n
	}
	return role
}

// K8sIDHash is the value of the id-hash label: Java's String.hashCode of hostAndPort (over its UTF-16 code units, in
// 32-bit arithmetic), negated when negative as Druid does, so that Integer.MIN_VALUE, whose negation overflows to
// itself, stays negative.
func K8sIDHash(hostAndPort string) string {
	var h int32
	for _, u := range utf16.Encode([]rune(hostAndPort)) {
		h = 31*h + int32(u)
	}
	if h < 0 {
		h = -h
	}
	return strconv.FormatInt(int64(h), 10)
}

// KubernetesOptions are the optional parts of OpenKubernetes.
type KubernetesOptions struct {
	Logger hclog.Logger
	// RetryWait is the wait before a relist after an error other than 410 Gone (10 s, as Druid, by default).
	RetryWait time.Duration
}

// Kubernetes is discovery as Druid's druid-kubernetes-extensions has it (druid.discovery.type=k8s): nodes are the
// pods of the namespace labelled with the cluster identifier and the role, holding their DiscoveryDruidNode in an
// annotation, counted only while every regular container is ready; leaders are the holders of the leader-election
// ConfigMaps. Nodes of a role are read once by a list, then kept by a watch, as K8sDruidNodeDiscoveryProvider does.
type Kubernetes struct {
	core      corev1client.CoreV1Interface
	cfg       configs.K8sDiscoveryConfig
	namespace string
	log       hclog.Logger
	retryWait time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	watchers map[string]*podWatcher // by role
}

var _ Discovery = (*Kubernetes)(nil)

// KubernetesClient connects as Druid's client does (the Kubernetes Java client's Config.defaultClient()): the
// kubeconfig files of KUBECONFIG, else ~/.kube/config, else the pod's service account (in-cluster). namespace is the
// one that configuration names ("default" when it names none), for callers outside a pod.
func KubernetesClient() (core corev1client.CoreV1Interface, namespace string, err error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(),
		&clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no Kubernetes API server configured (KUBECONFIG, ~/.kube/config or a pod's service account): %w", err)
	}
	rc.UserAgent = "druid-sidecar"
	if namespace, _, err = cc.Namespace(); err != nil {
		return nil, "", err
	}
	core, err = corev1client.NewForConfig(rc)
	return core, namespace, err
}

// k8sPodEnv reads the pod's name and namespace from the environment variables druid.discovery.k8s.podNameEnvKey and
// podNamespaceEnvKey name, as Druid's PodInfo does.
func k8sPodEnv(cfg configs.K8sDiscoveryConfig) (name, namespace string) {
	return os.Getenv(cfg.PodNameEnvKey), os.Getenv(cfg.PodNamespaceEnvKey)
}

// OpenKubernetes connects to the API server (see KubernetesClient) and reads the cluster of cfg in the pod's
// namespace (druid.discovery.k8s.podNamespaceEnvKey), or, outside a pod, in the namespace the client configuration
// names. Nothing is read before the first call.
func OpenKubernetes(cfg *configs.Config, opts KubernetesOptions) (*Kubernetes, error) {
	core, ns, err := KubernetesClient()
	if err != nil {
		return nil, err
	}
	if _, podNS := k8sPodEnv(cfg.Discovery.K8s); podNS != "" {
		ns = podNS
	}
	return NewKubernetes(core, ns, cfg.Discovery.K8s, opts), nil
}

// NewKubernetes reads the cluster of cfg in namespace through core.
func NewKubernetes(core corev1client.CoreV1Interface, namespace string, cfg configs.K8sDiscoveryConfig, opts KubernetesOptions) *Kubernetes {
	k := &Kubernetes{core: core, cfg: cfg, namespace: namespace, log: opts.Logger, retryWait: opts.RetryWait,
		watchers: map[string]*podWatcher{}}
	if k.log == nil {
		k.log = hclog.NewNullLogger()
	}
	if k.retryWait <= 0 {
		k.retryWait = k8sDefaultRetryWait
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	return k
}

// Close stops the watches.
func (k *Kubernetes) Close() {
	k.cancel()
	k.wg.Wait()
}

// Nodes returns the ready pods' nodes of the given roles (every Druid role when none is given), once each role's
// first list has been read. A pod whose annotation cannot be read is reported in the error and left out.
func (k *Kubernetes) Nodes(ctx context.Context, roles ...string) ([]Node, error) {
	if len(roles) == 0 {
		for r := range k8sRoles {
			roles = append(roles, r)
		}
		slices.Sort(roles)
	}
	var out []Node
	var errs []error
	for _, role := range roles {
		w := k.watcher(role)
		select {
		case <-w.tried:
		case <-ctx.Done():
			return out, fmt.Errorf("listing the %s pods of Kubernetes namespace %s: %w", role, k.namespace, context.Cause(ctx))
		}
		nodes, err := w.snapshot()
		out = append(out, nodes...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// watcher returns role's watch, starting it on first use.
func (k *Kubernetes) watcher(role string) *podWatcher {
	k.mu.Lock()
	defer k.mu.Unlock()
	w := k.watchers[role]
	if w == nil {
		w = &podWatcher{k: k, role: role, tried: make(chan struct{}), pods: map[types.UID]Node{}, bad: map[types.UID]error{},
			selector: K8sClusterLabel + "=" + k.cfg.ClusterIdentifier + "," + K8sRoleLabel(role) + "=" + k8sAnnounced,
			log:      k.log.Named("k8s").With("role", role)}
		k.watchers[role] = w
		k.wg.Add(1)
		go func() { defer k.wg.Done(); w.run(k.ctx) }()
	}
	return w
}

// CoordinatorLeader is the holder of the ConfigMap <clusterIdentifier>-leaderelection-coordinator.
func (k *Kubernetes) CoordinatorLeader(ctx context.Context) (*Leader, error) {
	return k.Leader(ctx, k.cfg.CoordinatorLeaderNamespace, k.cfg.ClusterIdentifier+"-leaderelection-coordinator")
}

// OverlordLeader is the holder of the ConfigMap <clusterIdentifier>-leaderelection-overlord.
func (k *Kubernetes) OverlordLeader(ctx context.Context) (*Leader, error) {
	return k.Leader(ctx, k.cfg.OverlordLeaderNamespace, k.cfg.ClusterIdentifier+"-leaderelection-overlord")
}

// Leader reads the leader-election record of the ConfigMap name (in namespace, the pod's when empty): the
// holderIdentity of the JSON in its control-plane.alpha.kubernetes.io/leader annotation, which Druid sets to
// scheme://host:port. A missing ConfigMap, record or holder is no leader.
func (k *Kubernetes) Leader(ctx context.Context, namespace, name string) (*Leader, error) {
	if namespace == "" {
		namespace = k.namespace
	}
	cm, err := k.core.ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the leader ConfigMap %s/%s: %w", namespace, name, err)
	}
	raw := cm.Annotations[K8sLeaderAnnotation]
	if raw == "" {
		return nil, nil
	}
	var rec struct {
		HolderIdentity string `json:"holderIdentity"`
	}
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, fmt.Errorf("the leader ConfigMap %s/%s: annotation %s is not a leader election record: %w",
			namespace, name, K8sLeaderAnnotation, err)
	}
	if rec.HolderIdentity == "" {
		return nil, nil
	}
	return &Leader{URL: rec.HolderIdentity}, nil
}

// podWatcher keeps the nodes of one role: a list, then a watch from the list's resourceVersion (with bookmarks),
// resumed from the last resourceVersion seen when the server ends it, a relist at once on 410 Gone (the version is
// too old) and after retryWait on any other error.
type podWatcher struct {
	k        *Kubernetes
	role     string
	selector string
	log      hclog.Logger

	tried    chan struct{} // closed after the first list, whatever its outcome
	triedOne sync.Once

	mu   sync.Mutex
	pods map[types.UID]Node  // the ready pods' nodes
	bad  map[types.UID]error // pods whose annotation cannot be read
	err  error               // the last list's failure, nil once a list succeeded
}

func (w *podWatcher) snapshot() ([]Node, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Node, 0, len(w.pods))
	for _, n := range w.pods {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	errs := []error{w.err}
	for _, err := range w.bad {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func (w *podWatcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		rv, err := w.list(ctx)
		w.triedOne.Do(func() { close(w.tried) })
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("listing pods failed; listing again after a wait", "selector", w.selector, "wait", w.k.retryWait, "error", err)
			}
			w.sleep(ctx)
			continue
		}
		for ctx.Err() == nil {
			began := time.Now()
			next, err := w.watch(ctx, rv)
			if next != "" {
				rv = next
			}
			if err == nil {
				// The server ended the watch: resume from the last version seen, after a pause when it ended at once
				// with nothing, so that a server closing every watch is not asked again in a tight loop.
				if next == "" && time.Since(began) < time.Second {
					w.pause(ctx, time.Second)
				}
				continue
			}
			if isGone(err) {
				w.log.Debug("the watch's resourceVersion is too old; listing again", "resourceVersion", rv)
			} else if ctx.Err() == nil {
				w.log.Warn("watching pods failed; listing again after a wait", "selector", w.selector, "wait", w.k.retryWait, "error", err)
				w.sleep(ctx)
			}
			break
		}
	}
}

func (w *podWatcher) sleep(ctx context.Context) { w.pause(ctx, w.k.retryWait) }

func (w *podWatcher) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// isGone says whether a watch failed for a resourceVersion the server no longer has (410 Gone, Expired).
func isGone(err error) bool { return apierrors.IsGone(err) || apierrors.IsResourceExpired(err) }

// list replaces the nodes with the ready pods the selector finds and returns the list's resourceVersion.
func (w *podWatcher) list(ctx context.Context) (string, error) {
	l, err := w.k.core.Pods(w.k.namespace).List(ctx, metav1.ListOptions{LabelSelector: w.selector})
	if err != nil {
		err = fmt.Errorf("listing the pods of Kubernetes namespace %s with %s: %w", w.k.namespace, w.selector, err)
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = nil
	clear(w.pods)
	clear(w.bad)
	for i := range l.Items {
		w.apply(watch.Added, &l.Items[i])
	}
	return l.ResourceVersion, nil
}

// watch follows the changes after rv until the server ends the stream (nil) or an error; it returns the last
// resourceVersion seen.
func (w *podWatcher) watch(ctx context.Context, rv string) (string, error) {
	wi, err := w.k.core.Pods(w.k.namespace).Watch(ctx, metav1.ListOptions{LabelSelector: w.selector, ResourceVersion: rv,
		AllowWatchBookmarks: true})
	if err != nil {
		return "", err
	}
	defer wi.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return last, nil
			}
			switch ev.Type {
			case watch.Error:
				return last, apierrors.FromObject(ev.Object)
			case watch.Bookmark:
				// A bookmark only moves the resourceVersion on.
				if m, err := metaOf(ev.Object); err == nil {
					last = m.GetResourceVersion()
				}
				continue
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			last = pod.ResourceVersion
			w.mu.Lock()
			w.apply(ev.Type, pod)
			w.mu.Unlock()
		}
	}
}

func metaOf(o any) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

// apply takes one pod event as K8sDruidNodeDiscoveryProvider does since Druid 37: a listed, added or modified pod
// counts when it is ready and is removed when it is not; a deleted one is removed. Called with w.mu held.
func (w *podWatcher) apply(typ watch.EventType, pod *corev1.Pod) {
	uid := pod.UID
	if uid == "" {
		uid = types.UID(pod.Namespace + "/" + pod.Name)
	}
	delete(w.bad, uid)
	if typ == watch.Deleted || !PodReady(pod) {
		delete(w.pods, uid)
		return
	}
	ann := K8sNodeAnnotation(w.role)
	n, err := ParseNode([]byte(pod.Annotations[ann]))
	if err != nil {
		delete(w.pods, uid)
		w.bad[uid] = fmt.Errorf("pod %s/%s, annotation %s: %w", pod.Namespace, pod.Name, ann, err)
		return
	}
	n.Role, n.Name = w.role, n.HostAndPortToUse()
	w.pods[uid] = n
}

// PodReady is Druid's DefaultK8sApiClient.isPodReady: every entry of status.containerStatuses is ready, and there is
// at least one. Init containers, native sidecars among them (initContainerStatuses), and the pod's Ready condition
// are not read.
func PodReady(pod *corev1.Pod) bool {
	cs := pod.Status.ContainerStatuses
	if len(cs) == 0 {
		return false
	}
	for _, c := range cs {
		if !c.Ready {
			return false
		}
	}
	return true
}

// HostAndPortToUse is DruidNode.getHostAndPortToUse: host:tlsPort when the TLS port is announced, else
// host:plaintextPort.
func (n Node) HostAndPortToUse() string {
	if n.TLSPort > 0 {
		return n.Host + ":" + strconv.Itoa(n.TLSPort)
	}
	return n.Host + ":" + strconv.Itoa(n.PlaintextPort)
}

// KubernetesAnnouncer announces a node as Druid's K8sDruidNodeAnnouncer does: one JSON Patch on the node's own pod
// adding the role, id-hash and cluster-identifier labels and the druidNodeInfo-<role> annotation holding the
// DiscoveryDruidNode; Unannounce removes the same paths. The pod must already carry a label and an annotation, as
// "add" needs the maps to exist (Druid assumes the same rather than race with other writers).
type KubernetesAnnouncer struct {
	core           corev1client.CoreV1Interface
	namespace, pod string
	announce       []byte
	unannounce     []byte
	log            hclog.Logger
	firstWait      time.Duration

	mu        sync.Mutex
	announced bool // the last patch that succeeded was the announcement
}

var _ Announcer = (*KubernetesAnnouncer)(nil)

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value,omitempty"`
}

// NewKubernetesAnnouncer announces node (a DiscoveryDruidNode such as HistoricalNodeJSON) under role for the node of
// cfg on the pod druid.discovery.k8s.podNameEnvKey names, in the namespace podNamespaceEnvKey names, through core.
func NewKubernetesAnnouncer(core corev1client.CoreV1Interface, cfg *configs.Config, role string, node []byte, log hclog.Logger) (*KubernetesAnnouncer, error) {
	k := cfg.Discovery.K8s
	pod, ns := k8sPodEnv(k)
	if pod == "" || ns == "" {
		return nil, fmt.Errorf("announcing through Kubernetes needs the pod's name and namespace in the environment "+
			"variables %s and %s (druid.discovery.k8s.podNameEnvKey, podNamespaceEnvKey), as the downward API gives them",
			k.PodNameEnvKey, k.PodNamespaceEnvKey)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	paths := []string{labelPath(K8sRoleLabel(role)), labelPath(K8sIDHashLabel), labelPath(K8sClusterLabel),
		"/metadata/annotations/" + pointerEscape(K8sNodeAnnotation(role))}
	values := []string{k8sAnnounced, K8sIDHash(cfg.Node.HostAndPortToUse()), k.ClusterIdentifier, string(node)}
	add, remove := make([]jsonPatchOp, len(paths)), make([]jsonPatchOp, len(paths))
	for i, p := range paths {
		add[i] = jsonPatchOp{Op: "add", Path: p, Value: values[i]}
		remove[i] = jsonPatchOp{Op: "remove", Path: p}
	}
	a := &KubernetesAnnouncer{core: core, namespace: ns, pod: pod, log: log, firstWait: k8sFirstPatchRetryWait}
	a.announce, _ = json.Marshal(add)
	a.unannounce, _ = json.Marshal(remove)
	return a, nil
}

func labelPath(label string) string { return "/metadata/labels/" + pointerEscape(label) }

// pointerEscape escapes a JSON Pointer reference token (RFC 6901).
func pointerEscape(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }

// Pod is the namespace/name of the pod announced on.
func (a *KubernetesAnnouncer) Pod() string { return a.namespace + "/" + a.pod }

// Announce patches the pod, trying 3 times with a doubling wait as Druid does, and returns once the API server has
// taken the patch.
func (a *KubernetesAnnouncer) Announce(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.patch(ctx, a.announce); err != nil {
		return fmt.Errorf("announcing on pod %s: %w (does the pod have at least one label and one annotation?)", a.Pod(), err)
	}
	a.announced = true
	return nil
}

// Unannounce removes the labels and the annotation Announce added. It does nothing when the node is not announced
// (never, or already withdrawn): removing a path that is not there would be refused, and the withdrawal may be
// asked for twice at shutdown (the node's stop, then the announcer's).
func (a *KubernetesAnnouncer) Unannounce(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.announced {
		return nil
	}
	if err := a.patch(ctx, a.unannounce); err != nil {
		return fmt.Errorf("unannouncing on pod %s: %w", a.Pod(), err)
	}
	a.announced = false
	return nil
}

func (a *KubernetesAnnouncer) patch(ctx context.Context, body []byte) error {
	wait := a.firstWait
	var err error
	for try := 1; ; try++ {
		_, err = a.core.Pods(a.namespace).Patch(ctx, a.pod, types.JSONPatchType, body, metav1.PatchOptions{})
		if err == nil || try == k8sPatchTries || ctx.Err() != nil {
			return err
		}
		a.log.Warn("patching the pod failed; trying again", "pod", a.Pod(), "try", try, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait *= 2
	}
}

// Where says where the cluster's discovery is read, for messages: ZooKeeper's address, or the Kubernetes cluster identifier.
func Where(cfg *configs.Config) string {
	if cfg.Discovery.Type == configs.DiscoveryK8s {
		return "Kubernetes discovery of cluster " + cfg.Discovery.K8s.ClusterIdentifier
	}
	return "ZooKeeper at " + cfg.ZK.Service.Host
}

// Open opens the discovery backend druid.discovery.type names.
func Open(ctx context.Context, cfg *configs.Config, log hclog.Logger) (Discovery, error) {
	switch cfg.Discovery.Type {
	case configs.DiscoveryK8s:
		return OpenKubernetes(cfg, KubernetesOptions{Logger: log})
	case configs.DiscoveryCurator, "":
		return OpenZooKeeper(ctx, cfg, log)
	}
	return nil, fmt.Errorf("druid.discovery.type=%s: not a discovery type druid-sidecar implements (curator, k8s)", cfg.Discovery.Type)
}
