package kubeletapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

// fakeNodes is a simulator with fixed nodes and pods.
type fakeNodes struct {
	nodes map[netip.Addr]string
	pods  map[string]*corev1.Pod
	files *sandbox.Files
}

func (f *fakeNodes) Container(pod *corev1.Pod, name string) *sandbox.Container {
	if f.files == nil {
		f.files = sandbox.NewFiles(0, 0, nil)
	}
	var id string
	if _, cs := container(pod, name); cs != nil {
		id = cs.ContainerID
	}
	return f.files.ForPod(pod, name, id, nil, nil)
}

func (f *fakeNodes) NodeAt(a netip.Addr) (string, bool) { n, ok := f.nodes[a]; return n, ok }

// Disk: every fake node has 100Gi, 1Gi of it images.
func (f *fakeNodes) Disk(string) (capacity, images float64) { return 100 << 30, 1 << 30 }
func (f *fakeNodes) Pod(ns, name string) *corev1.Pod        { return f.pods[ns+"/"+name] }
func (f *fakeNodes) PodsOn(node string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range f.pods {
		if p.Spec.NodeName == node {
			out = append(out, p)
		}
	}
	return out
}

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// runningPod is pod ns/name on node with one container "app" running since
// started, restarted restarts times (the previous run in lastState).
func runningPod(name, node string, started time.Time, restarts int32) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "app", Image: "nginx:1.27",
			Env: []corev1.EnvVar{
				{Name: "GREETING", Value: "hello"},
				{Name: "MESSAGE", Value: "$(GREETING) world"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
			},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.128.0.7", HostIP: "127.16.0.1", ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", RestartCount: restarts, ContainerID: "containerd://current",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}},
		}}},
	}
	if restarts > 0 {
		p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, StartedAt: metav1.NewTime(started.Add(-time.Hour)), FinishedAt: metav1.NewTime(started.Add(-time.Hour + 4*time.Second)),
			ContainerID: "containerd://previous",
		}}
	}
	return p
}

func newTestServer(t *testing.T, clk clock.Clock, pods ...*corev1.Pod) (*Server, *fakeNodes) {
	t.Helper()
	f := &fakeNodes{nodes: map[netip.Addr]string{netip.MustParseAddr("127.16.0.1"): "node-0", netip.MustParseAddr("127.16.0.2"): "node-1"}, pods: map[string]*corev1.Pod{}}
	for _, p := range pods {
		f.pods[p.Namespace+"/"+p.Name] = p
	}
	s, err := New(Config{Nodes: f, Clock: clk, AllowedClients: []string{"kube-apiserver-kubelet-client"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

// onNode serves the endpoints, without authorization, as if every
// connection had come to node's address.
func onNode(s *Server, node string) http.Handler {
	routes := s.routes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes.ServeHTTP(w, r.WithContext(withNode(r.Context(), node)))
	})
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}
