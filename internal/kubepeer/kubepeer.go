// Package kubepeer is a stand-in for a Kubernetes API server on 127.0.0.1, for tests: the part of the core/v1 API
// Druid's Kubernetes discovery uses. Pods are listed with a labelSelector and watched from a resourceVersion
// (ADDED, MODIFIED and DELETED as an object enters, changes within or leaves the selector, BOOKMARK on request, and
// an ERROR event with 410 Gone for a resourceVersion older than the history kept); a pod is read and patched with
// application/json-patch+json through gopkg.in/evanphx/json-patch.v4, the library the API server's patch handler
// applies JSON Patches with, and its labels are validated as the API server validates them; ConfigMaps are read.
// Helpers set a pod's container readiness and a leader ConfigMap, and write a kubeconfig pointing at the server.
package kubepeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
)

// Patch is one PATCH the server received.
type Patch struct {
	Namespace, Pod string
	ContentType    string
	Body           []byte
	Status         int // the HTTP status answered
}

// event is one change of a pod: its state before (nil when created) and after (nil when deleted).
type event struct {
	rv       int64
	old, new *corev1.Pod
}

// Server is the API server stand-in. Its methods are safe for concurrent use.
type Server struct {
	ln  net.Listener
	srv *http.Server

	mu         sync.Mutex
	rv         int64
	compacted  int64 // a watch may resume from a resourceVersion >= compacted
	pods       map[string]*corev1.Pod
	configMaps map[string]*corev1.ConfigMap
	history    []event
	changed    chan struct{} // closed and replaced on every change, bookmark request or expiry
	bookmark   int64         // watches send a BOOKMARK when this grows
	expired    int64         // watches end with 410 Gone when this grows
	ended      int64         // watches end (as at the API server's request timeout) when this grows
	patches    []Patch
	failNext   int // patches still to refuse with 500
	onPatch    func(Patch)
	lists      int
	watches    int
	uid        int
}

// Start serves on 127.0.0.1 until ctx ends or Close.
func Start(ctx context.Context) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, rv: 100, pods: map[string]*corev1.Pod{}, configMaps: map[string]*corev1.ConfigMap{},
		changed: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = s.srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server and ends open watches.
func (s *Server) Close() error { return s.srv.Close() }

// WriteKubeconfig writes a kubeconfig for the server, with namespace as the context's, into dir and returns its path.
func (s *Server) WriteKubeconfig(dir, namespace string) (string, error) {
	p := filepath.Join(dir, "kubeconfig")
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster:
    server: %s
users:
- name: stand-in
  user:
    token: stand-in-token
contexts:
- name: stand-in
  context:
    cluster: stand-in
    user: stand-in
    namespace: %s
current-context: stand-in
`, s.URL(), namespace)
	return p, os.WriteFile(p, []byte(text), 0o600)
}

func key(namespace, name string) string { return namespace + "/" + name }

// notify wakes the watches. Called with s.mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// record bumps the resourceVersion and keeps the change for watches. Called with s.mu held.
func (s *Server) record(old, new *corev1.Pod) {
	s.rv++
	if new != nil {
		new.ResourceVersion = strconv.FormatInt(s.rv, 10)
		s.pods[key(new.Namespace, new.Name)] = new
	} else {
		delete(s.pods, key(old.Namespace, old.Name))
	}
	s.history = append(s.history, event{rv: s.rv, old: old, new: new})
	s.notify()
}

// AddPod creates a pod with the labels and annotations given and one container status per entry of ready.
func (s *Server) AddPod(namespace, name string, lbls, annotations map[string]string, ready ...bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uid++
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(fmt.Sprintf("uid-%d", s.uid)),
			Labels: copyMap(lbls), Annotations: copyMap(annotations)}}
	for i, r := range ready {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: fmt.Sprintf("c%d", i), Ready: r})
	}
	s.record(nil, p)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// update changes a copy of the pod through f and records it; false when there is no such pod.
func (s *Server) update(namespace, name string, f func(p *corev1.Pod)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.pods[key(namespace, name)]
	if old == nil {
		return false
	}
	p := old.DeepCopy()
	f(p)
	s.record(old, p)
	return true
}

// SetContainerReady sets the readiness of the pod's container i (status.containerStatuses[i]).
func (s *Server) SetContainerReady(namespace, name string, i int, ready bool) bool {
	return s.update(namespace, name, func(p *corev1.Pod) { p.Status.ContainerStatuses[i].Ready = ready })
}

// SetInitContainerStatuses sets status.initContainerStatuses (a native sidecar's readiness is reported there).
func (s *Server) SetInitContainerStatuses(namespace, name string, ready ...bool) bool {
	return s.update(namespace, name, func(p *corev1.Pod) {
		p.Status.InitContainerStatuses = nil
		for i, r := range ready {
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses,
				corev1.ContainerStatus{Name: fmt.Sprintf("init%d", i), Ready: r})
		}
	})
}

// DeletePod deletes the pod.
func (s *Server) DeletePod(namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.pods[key(namespace, name)]
	if old == nil {
		return false
	}
	s.record(old, nil)
	return true
}

// Pod is a copy of the pod, nil when there is none.
func (s *Server) Pod(namespace, name string) *corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pods[key(namespace, name)]; p != nil {
		return p.DeepCopy()
	}
	return nil
}

// SetLeader writes the ConfigMap name with the leader-election record of a LeaderElector (as Druid's ConfigMap lock
// writes it) whose holder is holder; "" removes the ConfigMap.
func (s *Server) SetLeader(namespace, name, holder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder == "" {
		delete(s.configMaps, key(namespace, name))
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	rec, _ := json.Marshal(map[string]any{"holderIdentity": holder, "leaseDurationSeconds": 60, "acquireTime": now,
		"renewTime": now, "leaderTransitions": 0})
	s.rv++
	s.configMaps[key(namespace, name)] = &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, ResourceVersion: strconv.FormatInt(s.rv, 10),
			Annotations: map[string]string{"control-plane.alpha.kubernetes.io/leader": string(rec)}}}
}

// Bookmark makes every open watch that allows bookmarks send one, at the current resourceVersion.
func (s *Server) Bookmark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bookmark++
	s.notify()
}

// Expire forgets the history (as etcd's compaction does): open watches end with an ERROR event holding 410 Gone,
// and a watch from any resourceVersion older than now gets the same.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compacted = s.rv
	s.history = nil
	s.expired++
	s.notify()
}

// EndWatches ends every open watch stream without an error, as the API server does when a watch reaches its
// timeout; a client resumes from the last resourceVersion it saw.
func (s *Server) EndWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended++
	s.notify()
}

// FailPatches makes the next n patches fail with 500, as an API server that is briefly unavailable.
func (s *Server) FailPatches(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// OnPatch calls f with each patch as it arrives, before it is applied and answered: what the patching client
// shows while it waits for the API server.
func (s *Server) OnPatch(f func(Patch)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPatch = f
}

// Patches are the patches received, in order.
func (s *Server) Patches() []Patch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Patch(nil), s.patches...)
}

// Calls counts the pod lists and watches served.
func (s *Server) Calls() (lists, watches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists, s.watches
}

// serve routes /api/v1/namespaces/<ns>/<pods|configmaps>[/<name>].
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	}
	ns, resource, name := parts[3], parts[4], ""
	if len(parts) == 6 {
		name = parts[5]
	}
	switch {
	case resource == "pods" && name == "" && r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		s.watch(w, r, ns)
	case resource == "pods" && name == "" && r.Method == http.MethodGet:
		s.list(w, r, ns)
	case resource == "pods" && name != "" && r.Method == http.MethodGet:
		if p := s.Pod(ns, name); p != nil {
			writeJSON(w, http.StatusOK, p)
			return
		}
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name))
	case resource == "pods" && name != "" && r.Method == http.MethodPatch:
		s.patch(w, r, ns, name)
	case resource == "configmaps" && name != "" && r.Method == http.MethodGet:
		s.mu.Lock()
		cm := s.configMaps[key(ns, name)]
		s.mu.Unlock()
		if cm == nil {
			writeError(w, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name))
			return
		}
		writeJSON(w, http.StatusOK, cm)
	default:
		writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: resource}, r.Method))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		st = apierrors.NewInternalError(err)
	}
	status := st.Status()
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	writeJSON(w, int(status.Code), &status)
}

func selectorOf(r *http.Request) (labels.Selector, error) {
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return sel, nil
}

func matches(sel labels.Selector, p *corev1.Pod) bool {
	return p != nil && sel.Matches(labels.Set(p.Labels))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, ns string) {
	sel, err := selectorOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	s.lists++
	l := &corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatInt(s.rv, 10)}}
	for _, p := range s.pods {
		if p.Namespace == ns && matches(sel, p) {
			l.Items = append(l.Items, *p.DeepCopy())
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, l)
}

// watch streams the changes after the resourceVersion asked for, as the API server's watch: newline-delimited
// watch events, an object entering the selector ADDED, leaving it DELETED.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, ns string) {
	sel, err := selectorOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(typ watch.EventType, obj any) bool {
		raw, _ := json.Marshal(obj)
		if enc.Encode(watchEvent{Type: string(typ), Object: raw}) != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	s.mu.Lock()
	s.watches++
	from := s.rv
	var initial []*corev1.Pod
	if v := q.Get("resourceVersion"); v != "" && v != "0" {
		if from, err = strconv.ParseInt(v, 10, 64); err != nil {
			s.mu.Unlock()
			writeError(w, apierrors.NewBadRequest("invalid resourceVersion "+v))
			return
		}
	} else {
		for _, p := range s.pods {
			if p.Namespace == ns && matches(sel, p) {
				initial = append(initial, p.DeepCopy())
			}
		}
	}
	gone := from < s.compacted
	bookmark, expired, ended := s.bookmark, s.expired, s.ended
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	expire := func() {
		st := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, s.compactedRV())).Status()
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		send(watch.Error, &st)
	}
	if gone {
		expire()
		return
	}
	for _, p := range initial {
		if !send(watch.Added, p) {
			return
		}
	}
	for {
		s.mu.Lock()
		var evs []event
		for _, e := range s.history {
			if e.rv > from {
				evs = append(evs, e)
			}
		}
		changed := s.changed
		wantBookmark := s.bookmark != bookmark && bookmarks
		nowExpired, nowEnded := s.expired != expired, s.ended != ended
		bookmark = s.bookmark
		rv := s.rv
		s.mu.Unlock()
		if nowExpired {
			expire()
			return
		}
		if nowEnded {
			return
		}
		for _, e := range evs {
			from = e.rv
			var typ watch.EventType
			var obj *corev1.Pod
			inOld, inNew := e.old != nil && e.old.Namespace == ns && matches(sel, e.old), e.new != nil && e.new.Namespace == ns && matches(sel, e.new)
			switch {
			case inNew && !inOld:
				typ, obj = watch.Added, e.new
			case inNew:
				typ, obj = watch.Modified, e.new
			case inOld:
				// The object as it was, at the version of the change that took it out of the selector.
				obj = e.old.DeepCopy()
				obj.ResourceVersion = strconv.FormatInt(e.rv, 10)
				typ = watch.Deleted
			default:
				continue
			}
			if !send(typ, obj) {
				return
			}
		}
		if wantBookmark {
			from = max(from, rv)
			if !send(watch.Bookmark, &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{ResourceVersion: strconv.FormatInt(from, 10)}}) {
				return
			}
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// watchEvent is metav1.WatchEvent as it goes on the wire.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

func (s *Server) compactedRV() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.compacted
}

// patch applies a JSON Patch to the pod as the API server's patch handler does: 400 for a patch that cannot be
// decoded, 422 for one that cannot be applied (an "add" under a map the pod does not have), 422 for labels the
// API server refuses; then validates nothing else.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, ns, name string) {
	body, _ := io.ReadAll(r.Body)
	ct := r.Header.Get("Content-Type")
	s.mu.Lock()
	hook := s.onPatch
	s.mu.Unlock()
	if hook != nil {
		hook(Patch{Namespace: ns, Pod: name, ContentType: ct, Body: body})
	}
	status, err := s.applyPatch(ns, name, ct, body)
	s.mu.Lock()
	s.patches = append(s.patches, Patch{Namespace: ns, Pod: name, ContentType: ct, Body: body, Status: status})
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Pod(ns, name))
}

func (s *Server) applyPatch(ns, name, contentType string, body []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return http.StatusInternalServerError, apierrors.NewInternalError(errors.New("the stand-in was told to fail this patch"))
	}
	if mt, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(mt) != string(types.JSONPatchType) {
		return http.StatusUnsupportedMediaType, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch",
			schema.GroupResource{Resource: "pods"}, name, "the stand-in takes only application/json-patch+json, got "+contentType, 0, false)
	}
	old := s.pods[key(ns, name)]
	if old == nil {
		return http.StatusNotFound, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
	}
	p, err := jsonpatch.DecodePatch(body)
	if err != nil {
		return http.StatusBadRequest, apierrors.NewBadRequest(err.Error())
	}
	orig, _ := json.Marshal(old)
	patched, err := p.Apply(orig)
	if err != nil {
		return http.StatusUnprocessableEntity, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
	}
	var np corev1.Pod
	if err := json.Unmarshal(patched, &np); err != nil {
		return http.StatusBadRequest, apierrors.NewBadRequest(err.Error())
	}
	if errs := metav1validation.ValidateLabels(np.Labels, field.NewPath("metadata", "labels")); len(errs) > 0 {
		return http.StatusUnprocessableEntity, apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, name, errs)
	}
	np.UID, np.Namespace, np.Name = old.UID, old.Namespace, old.Name
	s.record(old, &np)
	return http.StatusOK, nil
}
