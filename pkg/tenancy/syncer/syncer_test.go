package syncer

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// A tenant pod runs on the super cluster: in its own super namespace,
// marked with its origin and nothing the tenant forged, with a token of
// the tenant's API server in place of the projected one.
func TestTenantPodIsCreatedOnSuperCluster(t *testing.T) {
	h := newHarness(t, nil, nil)
	tp := h.createTenantPod("p1", "uid-p1")

	h.eventually("super pod", func() bool { return h.superPod("t1-web", "p1") != nil })
	ns, err := h.super.CoreV1().Namespaces().Get(ctx, "t1-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !tenancy.OwnsNamespace(ns.Labels, ns.Annotations, tenantName, "web") {
		t.Errorf("super namespace origin = %v %v", ns.Labels, ns.Annotations)
	}
	sp := h.superPod("t1-web", "p1")
	if sp.Labels[tenancy.LabelTenant] != tenantName || sp.Labels["app"] != "web" {
		t.Errorf("labels = %v; want the syncer's tenant label and the tenant's own", sp.Labels)
	}
	if sp.Annotations[tenancy.AnnotationUID] != string(tp.UID) || sp.Annotations[tenancy.AnnotationName] != "p1" {
		t.Errorf("annotations = %v; want the real origin, not the forged one", sp.Annotations)
	}
	if sp.Spec.AutomountServiceAccountToken == nil || *sp.Spec.AutomountServiceAccountToken {
		t.Error("the super cluster's token would be mounted")
	}
	vol := sp.Spec.Volumes[0]
	if vol.Secret == nil {
		t.Fatalf("token volume = %+v", vol.VolumeSource)
	}
	sec, err := h.super.CoreV1().Secrets("t1-web").Get(ctx, vol.Secret.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("token secret: %v", err)
	}
	if string(sec.Data["token"]) != "token-for-p1" || string(sec.Data["ca.crt"]) != "TENANT CA" || string(sec.Data["namespace"]) != "web" {
		t.Errorf("token secret data = %q", sec.Data)
	}
	if sec.Labels[tenancy.LabelTenant] != tenantName || sec.Labels[LabelRole] != RolePodToken {
		t.Errorf("token secret labels = %v", sec.Labels)
	}

	// An image change reaches the super pod in place.
	tp.Spec.Containers[0].Image = "nginx:2"
	if _, err := h.tenant.CoreV1().Pods("web").Update(ctx, tp, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("image updated", func() bool { return h.superPod("t1-web", "p1").Spec.Containers[0].Image == "nginx:2" })
	if v := testutil.ToFloat64(h.s.m.synced.WithLabelValues(tenantName, "down", "pod")); v < 2 {
		t.Errorf("objects_synced_total{down,pod} = %v, want >= 2", v)
	}
}

// When the super pod is placed and runs, the tenant sees a virtual node of
// that name, its pod bound to it, and the pod's status.
func TestSuperPlacementBindsTenantPod(t *testing.T) {
	h := newHarness(t, []runtime.Object{superNode("n1")}, nil)
	h.createTenantPod("p1", "uid-p1")
	h.eventually("super pod", func() bool { return h.superPod("t1-web", "p1") != nil })
	h.runSuperPod("t1-web", "p1", "n1")

	h.eventually("tenant pod bound and Running", func() bool {
		p := h.tenantPod("web", "p1")
		return p != nil && p.Spec.NodeName == "n1" && p.Status.Phase == corev1.PodRunning && p.Status.PodIP == "10.244.3.7"
	})
	n, err := h.tenant.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("virtual node: %v", err)
	}
	if n.Labels[LabelVirtualNode] != "true" || n.Labels["kubernetes.io/hostname"] != "n1" ||
		n.Status.Capacity.Cpu().String() != "16" || nodeReady(n) != corev1.ConditionTrue || n.Status.NodeInfo.KubeletVersion != "v1.37.2" {
		t.Errorf("virtual node = %+v", n)
	}

	// The node going NotReady reaches the tenant's copy.
	sn, _ := h.super.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	sn.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := h.super.CoreV1().Nodes().UpdateStatus(ctx, sn, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("virtual node NotReady", func() bool {
		n, err := h.tenant.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		return err == nil && nodeReady(n) == corev1.ConditionFalse
	})

	// A super pod event is replayed against the tenant pod.
	sp := h.superPod("t1-web", "p1")
	_, err = h.super.CoreV1().Events("t1-web").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "t1-web", Name: "p1.abc"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "t1-web", Name: "p1", UID: sp.UID},
		Reason:         "Pulled", Message: "Successfully pulled image", Type: corev1.EventTypeNormal, Count: 1,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.eventually("event replayed", func() bool {
		return len(h.tenantEvents("web", func(e corev1.Event) bool {
			return e.Reason == "Pulled" && e.InvolvedObject.Name == "p1" && e.InvolvedObject.UID == "uid-p1"
		})) == 1
	})
}

// Deleting the tenant pod deletes its super pod and token; the virtual
// node it used is collected once empty.
func TestTenantPodDeletionDeletesSuperPod(t *testing.T) {
	h := newHarness(t, []runtime.Object{superNode("n1")}, nil)
	h.createTenantPod("p1", "uid-p1")
	h.eventually("super pod", func() bool { return h.superPod("t1-web", "p1") != nil })
	h.runSuperPod("t1-web", "p1", "n1")
	h.eventually("bound", func() bool { p := h.tenantPod("web", "p1"); return p != nil && p.Spec.NodeName == "n1" })

	if err := h.tenant.CoreV1().Pods("web").Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("super pod deleted", func() bool { return h.superPod("t1-web", "p1") == nil })
	h.eventually("token deleted", func() bool {
		_, err := h.super.CoreV1().Secrets("t1-web").Get(ctx, tokenSecretName("p1"), metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	h.eventually("virtual node collected", func() bool {
		_, err := h.tenant.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// A super pod that disappears takes a bound tenant pod with it (as a lost
// node does) and is made again for a pod not yet bound.
func TestSuperPodLoss(t *testing.T) {
	h := newHarness(t, []runtime.Object{superNode("n1")}, nil)
	h.createTenantPod("bound", "uid-bound")
	h.createTenantPod("pending", "uid-pending")
	h.eventually("super pods", func() bool { return h.superPod("t1-web", "bound") != nil && h.superPod("t1-web", "pending") != nil })
	h.runSuperPod("t1-web", "bound", "n1")
	h.eventually("bound and running", func() bool {
		p := h.tenantPod("web", "bound")
		return p != nil && p.Spec.NodeName == "n1" && p.Status.Phase == corev1.PodRunning
	})

	for _, name := range []string{"bound", "pending"} {
		if err := h.super.CoreV1().Pods("t1-web").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.eventually("bound tenant pod deleted", func() bool { return h.tenantPod("web", "bound") == nil })
	h.eventually("pending super pod recreated", func() bool { return h.superPod("t1-web", "pending") != nil })
	if h.superPod("t1-web", "bound") != nil {
		t.Error("the lost pod was recreated on the super cluster")
	}
}

// A syncer restarted over a converged state writes nothing to the super
// cluster: no duplicate, no deletion of what is live.
func TestRestartCreatesNoDuplicatesAndDeletesNothing(t *testing.T) {
	h := newHarness(t, []runtime.Object{superNode("n1")}, []runtime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "conf", UID: "cm1"}, Data: map[string]string{"k": "v"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "creds", UID: "s1"}, Data: map[string][]byte{"p": []byte("x")}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web", UID: "svc1"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"}, Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes", UID: "svc-k"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "ns-default"}},
	})
	h.createTenantPod("p1", "uid-p1")
	h.eventually("converged", func() bool {
		_, e1 := h.super.CoreV1().ConfigMaps("t1-web").Get(ctx, "conf", metav1.GetOptions{})
		_, e2 := h.super.CoreV1().Secrets("t1-web").Get(ctx, "creds", metav1.GetOptions{})
		svc, e3 := h.super.CoreV1().Services("t1-web").Get(ctx, "web", metav1.GetOptions{})
		return e1 == nil && e2 == nil && e3 == nil && svc.Spec.ClusterIP != "10.96.0.20" && h.superPod("t1-web", "p1") != nil
	})
	if _, err := h.super.CoreV1().Services("t1-default").Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		t.Error("the tenant's default/kubernetes service was synced")
	}
	h.runSuperPod("t1-web", "p1", "n1")
	h.eventually("bound", func() bool { p := h.tenantPod("web", "p1"); return p != nil && p.Status.Phase == corev1.PodRunning })
	h.stop()

	h.super.ClearActions()
	h.tenant.ClearActions()
	h.start()
	h.eventually("tenant served again", func() bool { tc := h.s.tenant(tenantName); return tc != nil && tc.synced.Load() })
	// Several resync periods: every object checked on both sides.
	settle(h, 4)
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("restart wrote to the super cluster: %v", w)
	}
	for _, a := range h.tenant.Actions() {
		if v := a.GetVerb(); v != "list" && v != "watch" && v != "get" && !(v == "create" && a.GetResource().Resource == "events") {
			t.Errorf("restart wrote to the tenant: %s %s/%s", v, a.GetResource().Resource, a.GetSubresource())
		}
	}
}

// settle waits for n resync periods with an empty queue at the end.
func settle(h *harness, n int) {
	h.t.Helper()
	for range n {
		timeSleep(h.s.o.Resync)
	}
	h.eventually("queue drained", func() bool { return h.s.queue.Len() == 0 })
}

// Super copies whose tenant object is gone are removed; objects without
// the tenant label, and live copies, are left alone.
func TestOrphansAreRemoved(t *testing.T) {
	origin := func(name, uid string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "t1-web", Name: name, Labels: map[string]string{tenancy.LabelTenant: tenantName},
			Annotations: map[string]string{tenancy.AnnotationName: name, tenancy.AnnotationUID: uid}}
	}
	superNs := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t1-web", Labels: map[string]string{tenancy.LabelTenant: tenantName},
		Annotations: map[string]string{tenancy.AnnotationNamespace: "web", tenancy.AnnotationName: "web", tenancy.AnnotationUID: "ns-web"}}}
	h := newHarness(t, []runtime.Object{
		superNs,
		&corev1.ConfigMap{ObjectMeta: origin("gone", "cm-gone")},
		&corev1.Pod{ObjectMeta: origin("gone-pod", "pod-gone")},
		&corev1.ConfigMap{ObjectMeta: origin("kept", "cm-kept"), Data: map[string]string{"k": "v"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "t1-web", Name: "theirs"}},
	}, []runtime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "kept", UID: "cm-kept"}, Data: map[string]string{"k": "v"}},
	})
	h.eventually("orphans deleted", func() bool {
		_, e1 := h.super.CoreV1().ConfigMaps("t1-web").Get(ctx, "gone", metav1.GetOptions{})
		_, e2 := h.super.CoreV1().Pods("t1-web").Get(ctx, "gone-pod", metav1.GetOptions{})
		return apierrors.IsNotFound(e1) && apierrors.IsNotFound(e2)
	})
	settle(h, 2)
	for _, name := range []string{"kept", "theirs"} {
		if _, err := h.super.CoreV1().ConfigMaps("t1-web").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("configmap %s: %v", name, err)
		}
	}
}

// A write the super cluster refuses is reported on the tenant object as a
// Warning event, and retried.
func TestRejectedWriteIsAWarningOnTheTenantObject(t *testing.T) {
	var refused atomic.Int32
	h := newHarness(t, nil, nil, func(h *harness) {
		h.super.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			refused.Add(1)
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "p1",
				errString("exceeded quota: compute, requested: cpu=1, used: cpu=4, limited: cpu=4"))
		})
	})
	h.createTenantPod("p1", "uid-p1")
	h.eventually("warning event", func() bool {
		return len(h.tenantEvents("web", func(e corev1.Event) bool {
			return e.Type == corev1.EventTypeWarning && e.Reason == "SyncError" && e.InvolvedObject.Name == "p1" &&
				e.InvolvedObject.Kind == "Pod" && strings.Contains(e.Message, "exceeded quota")
		})) > 0
	})
	h.eventually("retried", func() bool { return refused.Load() >= 2 })
	if h.superPod("t1-web", "p1") != nil {
		t.Fatal("a refused pod exists")
	}
}

// A super namespace of another origin is refused, with a warning on the
// tenant namespace, and nothing is put in it.
func TestForeignSuperNamespaceIsRefused(t *testing.T) {
	h := newHarness(t, []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t1-web"}}}, nil)
	h.createTenantPod("p1", "uid-p1")
	h.eventually("warning on the namespace", func() bool {
		return len(h.tenantEvents("", func(e corev1.Event) bool {
			return e.Reason == "SyncError" && e.InvolvedObject.Kind == "Namespace" && e.InvolvedObject.Name == "web"
		})) > 0
	})
	if h.superPod("t1-web", "p1") != nil {
		t.Fatal("a pod was created in a namespace the tenant does not own")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// A tenant Service learns the cluster IP its copy got on the super cluster
// (its own spec.clusterIP is the tenant API server's and means nothing
// there), and loses it if the copy turns headless.
func TestServiceClusterIPIsReportedUp(t *testing.T) {
	h := newHarness(t, nil, []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web", UID: "svc1"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"}, Ports: []corev1.ServicePort{{Port: 80}}}},
	})
	var twin *corev1.Service
	h.eventually("service placed", func() bool {
		var err error
		twin, err = h.super.CoreV1().Services("t1-web").Get(ctx, "web", metav1.GetOptions{})
		return err == nil
	})
	if got := h.tenantService("web", "web").Annotations[AnnotationClusterIP]; got != "" {
		t.Fatalf("annotation %q before the copy has an address", got)
	}
	// The super cluster's API server allocates its address.
	twin.Spec.ClusterIP, twin.Spec.ClusterIPs = "10.96.7.7", []string{"10.96.7.7", "fd00::7"}
	if _, err := h.super.CoreV1().Services("t1-web").Update(ctx, twin, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("cluster IPs reported", func() bool {
		return h.tenantService("web", "web").Annotations[AnnotationClusterIP] == "10.96.7.7,fd00::7"
	})
	if svc := h.tenantService("web", "web"); svc.Spec.ClusterIP != "10.96.0.20" {
		t.Errorf("the tenant's own cluster IP changed: %s", svc.Spec.ClusterIP)
	}
	// A tenant cannot forge it onto the copy.
	if got, _ := h.super.CoreV1().Services("t1-web").Get(ctx, "web", metav1.GetOptions{}); got.Annotations[AnnotationClusterIP] != "" {
		t.Errorf("the annotation was copied down: %v", got.Annotations)
	}
	twin, _ = h.super.CoreV1().Services("t1-web").Get(ctx, "web", metav1.GetOptions{})
	twin.Spec.ClusterIP, twin.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	if _, err := h.super.CoreV1().Services("t1-web").Update(ctx, twin, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("annotation removed", func() bool {
		_, has := h.tenantService("web", "web").Annotations[AnnotationClusterIP]
		return !has
	})
}
