package core

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ownedPod(ns string, lbls map[string]string, refs ...metav1.OwnerReference) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p", Labels: lbls, OwnerReferences: refs}}
}

func controllerRef(apiVersion, kind, name string) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &yes}
}

func service(ns, name string, sel map[string]string) *v1.Service {
	return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.ServiceSpec{Selector: sel}}
}

// The default selector follows kube's helper.DefaultSelector case by case.
func TestDefaultSpreadSelector(t *testing.T) {
	web := map[string]string{"app": "web", "pod-template-hash": "h1", "tier": "front"}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-h1"}, Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{
		MatchLabels:      map[string]string{"app": "web"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "pod-template-hash", Operator: metav1.LabelSelectorOpIn, Values: []string{"h1"}}}}}}
	emptyRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "any"}, Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{}}}
	ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"}, Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"app": "db"}}}}
	rc := &v1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "legacy"}, Spec: v1.ReplicationControllerSpec{
		Selector: map[string]string{"app": "web", "rc": "legacy"}}}
	notController := controllerRef("apps/v1", "ReplicaSet", "web-h1")
	notController.Controller = nil

	tests := []struct {
		name     string
		services []*v1.Service
		pod      *v1.Pod
		want     string // "" : no defaulting
	}{
		{"no service, no controller", nil, ownedPod("ns", web), ""},
		{"one service", []*v1.Service{service("ns", "s", map[string]string{"app": "web"})}, ownedPod("ns", web), "app=web"},
		{"services merge", []*v1.Service{service("ns", "s", map[string]string{"app": "web"}), service("ns", "f", map[string]string{"tier": "front"})},
			ownedPod("ns", web), "app=web,tier=front"},
		{"service not selecting the pod", []*v1.Service{service("ns", "s", map[string]string{"app": "db"})}, ownedPod("ns", web), ""},
		{"service in another namespace", []*v1.Service{service("other", "s", map[string]string{"app": "web"})}, ownedPod("ns", web), ""},
		{"nil and empty service selectors add nothing", []*v1.Service{service("ns", "n", nil), service("ns", "e", map[string]string{})}, ownedPod("ns", web), ""},
		{"replicaset requirements", nil, ownedPod("ns", web, controllerRef("apps/v1", "ReplicaSet", "web-h1")), "app=web,pod-template-hash in (h1)"},
		{"service and replicaset", []*v1.Service{service("ns", "f", map[string]string{"tier": "front"})},
			ownedPod("ns", web, controllerRef("apps/v1", "ReplicaSet", "web-h1")), "app=web,pod-template-hash in (h1),tier=front"},
		{"replicaset with empty selector", nil, ownedPod("ns", web, controllerRef("apps/v1", "ReplicaSet", "any")), ""},
		{"replicaset not found", nil, ownedPod("ns", web, controllerRef("apps/v1", "ReplicaSet", "gone")), ""},
		{"replicaset of another namespace", nil, ownedPod("other", web, controllerRef("apps/v1", "ReplicaSet", "web-h1")), ""},
		{"reference that is not the controller", nil, ownedPod("ns", web, notController), ""},
		{"old api group", nil, ownedPod("ns", web, controllerRef("extensions/v1beta1", "ReplicaSet", "web-h1")), ""},
		{"statefulset", nil, ownedPod("ns", map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"},
			controllerRef("apps/v1", "StatefulSet", "db")), "app=db"},
		{"replicationcontroller merges its labels", []*v1.Service{service("ns", "s", map[string]string{"app": "web"})},
			ownedPod("ns", web, controllerRef("v1", "ReplicationController", "legacy")), "app=web,rc=legacy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := New(DefaultConfig())
			for _, s := range tt.services {
				sc.UpdateService(s)
			}
			sc.UpdateReplicaSet(rs)
			sc.UpdateReplicaSet(emptyRS)
			sc.UpdateStatefulSet(ss)
			sc.UpdateReplicationController(rc)
			got := ""
			if d := sc.defaultSpreadFor(tt.pod); d != nil {
				got = d.sel.String()
			}
			if got != tt.want {
				t.Fatalf("selector %q, want %q", got, tt.want)
			}
		})
	}
}

// Resolutions are cached per workload — StatefulSet pods with their unique
// labels included — and dropped when a selector really changes.
func TestDefaultSpreadSelectorCache(t *testing.T) {
	sc := New(DefaultConfig())
	sc.UpdateService(service("ns", "db", map[string]string{"app": "db"}))
	pod := func(name string) *v1.Pod {
		return ownedPod("ns", map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": name}, controllerRef("apps/v1", "StatefulSet", "db"))
	}
	a, b := sc.defaultSpreadFor(pod("db-0")), sc.defaultSpreadFor(pod("db-1"))
	if a == nil || a != b || len(sc.workloads.resolved) != 1 {
		t.Fatalf("replicas should share one resolution: %v %v, %d cached", a, b, len(sc.workloads.resolved))
	}
	if ClassOf(pod("db-0")) != ClassOf(pod("db-1")) || classKey(pod("db-0"), a, nil) != classKey(pod("db-1"), b, nil) {
		t.Fatal("replicas with equal siblings must share a class")
	}

	// A status-only update (same selector) keeps the cache.
	sc.UpdateService(service("ns", "db", map[string]string{"app": "db"}))
	if len(sc.workloads.resolved) != 1 {
		t.Fatal("unchanged selector dropped the cache")
	}
	sc.UpdateStatefulSet(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db", "role": "primary"}}}})
	c := sc.defaultSpreadFor(pod("db-0"))
	// The Service's and the StatefulSet's requirements both stay, as in kube.
	if c == nil || c.sel.String() != "app=db,app=db,role=primary" {
		t.Fatalf("after the StatefulSet appeared: %v", c)
	}
	if classKey(pod("db-0"), a, nil) == classKey(pod("db-0"), c, nil) {
		t.Fatal("pods whose siblings changed must change class")
	}
	sc.RemoveService(service("ns", "db", nil))
	sc.RemoveStatefulSet(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"}})
	if d := sc.defaultSpreadFor(pod("db-0")); d != nil {
		t.Fatalf("no Service or controller left, still %v", d.sel)
	}
}
