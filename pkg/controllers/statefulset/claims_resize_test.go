package statefulset

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// The rolling update grows a pod's claims before it updates the pod, and
// updates the pod only once they have grown; the pod counts against
// maxUnavailable meanwhile.
func TestRollingUpdateGrowsClaimsFirst(t *testing.T) {
	pod := func(o int, updated, compatible, resized bool) Pod {
		p := running("db", o, updated)
		p.ClaimsCompatible, p.ClaimsResized = compatible, resized
		return p
	}
	in := base(3, pod(0, false, false, false), pod(1, false, false, false), pod(2, false, false, false))
	in.ResizeClaims = true
	p := MakePlan(in)
	if !slices.Equal(p.ResizeClaims, []string{"db-2"}) || len(p.Update) != 0 {
		t.Fatalf("first pass: resize %v update %v; want only db-2's claims grown", p.ResizeClaims, names(p.Update))
	}
	in.Pods[2] = pod(2, false, true, false) // asked, growing
	in.Pods[2].Unavailable = true
	if p := MakePlan(in); len(p.ResizeClaims) != 0 || len(p.Update) != 0 {
		t.Fatalf("while db-2's volume grows: resize %v update %v; want nothing", p.ResizeClaims, names(p.Update))
	}
	in.Pods[2] = pod(2, false, true, true)
	if p := MakePlan(in); !slices.Equal(names(p.Update), []string{"db-2"}) || len(p.ResizeClaims) != 0 {
		t.Fatalf("once grown: update %v resize %v; want db-2 updated", names(p.Update), p.ResizeClaims)
	}
	// A pod at the update revision whose claims are behind gets them grown
	// and is not updated again.
	in.Pods[2] = pod(2, true, false, false)
	in.Partition = 2
	if p := MakePlan(in); !slices.Equal(p.ResizeClaims, []string{"db-2"}) || len(p.Update) != 0 {
		t.Fatalf("updated pod with small claims: resize %v update %v", p.ResizeClaims, names(p.Update))
	}
	// Without OnPodRollingUpdate claims are never grown.
	in.ResizeClaims = false
	in.Partition = 0
	if p := MakePlan(in); len(p.ResizeClaims) != 0 || !slices.Equal(names(p.Update), []string{"db-1"}) {
		t.Fatalf("OnDelete: resize %v update %v", p.ResizeClaims, names(p.Update))
	}
}

func claim(class string, request, capacity string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{}
	if class != "" {
		c.Spec.StorageClassName = ptr.To(class)
	}
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	c.Spec.AccessModes = modes
	c.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(request)}
	if capacity != "" {
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}
	}
	return c
}

func TestClaimFits(t *testing.T) {
	tmpl := claim("fast", "2Gi", "")
	for _, tc := range []struct {
		name                        string
		claim                       *corev1.PersistentVolumeClaim
		sameKind, compatible, ready bool
	}{
		{"small, serving what it asks", claim("fast", "1Gi", "1Gi"), true, false, true},
		{"small, not bound yet", claim("fast", "1Gi", ""), true, false, false},
		{"asked, growing", claim("fast", "2Gi", "1Gi"), true, true, false},
		{"grown", claim("fast", "2Gi", "2Gi"), true, true, true},
		{"bigger", claim("fast", "4Gi", "4Gi"), true, true, true},
		{"other class", claim("slow", "2Gi", "2Gi"), false, false, false},
		{"small and grown to what it asks", claim("fast", "1Gi", "1Gi"), true, false, true},
		{"no class on the claim", claim("", "2Gi", "2Gi"), true, true, true},
		{"other modes", claim("fast", "2Gi", "2Gi", corev1.ReadWriteMany), false, false, false},
	} {
		k, c, r := claimFits(tc.claim, tmpl)
		if k != tc.sameKind || c != tc.compatible || r != tc.ready {
			t.Errorf("%s: same kind %v compatible %v ready %v; want %v %v %v", tc.name, k, c, r, tc.sameKind, tc.compatible, tc.ready)
		}
	}
	if resized(claim("fast", "1Gi", "1Gi"), tmpl) {
		t.Error("a claim smaller than its template counted resized")
	}
	growing := claim("fast", "2Gi", "1Gi")
	if resized(growing, tmpl) {
		t.Error("a growing claim counted resized")
	}
	growing.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue}}
	if !resized(growing, tmpl) {
		t.Error("a claim waiting only for the node's filesystem resize is not counted resized")
	}
}
