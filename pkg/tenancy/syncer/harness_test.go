package syncer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// harness is a super cluster, one Ready tenant "t1" and a syncer between
// them, all in-process. The fakes do what an API server would for what
// the syncer uses beyond plain CRUD: pods/binding and TokenRequest.
type harness struct {
	t      *testing.T
	super  *fake.Clientset
	dyn    *dynamicfake.FakeDynamicClient
	tenant *fake.Clientset
	reg    *prometheus.Registry

	s      *Syncer
	cancel context.CancelFunc
	done   chan error
}

const tenantName = "t1"

// newHarness starts the syncer after setup (if any) has run: the fakes'
// reactor chains may only be changed before anything uses them.
func newHarness(t *testing.T, superObjs, tenantObjs []runtime.Object, setup ...func(*harness)) *harness {
	t.Helper()
	kc := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenancy.SystemNamespace, Name: tenancy.KubeconfigSecret(tenantName)},
		Data:       map[string][]byte{tenancy.SyncerKubeconfigKey: []byte("fake kubeconfig")},
	}
	h := &harness{t: t, super: fake.NewClientset(append(superObjs, kc)...)}
	statusSubresource(h.super)
	tn := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tenancy.myriad.dev/v1alpha1", "kind": "Tenant",
		"metadata": map[string]any{"name": tenantName, "uid": "tenant-uid"},
		"spec":     map[string]any{"weight": int64(1)},
		"status":   map[string]any{"phase": "Ready", "kubeconfigSecret": tenancy.KubeconfigSecret(tenantName)},
	}}
	h.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schemaGVR]string{TenantsResource: "TenantList"}, tn)
	h.tenant = fake.NewClientset(append([]runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "ns-web"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "kube-root-ca.crt", UID: "cm-ca"}, Data: map[string]string{"ca.crt": "TENANT CA"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "default", UID: "sa-default"}},
	}, tenantObjs...)...)
	statusSubresource(h.tenant)
	h.tenant.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		obj, err := h.tenant.Tracker().Get(podsGVR, a.GetNamespace(), b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		return true, b, h.tenant.Tracker().Update(podsGVR, p, a.GetNamespace())
	})
	h.tenant.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		tr.Status.Token = "token-for-" + tr.Spec.BoundObjectRef.Name
		return true, tr, nil
	})
	for _, f := range setup {
		f(h)
	}
	h.start()
	return h
}

func (h *harness) start() {
	h.t.Helper()
	h.reg = prometheus.NewRegistry()
	s, err := New(Options{
		Super: h.super, Dynamic: h.dyn, Workers: 2, Resync: 300 * time.Millisecond, NodeGC: 200 * time.Millisecond,
		TenantClient: func(tenant string, kubeconfig []byte) (kubernetes.Interface, error) {
			if tenant != tenantName || string(kubeconfig) != "fake kubeconfig" {
				return nil, fmt.Errorf("unexpected tenant %s", tenant)
			}
			return h.tenant, nil
		},
		Registry: h.reg,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.s, h.cancel, h.done = s, cancel, make(chan error, 1)
	go func() { h.done <- s.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.cancel = nil
}

// eventually polls cond for up to 10 s.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var ctx = context.Background()

func (h *harness) superPod(ns, name string) *corev1.Pod {
	p, err := h.super.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return p
}

func (h *harness) tenantPod(ns, name string) *corev1.Pod {
	p, err := h.tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return p
}

// tenantClaim is the tenant's claim ns/name, or an empty one.
func (h *harness) tenantClaim(ns, name string) *corev1.PersistentVolumeClaim {
	c, err := h.tenant.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return &corev1.PersistentVolumeClaim{}
	}
	return c
}

// tenantService is the tenant's Service ns/name, or an empty one.
func (h *harness) tenantService(ns, name string) *corev1.Service {
	svc, err := h.tenant.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return &corev1.Service{}
	}
	return svc
}

// createTenantPod creates a pod as a tenant's API server would after
// admission: with a UID and the projected token volume.
func (h *harness) createTenantPod(name string, uid types.UID) *corev1.Pod {
	h.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: name, UID: uid,
			Labels:      map[string]string{"app": "web", tenancy.LabelTenant: "victim"},
			Annotations: map[string]string{tenancy.AnnotationUID: "forged"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default",
			Containers: []corev1.Container{{Name: "app", Image: "nginx:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x1", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
			Volumes: []corev1.Volume{{Name: "kube-api-access-x1", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
						Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
						{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
				}}}}},
		},
	}
	created, err := h.tenant.CoreV1().Pods("web").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return created
}

// superNode is a Ready super node.
func superNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resourceMust("16")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resourceMust("15")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"},
		},
	}
}

// runSuperPod plays the super scheduler and kubelet: the super pod is
// placed on node and Running.
func (h *harness) runSuperPod(ns, name, node string) {
	h.t.Helper()
	p := h.superPod(ns, name)
	p.Spec.NodeName = node
	p, err := h.super.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.3.7", HostIP: "192.168.1.10",
		StartTime:  &metav1.Time{Time: time.Unix(1_800_000_000, 0)},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	if _, err := h.super.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// writes lists the super-cluster writes recorded since the fake was made
// or last cleared (leases excluded).
func (h *harness) writes() []string {
	var out []string
	for _, a := range h.super.Actions() {
		switch a.GetVerb() {
		case "create", "update", "delete", "patch":
			if a.GetResource().Resource == "leases" {
				continue
			}
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+" "+a.GetNamespace())
		}
	}
	return out
}

func (h *harness) tenantEvents(ns string, match func(corev1.Event) bool) []corev1.Event {
	l, err := h.tenant.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []corev1.Event
	for _, e := range l.Items {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

type schemaGVR = schema.GroupVersionResource

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

func resourceMust(q string) resource.Quantity { return resource.MustParse(q) }

func timeSleep(d time.Duration) { time.Sleep(d) }
