package sidecarset

import (
	"context"
	"slices"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Enforce writes the policy and binding without an owner, then dry-run
// creates a selected pod until it comes back injected.
func TestEnforceWaitsForTheInjection(t *testing.T) {
	ss := sidecarSet("mesh", nil)
	kube := fake.NewClientset()
	probes := 0
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		create := a.(k8stesting.CreateActionImpl)
		if !slices.Equal(create.GetCreateOptions().DryRun, []string{metav1.DryRunAll}) {
			t.Errorf("probe pod created without dry run: %v", create.GetCreateOptions().DryRun)
		}
		pod := create.GetObject().(*corev1.Pod).DeepCopy()
		probes++
		if probes >= 3 { // the API server applies the policy from the third look on
			for _, c := range ss.Spec.Containers {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
			}
		}
		if sel, _ := metav1.LabelSelectorAsSelector(ss.Spec.Selector); !sel.Matches(labels.Set(pod.Labels)) {
			t.Errorf("probe pod labels %v not selected by %v", pod.Labels, ss.Spec.Selector)
		}
		return true, pod, nil
	})
	e := Enforcer{Kube: kube, Wait: 5 * time.Second, Poll: time.Millisecond}
	if !e.Enforce(context.Background(), ss) {
		t.Fatal("not in force")
	}
	if probes != 3 {
		t.Errorf("%d probes, want 3", probes)
	}
	p, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Get(context.Background(), PolicyName("mesh"), metav1.GetOptions{})
	if err != nil || len(p.OwnerReferences) != 0 {
		t.Fatalf("policy %v, %v: want it written without an owner", p, err)
	}
	if _, err := kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Get(context.Background(), PolicyName("mesh"), metav1.GetOptions{}); err != nil {
		t.Fatalf("binding: %v", err)
	}
}

func TestEnforceGivesUpInTime(t *testing.T) {
	kube := fake.NewClientset()
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, a.(k8stesting.CreateAction).GetObject(), nil // never injected
	})
	start := time.Now()
	if (Enforcer{Kube: kube, Wait: 50 * time.Millisecond, Poll: 5 * time.Millisecond}).Enforce(context.Background(), sidecarSet("mesh", nil)) {
		t.Fatal("in force without an injected probe")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %s past a 50ms bound", d)
	}
}

func TestEnforceSkipsPausedAndPinned(t *testing.T) {
	for name, mutate := range map[string]func(*v1beta1.SidecarSet){
		"paused": func(ss *v1beta1.SidecarSet) { ss.Spec.InjectionStrategy.Paused = true },
		"pinned": func(ss *v1beta1.SidecarSet) {
			ss.Spec.InjectionStrategy.Revision = &v1beta1.SidecarSetInjectRevision{CustomVersion: new("1")}
		},
	} {
		kube := fake.NewClientset()
		if (Enforcer{Kube: kube, Wait: time.Second, Poll: time.Millisecond}).Enforce(context.Background(), sidecarSet("mesh", mutate)) {
			t.Errorf("%s: reported in force", name)
		}
		if len(kube.Actions()) != 0 {
			t.Errorf("%s: wrote %v", name, kube.Actions())
		}
	}
}

func TestSelectedLabels(t *testing.T) {
	for _, tc := range []struct {
		sel  *metav1.LabelSelector
		want map[string]string
	}{
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, map[string]string{"app": "web"}},
		{&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"fe", "be"}},
			{Key: "mesh", Operator: metav1.LabelSelectorOpExists},
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
			{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}},
			map[string]string{"tier": "fe", "mesh": "probe"}},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}}, nil},
		{nil, nil},
	} {
		got := selectedLabels(tc.sel)
		if len(got) != len(tc.want) {
			t.Errorf("%v: labels %v, want %v", tc.sel, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%v: labels %v, want %v", tc.sel, got, tc.want)
			}
		}
	}
}

func TestOrphanLeft(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &admissionregistrationv1.MutatingAdmissionPolicy{}
	p.CreationTimestamp = metav1.NewTime(now.Add(-10 * time.Second))
	if left := orphanLeft(p, now); left != 20*time.Second {
		t.Errorf("ownerless, 10s old: %s left, want 20s", left)
	}
	p.OwnerReferences = []metav1.OwnerReference{{Name: "mesh"}}
	if left := orphanLeft(p, now); left != 0 {
		t.Errorf("owned: %s left, want 0", left)
	}
}
