package syncer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// tenantPod is a pod as the tenant's API server stores it after admission.
func tenantPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "shop", UID: "pod-uid-1",
			Labels:          map[string]string{"app": "web", tenancy.LabelTenant: "other"},
			Annotations:     map[string]string{"note": "x", tenancy.AnnotationUID: "forged", tenancy.Prefix + "anything": "y"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "web", UID: "ss"}},
			Finalizers:      []string{"tenant/finalizer"},
		},
		Spec: corev1.PodSpec{
			NodeName:           "vnode-1",
			ServiceAccountName: "web-sa",
			PriorityClassName:  "high",
			Priority:           ptr.To[int32](1000),
			Containers: []corev1.Container{{Name: "app", Image: "nginx:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-abcde", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}},
				{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](0o644),
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
							{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					},
				}}},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
	}
}

func TestTranslatePod(t *testing.T) {
	in := tenantPod()
	in.Labels[corev1.LabelTopologyZone] = "zone-of-its-virtual-node"
	out := translatePod("acme", "acme-shop", in, "myriad-token-web-0")
	checks := []struct {
		name string
		ok   bool
	}{
		{"namespace mapped", out.Namespace == "acme-shop" && out.Name == "web-0"},
		{"tenant label is the syncer's, not the forged one", out.Labels[tenancy.LabelTenant] == "acme"},
		{"tenant labels kept", out.Labels["app"] == "web"},
		{"binding labels left to the cluster's binding", out.Labels[corev1.LabelTopologyZone] == ""},
		{"origin annotations set", out.Annotations[tenancy.AnnotationName] == "web-0" && out.Annotations[tenancy.AnnotationUID] == "pod-uid-1"},
		{"other reserved keys stripped", out.Annotations[tenancy.Prefix+"anything"] == ""},
		{"tenant annotations kept", out.Annotations["note"] == "x"},
		{"no owner references or finalizers", len(out.OwnerReferences) == 0 && len(out.Finalizers) == 0},
		{"unscheduled", out.Spec.NodeName == ""},
		{"no status", out.Status.Phase == "" && out.Status.PodIP == ""},
		{"no tenant priority", out.Spec.Priority == nil && out.Spec.PriorityClassName == ""},
		{"super token never mounted", out.Spec.AutomountServiceAccountToken != nil && !*out.Spec.AutomountServiceAccountToken},
		{"no tenant service account", out.Spec.ServiceAccountName == ""},
		{"other volumes kept", out.Spec.Volumes[0].PersistentVolumeClaim != nil && out.Spec.Volumes[0].PersistentVolumeClaim.ClaimName == "data-web-0"},
		{"mount kept", out.Spec.Containers[0].VolumeMounts[0].Name == "kube-api-access-abcde"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v", c.name, out)
		}
	}
	v := out.Spec.Volumes[1]
	if v.Projected != nil || v.Secret == nil || v.Secret.SecretName != "myriad-token-web-0" {
		t.Fatalf("token volume = %+v, want the token Secret", v.VolumeSource)
	}
	want := map[string]string{tokenKey: "token", caKey: "ca.crt", namespaceKey: "namespace"}
	if len(v.Secret.Items) != 3 {
		t.Fatalf("items = %+v", v.Secret.Items)
	}
	for _, it := range v.Secret.Items {
		if want[it.Key] != it.Path {
			t.Errorf("item %s -> %s, want %s", it.Key, it.Path, want[it.Key])
		}
	}
	if in.Labels[tenancy.LabelTenant] != "other" || in.Spec.NodeName != "vnode-1" || in.Spec.Volumes[1].Projected == nil {
		t.Error("translatePod changed its input")
	}
}

func TestPodUpdate(t *testing.T) {
	desired := translatePod("acme", "acme-shop", tenantPod(), "tok")
	live := desired.DeepCopy()
	live.Spec.NodeName = "n1"
	for _, tc := range []struct {
		name    string
		mutate  func(d *corev1.Pod)
		changed bool
		check   func(out *corev1.Pod) bool
	}{
		{"nothing", func(*corev1.Pod) {}, false, func(*corev1.Pod) bool { return true }},
		{"image", func(d *corev1.Pod) { d.Spec.Containers[0].Image = "nginx:2" }, true,
			func(o *corev1.Pod) bool { return o.Spec.Containers[0].Image == "nginx:2" && o.Spec.NodeName == "n1" }},
		{"label", func(d *corev1.Pod) { d.Labels["tier"] = "front" }, true, func(o *corev1.Pod) bool { return o.Labels["tier"] == "front" }},
		{"immutable fields ignored", func(d *corev1.Pod) { d.Spec.Containers[0].Command = []string{"x"} }, false,
			func(o *corev1.Pod) bool { return o.Spec.Containers[0].Command == nil }},
		// The tenant pod, once bound, has its virtual node's zone; the
		// super pod has its own from its binding: neither is an update.
		{"binding labels are the cluster's", func(d *corev1.Pod) { d.Labels[corev1.LabelTopologyZone] = "tenant-zone" }, false,
			func(o *corev1.Pod) bool { return o.Labels[corev1.LabelTopologyZone] == "zone-a" }},
		{"binding labels kept beside a real change", func(d *corev1.Pod) { d.Labels["tier"] = "back" }, true,
			func(o *corev1.Pod) bool {
				return o.Labels[corev1.LabelTopologyZone] == "zone-a" && o.Labels["tier"] == "back"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desired.DeepCopy()
			tc.mutate(d)
			live := live.DeepCopy()
			live.Labels[corev1.LabelTopologyZone] = "zone-a" // set by its binding
			out, changed := podUpdate(live, d)
			if changed != tc.changed || !tc.check(out) {
				t.Fatalf("changed = %v (want %v), out %+v", changed, tc.changed, out.Spec.Containers)
			}
		})
	}
}

func TestTranslatePodStatusDropsSuperReferences(t *testing.T) {
	st := corev1.PodStatus{
		Phase: corev1.PodRunning, ObservedGeneration: 4, NominatedNodeName: "n9", PodIP: "10.1.2.3", HostIP: "192.168.0.5",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, ObservedGeneration: 4}},
	}
	out := translatePodStatus(st)
	if out.ObservedGeneration != 0 || out.NominatedNodeName != "" || out.Conditions[0].ObservedGeneration != 0 {
		t.Errorf("super references kept: %+v", out)
	}
	if out.Phase != corev1.PodRunning || out.PodIP != "10.1.2.3" || out.HostIP != "192.168.0.5" || st.ObservedGeneration != 4 {
		t.Errorf("status lost or input changed: %+v", out)
	}
}

func TestTranslateServiceLeavesIPsAndNodePortsToTheSuperCluster(t *testing.T) {
	in := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "svc-1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.5.5", ClusterIPs: []string{"10.96.5.5"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}}},
	}
	out := translateService("acme", "acme-shop", in)
	if out.Spec.ClusterIP != "" || out.Spec.ClusterIPs != nil || out.Spec.Ports[0].NodePort != 0 {
		t.Fatalf("spec = %+v", out.Spec)
	}
	headless := in.DeepCopy()
	headless.Spec.ClusterIP, headless.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	if got := translateService("acme", "acme-shop", headless); got.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("a headless service lost its None: %q", got.Spec.ClusterIP)
	}
	// The super cluster allocated 10.96.9.9 and 31000; an update keeps them.
	live := out.DeepCopy()
	live.Spec.Ports[0].NodePort = 31000
	live.Spec.ClusterIP, live.Spec.ClusterIPs = "10.96.9.9", []string{"10.96.9.9"}
	if _, changed := serviceUpdate(live, out); changed {
		t.Error("an unchanged service was updated (allocated node port lost)")
	}
	d := out.DeepCopy()
	d.Spec.Selector = map[string]string{"app": "web2"}
	upd, changed := serviceUpdate(live, d)
	if !changed || upd.Spec.Ports[0].NodePort != 31000 || upd.Spec.ClusterIP != "10.96.9.9" || upd.Spec.Selector["app"] != "web2" {
		t.Errorf("update = %+v, changed %v", upd.Spec, changed)
	}
}

func TestSkips(t *testing.T) {
	for _, tc := range []struct {
		name string
		skip bool
	}{
		{"default/kubernetes service", skipService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})},
		{"root CA configmap", skipConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}})},
		{"service-account token secret", skipSecret(&corev1.Secret{Type: corev1.SecretTypeServiceAccountToken})},
		{"other service", !skipService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "kubernetes"}})},
		{"other configmap", !skipConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config"}})},
		{"opaque secret", !skipSecret(&corev1.Secret{Type: corev1.SecretTypeOpaque})},
	} {
		if !tc.skip {
			t.Errorf("%s: wrong skip decision", tc.name)
		}
	}
}

func TestImmutableChangesRecreate(t *testing.T) {
	yes := true
	live := translateConfigMap("acme", "acme-shop", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: "u"}, Data: map[string]string{"a": "1"}, Immutable: &yes})
	desired := live.DeepCopy()
	desired.Data["a"] = "2"
	if _, changed, recreate := configMapUpdate(live, desired); !changed || !recreate {
		t.Errorf("immutable configmap data change: changed %v recreate %v", changed, recreate)
	}
	sl := translateSecret("acme", "acme-shop", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", UID: "u"}, Type: corev1.SecretTypeOpaque})
	sd := sl.DeepCopy()
	sd.Type = corev1.SecretTypeDockerConfigJson
	if _, _, recreate := secretUpdate(sl, sd); !recreate {
		t.Error("secret type change must recreate")
	}
	if _, changed, _ := secretUpdate(sl, sl.DeepCopy()); changed {
		t.Error("unchanged secret reported changed")
	}
}

func TestTranslatePVCUnbindsAndUpdatesOnlyRequests(t *testing.T) {
	in := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", UID: "c1"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-tenant", AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	out := translatePVC("acme", "acme-shop", in)
	if out.Spec.VolumeName != "" {
		t.Errorf("volumeName kept: %q", out.Spec.VolumeName)
	}
	live := out.DeepCopy()
	live.Spec.VolumeName = "pv-super"
	grown := out.DeepCopy()
	grown.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	upd, changed := pvcUpdate(live, grown)
	if !changed || upd.Spec.VolumeName != "pv-super" || upd.Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Errorf("update = %+v changed %v", upd.Spec, changed)
	}
}

func TestTranslateNamespaceRecordsOriginOnly(t *testing.T) {
	out := translateNamespace("acme", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "ns1",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}})
	if out.Name != "acme-shop" || !tenancy.OwnsNamespace(out.Labels, out.Annotations, "acme", "shop") || out.Annotations[tenancy.AnnotationUID] != "ns1" {
		t.Fatalf("namespace = %+v", out.ObjectMeta)
	}
	if _, ok := out.Labels["pod-security.kubernetes.io/enforce"]; ok {
		t.Error("tenant namespace labels copied to the super cluster")
	}
}

func TestTranslateNode(t *testing.T) {
	super := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "super-uid", Labels: map[string]string{"zone": "a", LabelVirtualNode: "false", tenancy.LabelTenant: "x"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}, PodCIDR: "10.0.0.0/24"},
		Status: corev1.NodeStatus{
			Capacity:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")},
			Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.0.1"}},
			Images:          []corev1.ContainerImage{{Names: []string{"big"}}},
			NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		},
	}
	out := translateNode(super, 0)
	if out.Labels["zone"] != "a" || out.Labels[LabelVirtualNode] != "true" || out.Labels[tenancy.LabelTenant] != "" {
		t.Errorf("labels = %v", out.Labels)
	}
	if out.UID != "" || len(out.Spec.Taints) != 0 || out.Spec.PodCIDR != "" || len(out.Status.Images) != 0 {
		t.Errorf("copied what it should not: %+v", out)
	}
	if out.Status.Capacity.Cpu().String() != "8" || out.Status.NodeInfo.KubeletVersion != "v1.37.2" || out.Status.Addresses[0].Address != "192.168.0.1" {
		t.Errorf("status = %+v", out.Status)
	}
	if _, l, s := nodeUpdate(out, translateNode(super, 0)); l || s {
		t.Error("an unchanged node reported changed")
	}
	if out.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("without a kubelet proxy the node's own kubelet port is reported, got %d", out.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
	// With the kubelet proxy, the address stays the super node's and the
	// port becomes the proxy's; a node made before the proxy is updated.
	proxied := translateNode(super, 10550)
	if proxied.Status.DaemonEndpoints.KubeletEndpoint.Port != 10550 || proxied.Status.Addresses[0].Address != "192.168.0.1" {
		t.Errorf("proxied endpoint = %+v, addresses %v", proxied.Status.DaemonEndpoints, proxied.Status.Addresses)
	}
	if _, _, s := nodeUpdate(out, proxied); !s {
		t.Error("a changed kubelet port did not report a status change")
	}
}

func TestTokenSecretAndName(t *testing.T) {
	p := tenantPod()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := tokenSecret("acme", "acme-shop", p, []byte("tok"), []byte("ca"), at)
	if s.Labels[LabelRole] != RolePodToken || s.Annotations[tenancy.AnnotationUID] != "pod-uid-1" || string(s.Data[namespaceKey]) != "shop" {
		t.Errorf("secret = %+v", s)
	}
	if !tokenRefreshAt(s).Equal(at) {
		t.Errorf("refresh at %v, want %v", tokenRefreshAt(s), at)
	}
	long := tokenSecretName(strings.Repeat("a", 250))
	if len(long) > 253 || long == tokenSecretName(strings.Repeat("a", 249)) {
		t.Errorf("long names: %d chars, distinct: %v", len(long), long != tokenSecretName(strings.Repeat("a", 249)))
	}
}

func TestPodStatusPatchCarriesTheStatusAndTheUID(t *testing.T) {
	old := corev1.PodStatus{Phase: corev1.PodPending}
	want := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7", Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	patch, err := podStatusPatch("uid-1", old, want)
	if err != nil {
		t.Fatal(err)
	}
	// The live pod is a step ahead of the cache the patch was made from:
	// its binding added PodScheduled and a label.
	live := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", UID: "uid-1", Labels: map[string]string{corev1.LabelTopologyZone: "z"}},
		Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, Reason: "bound"}}}}
	liveJSON, _ := json.Marshal(live)
	merged, err := strategicpatch.StrategicMergePatch(liveJSON, patch, corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(merged, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.0.0.7" || len(got.Status.Conditions) != 2 {
		t.Errorf("status not carried: %+v", got.Status)
	}
	if got.Spec.NodeName != "n1" || got.Labels[corev1.LabelTopologyZone] != "z" {
		t.Errorf("the patch touched more than status: %+v", got)
	}
	if !strings.Contains(string(patch), `"uid":"uid-1"`) {
		t.Errorf("no UID precondition in %s", patch)
	}
}

func TestOnlyScheduledIsTheBindingsOwnNews(t *testing.T) {
	bound := corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}
	if !onlyScheduled(bound) {
		t.Error("a bound pending pod has nothing more to report")
	}
	started := bound.DeepCopy()
	started.HostIP = "192.168.0.5"
	ready := bound.DeepCopy()
	ready.Conditions = append(ready.Conditions, corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue})
	for name, st := range map[string]corev1.PodStatus{"host IP": *started, "another condition": *ready, "running": {Phase: corev1.PodRunning}} {
		if onlyScheduled(st) {
			t.Errorf("%s: reported as nothing new", name)
		}
	}
}
