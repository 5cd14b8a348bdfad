package statefulset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

func testSet() *v1beta1.StatefulSet {
	return &v1beta1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", UID: "set-uid"},
		Spec: v1beta1.StatefulSetSpec{
			Replicas:    ptr.To[int32](3),
			ServiceName: "db-svc",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "db", Image: "db:1"}},
					Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"tier": "storage"}}}},
		},
	}
}

func TestOrdinalOf(t *testing.T) {
	for name, want := range map[string]int{"db-0": 0, "db-12": 12} {
		if got, ok := OrdinalOf("db", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}); !ok || got != want {
			t.Errorf("%s: ordinal %d, %v; want %d", name, got, ok, want)
		}
	}
	// Not members: another set's pods (db-x-1 belongs to db-x), names
	// upstream would never give, and leading zeros.
	for _, name := range []string{"db-", "db-x-1", "db-01", "db--1", "dbx-1", "db-1a"} {
		if _, ok := OrdinalOf("db", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}); ok {
			t.Errorf("%s taken as a member of db", name)
		}
	}
}

func TestNewPod(t *testing.T) {
	set := testSet()
	set.Spec.Lifecycle = &pub.Lifecycle{}
	pod := NewPod(set, &set.Spec.Template, "db-abc", 2)
	if pod.Name != "db-2" || pod.Spec.Hostname != "db-2" || pod.Spec.Subdomain != "db-svc" {
		t.Errorf("identity %s %s %s", pod.Name, pod.Spec.Hostname, pod.Spec.Subdomain)
	}
	for k, v := range map[string]string{
		appsv1.StatefulSetPodNameLabel:     "db-2",
		appsv1.PodIndexLabel:               "2",
		pub.ControllerRevisionHashLabelKey: "db-abc",
		pub.LifecycleStateKey:              string(pub.LifecycleStatePreparingNormal),
		"app":                              "db",
	} {
		if pod.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
		}
	}
	if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].PersistentVolumeClaim == nil || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-db-2" {
		t.Errorf("volumes %+v: the claim template must replace the template volume of its name", pod.Spec.Volumes)
	}
	if !inplace.HasReadinessGate(pod) {
		t.Error("no InPlaceUpdateReady readiness gate")
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != "set-uid" || ref.Kind != "StatefulSet" {
		t.Errorf("controller %+v", ref)
	}
	if set.Spec.Template.Spec.Volumes[0].EmptyDir == nil {
		t.Error("NewPod changed the set's template")
	}
	for _, g := range pod.Spec.ReadinessGates {
		if g.ConditionType == pub.KruisePodReadyConditionType {
			t.Error("a KruisePodReady gate without a hook that marks pods not ready")
		}
	}
	set.Spec.Lifecycle.PreDelete = &pub.LifecycleHook{FinalizersHandler: []string{"example.com/drain"}, MarkPodNotReady: true}
	marked := NewPod(set, &set.Spec.Template, "db-abc", 2)
	if g := marked.Spec.ReadinessGates; len(g) != 2 || g[1].ConditionType != pub.KruisePodReadyConditionType {
		t.Errorf("readiness gates %+v: want InPlaceUpdateReady and KruisePodReady (preDelete.markPodNotReady)", g)
	}
}

func TestClaimOwners(t *testing.T) {
	set := testSet()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-2", UID: "pod-uid"}}
	other := metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Backup", Name: "b", UID: "backup-uid"}
	uids := func(refs []metav1.OwnerReference) map[string]bool {
		out := map[string]bool{}
		for _, r := range refs {
			out[string(r.UID)] = true
		}
		return out
	}
	cases := []struct {
		name               string
		deleted, scaled    v1beta1.PersistentVolumeClaimRetentionPolicyType
		condemned          bool
		have               []metav1.OwnerReference
		wantSet, wantPod   bool
		wantOtherPreserved bool
	}{
		{name: "retain keeps nothing of ours", deleted: "Retain", scaled: "Retain", condemned: true,
			have: []metav1.OwnerReference{{UID: "set-uid"}, other}, wantOtherPreserved: true},
		{name: "whenDeleted", deleted: "Delete", scaled: "Retain", wantSet: true},
		{name: "whenScaled, pod kept", deleted: "Retain", scaled: "Delete"},
		{name: "whenScaled, pod condemned", deleted: "Retain", scaled: "Delete", condemned: true, wantPod: true},
		{name: "both, condemned: the pod alone", deleted: "Delete", scaled: "Delete", condemned: true, wantPod: true},
		{name: "both, scaled back up", deleted: "Delete", scaled: "Delete",
			have: []metav1.OwnerReference{{Kind: "Pod", Name: "db-2", UID: "pod-uid"}, other}, wantSet: true, wantOtherPreserved: true},
	}
	for _, tc := range cases {
		set.Spec.PersistentVolumeClaimRetentionPolicy = &v1beta1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: tc.deleted, WhenScaled: tc.scaled}
		got := uids(ClaimOwners(set, pod, tc.condemned, tc.have))
		if got["set-uid"] != tc.wantSet || got["pod-uid"] != tc.wantPod || got["backup-uid"] != tc.wantOtherPreserved {
			t.Errorf("%s: owners %v", tc.name, got)
		}
	}
	// A fresh claim for a pod not yet created is never owned by a pod.
	set.Spec.PersistentVolumeClaimRetentionPolicy = &v1beta1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Delete", WhenScaled: "Delete"}
	claim := NewClaim(set, &set.Spec.VolumeClaimTemplates[0], 2, nil, false)
	if claim.Name != "data-db-2" || claim.Labels["app"] != "db" || claim.Labels["tier"] != "storage" {
		t.Errorf("claim %s labels %v", claim.Name, claim.Labels)
	}
	if got := uids(claim.OwnerReferences); !got["set-uid"] || len(got) != 1 {
		t.Errorf("new claim owners %v, want the set only", got)
	}
}

func TestResolveDefaultsAndPercentages(t *testing.T) {
	set := testSet()
	set.Spec.Replicas = ptr.To[int32](10)
	in, err := resolve(set, t0, DefaultStuckAfter)
	if err != nil {
		t.Fatal(err)
	}
	if in.Replicas != 10 || in.MaxUnavailable != 1 || !in.RollingUpdate || in.Parallel || in.Policy != Recreate {
		t.Errorf("unset strategy resolved to %+v", in)
	}
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.UpdateStrategy.RollingUpdate = &v1beta1.RollingUpdateStatefulSetStrategy{
		MaxUnavailable:  ptr.To(intstrPercent("25%")),
		PodUpdatePolicy: v1beta1.InPlaceOnlyPodUpdateStrategyType,
		Partition:       ptr.To[int32](4),
	}
	in, _ = resolve(set, t0, DefaultStuckAfter)
	if in.MaxUnavailable != 3 || in.Partition != 4 || in.Policy != InPlaceOnly || !in.Parallel {
		t.Errorf("25%% of 10 rounds up to 3; got %+v", in)
	}
	set.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
	if in, _ = resolve(set, t0, DefaultStuckAfter); in.RollingUpdate {
		t.Error("OnDelete resolved as a rolling update")
	}
}

func intstrPercent(s string) intstr.IntOrString { return intstr.FromString(s) }
