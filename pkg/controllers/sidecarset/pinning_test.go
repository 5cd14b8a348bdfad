package sidecarset

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// pinnedSetup is a SidecarSet whose revision r1 ran agent:1 and whose spec
// now runs agent:2, pinned back to r1 by pin.
func pinnedSetup(t *testing.T, mutate func(*v1beta1.SidecarSet)) (*v1beta1.SidecarSet, Injection, Revision) {
	t.Helper()
	v1 := sidecarSet("log", nil)
	cr, err := NewRevision(v1, DefaultRevisionNamespace, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2 := v1.DeepCopy()
	v2.Spec.Containers[0].Image = "agent:2"
	v2.Spec.InjectionStrategy.Revision = &v1beta1.SidecarSetInjectRevision{RevisionName: ptr.To(cr.Name)}
	if mutate != nil {
		mutate(v2)
	}
	restored, rev, err := RestoreRevision(v2, cr)
	if err != nil {
		t.Fatal(err)
	}
	return v2, Injection{Latest: "log-latest", Pinned: restored, PinnedRevision: rev}, rev
}

// injectedImage admits a pod with the given labels and returns the
// sidecar's image and the pod's recorded revision of the SidecarSet.
func injectedImage(t *testing.T, ss *v1beta1.SidecarSet, inj Injection, podLabels map[string]string) (string, upgradeSpec) {
	t.Helper()
	p, b, err := CompileWith(ss, inj)
	if err != nil {
		t.Fatal(err)
	}
	serverAccepts(t, p, b)
	_, got := admit(t, p, appPod(func(p *corev1.Pod) {
		for k, v := range podLabels {
			p.Labels[k] = v
		}
	}))
	for _, c := range got.Spec.Containers {
		if c.Name == "log-agent" {
			spec, _ := podUpgradeSpec(got, "log")
			return c.Image, spec
		}
	}
	t.Fatalf("no sidecar injected: %s", names(got.Spec.Containers))
	return "", upgradeSpec{}
}

func TestPinnedRevisionIsInjected(t *testing.T) {
	ss, inj, rev := pinnedSetup(t, nil)
	img, spec := injectedImage(t, ss, inj, nil)
	if img != "agent:1" || spec.Hash != rev.Hash || spec.ControllerRevision != rev.ControllerRevision {
		t.Errorf("pinned (Always): image %s, recorded %+v; want agent:1 recorded as %s", img, spec, rev.ControllerRevision)
	}
	latest, _ := Revisions(ss)
	img, spec = injectedImage(t, ss, Injection{Latest: "log-latest"}, nil)
	if img != "agent:2" || spec.Hash != latest.Hash || spec.ControllerRevision != "log-latest" {
		t.Errorf("not pinned: image %s, recorded %+v; want agent:2 recorded as log-latest", img, spec)
	}
}

func TestPartialPinsAsOpenKruiseDoes(t *testing.T) {
	canary := &metav1.LabelSelector{MatchLabels: map[string]string{"canary": "true"}}
	for _, tc := range []struct {
		name   string
		us     v1beta1.SidecarSetUpdateStrategy
		labels map[string]string
		want   string
	}{
		{"no selector, no partition: the latest", v1beta1.SidecarSetUpdateStrategy{}, nil, "agent:2"},
		{"a numeric partition: the latest", v1beta1.SidecarSetUpdateStrategy{Partition: ptr.To(intstr.FromInt32(3))}, nil, "agent:2"},
		{"0% partition: the latest", v1beta1.SidecarSetUpdateStrategy{Partition: ptr.To(intstr.FromString("0%"))}, nil, "agent:2"},
		{"a percentage partition: the pinned one", v1beta1.SidecarSetUpdateStrategy{Partition: ptr.To(intstr.FromString("30%"))}, nil, "agent:1"},
		{"not selected by the update selector: pinned", v1beta1.SidecarSetUpdateStrategy{Selector: canary}, nil, "agent:1"},
		{"selected by the update selector: the latest", v1beta1.SidecarSetUpdateStrategy{Selector: canary}, map[string]string{"canary": "true"}, "agent:2"},
		{"updates paused: pinned", v1beta1.SidecarSetUpdateStrategy{Selector: canary, Paused: true}, map[string]string{"canary": "true"}, "agent:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, inj, _ := pinnedSetup(t, func(ss *v1beta1.SidecarSet) {
				ss.Spec.InjectionStrategy.Revision.Policy = v1beta1.PartialSidecarSetInjectRevisionPolicy
				ss.Spec.UpdateStrategy = tc.us
			})
			if img, _ := injectedImage(t, ss, inj, tc.labels); img != tc.want {
				t.Errorf("image %s, want %s", img, tc.want)
			}
		})
	}
}

// The update selector is evaluated in CEL; it must select what a label
// selector selects.
func TestUpdateSelectorInCELMatchesLabelSelector(t *testing.T) {
	sel := &metav1.LabelSelector{
		MatchLabels: map[string]string{"tier": "front"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
			{Key: "track", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"stable"}},
			{Key: "canary", Operator: metav1.LabelSelectorOpExists},
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
		},
	}
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	ss, inj, _ := pinnedSetup(t, func(ss *v1beta1.SidecarSet) {
		ss.Spec.InjectionStrategy.Revision.Policy = v1beta1.PartialSidecarSetInjectRevisionPolicy
		ss.Spec.UpdateStrategy.Selector = sel
	})
	base := map[string]string{"tier": "front", "zone": "a", "canary": ""}
	for _, change := range []map[string]string{
		{}, {"tier": "back"}, {"zone": "c"}, {"track": "stable"}, {"track": "beta"}, {"canary": "-"}, {"legacy": "1"}, {"zone": "-", "tier": "-"},
	} {
		lbls := map[string]string{"app": "web"}
		for k, v := range base {
			lbls[k] = v
		}
		for k, v := range change {
			if v == "-" {
				delete(lbls, k)
			} else {
				lbls[k] = v
			}
		}
		want := "agent:1"
		if ls.Matches(labels.Set(lbls)) {
			want = "agent:2"
		}
		if img, _ := injectedImage(t, ss, inj, lbls); img != want {
			t.Errorf("labels %v: image %s, want %s", lbls, img, want)
		}
	}
}

func TestMissingPinnedRevisionRefusesPods(t *testing.T) {
	ss, _, _ := pinnedSetup(t, nil)
	p, b, err := CompileWith(ss, Injection{Missing: "revisionName log-gone"})
	if err != nil {
		t.Fatal(err)
	}
	serverAccepts(t, p, b)
	_, got, err := admitErr(t, p, appPod(nil))
	if err == nil || !strings.Contains(err.Error(), "revisionName log-gone, which does not exist") {
		raw, _ := json.Marshal(got)
		t.Fatalf("a pod was admitted (%s) or refused without saying why: %v", raw, err)
	}
	// A pod already carrying the SidecarSet (metadata copied from an
	// injected pod) is still left alone.
	injected := appPod(func(p *corev1.Pod) { p.Annotations = map[string]string{v1beta1.SidecarSetListAnnotation: "log"} })
	if _, _, err := admitErr(t, p, injected); err != nil {
		t.Errorf("an injected pod was refused: %v", err)
	}
}
