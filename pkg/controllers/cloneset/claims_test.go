package cloneset

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// A deleted pod's replacement takes over its claims (as in OpenKruise), but
// claims no pod holds are handed out first, and a live pod's never.
func TestReusableClaimIDs(t *testing.T) {
	pod := func(id string, terminating bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v1alpha1.CloneSetInstanceID: id}}}
		if terminating {
			p.DeletionTimestamp = &metav1.Time{}
		}
		return p
	}
	claims := map[string][]*corev1.PersistentVolumeClaim{"live": nil, "gone-b": nil, "gone-a": nil, "dying": nil}
	pods := []*corev1.Pod{pod("live", false), pod("dying", true)}
	got := reusable(claims, pods)
	if want := []string{"gone-a", "gone-b", "dying"}; !slices.Equal(got, want) {
		t.Fatalf("reusable ids = %v, want %v", got, want)
	}
}

func claimTemplate(name, size string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
}

func TestClaimTemplatesHash(t *testing.T) {
	a, b := claimTemplate("a", "1Gi"), claimTemplate("b", "1Gi")
	if claimTemplatesHash(nil) != "" {
		t.Error("no claim templates must hash to \"\"")
	}
	if claimTemplatesHash([]corev1.PersistentVolumeClaim{a, b}) != claimTemplatesHash([]corev1.PersistentVolumeClaim{b, a}) {
		t.Error("the hash must not depend on the templates' order")
	}
	if claimTemplatesHash([]corev1.PersistentVolumeClaim{a, b}) == claimTemplatesHash([]corev1.PersistentVolumeClaim{a, claimTemplate("b", "2Gi")}) {
		t.Error("a size change must change the hash")
	}
}

// With RecreatePodWhenChangeVCTInCloneSetGate a pod whose revision was made
// with other claim templates is recreated, except under InPlaceOnly, and a
// revision that predates the annotation never counts as changed.
func TestClaimsChanged(t *testing.T) {
	ps := &pass{r: &Reconciler{recreateOnClaimChange: true}, cs: &v1alpha1.CloneSet{},
		revs: &revisions{update: "v2", claims: map[string]string{"v1": "111", "v2": "222", "v3": "222"}}}
	for _, tc := range []struct {
		rev  string
		typ  v1alpha1.CloneSetUpdateStrategyType
		gate bool
		want bool
	}{
		{"v1", v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, true, true},
		{"v3", v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, true, false},
		{"v0", v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, true, false},
		{"v1", v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType, true, false},
		{"v1", v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, false, false},
	} {
		ps.r.recreateOnClaimChange = tc.gate
		ps.cs.Spec.UpdateStrategy.Type = tc.typ
		if got := ps.claimsChanged(tc.rev); got != tc.want {
			t.Errorf("%s under %s, gate %v: claimsChanged = %v, want %v", tc.rev, tc.typ, tc.gate, got, tc.want)
		}
	}
}
