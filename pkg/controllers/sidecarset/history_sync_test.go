package sidecarset

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func TestSyncRevisionsKeepsOpenKruisesHistory(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := appsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{client: c, kube: kubefake.NewClientset(), events: rec,
		clock: clocktesting.NewFakeClock(time.Unix(1e9, 0)), revisionNS: DefaultRevisionNamespace}
	ctx := context.Background()
	ss := sidecarSet("log", func(ss *v1beta1.SidecarSet) { ss.UID = "log-uid" })
	sync := func() Injection {
		t.Helper()
		inj, err := r.syncRevisions(ctx, ss)
		if err != nil {
			t.Fatal(err)
		}
		return inj
	}
	history := func() map[string]appsv1.ControllerRevision {
		t.Helper()
		var list appsv1.ControllerRevisionList
		if err := c.List(ctx, &list, client.InNamespace("kube-system")); err != nil {
			t.Fatal(err)
		}
		out := map[string]appsv1.ControllerRevision{}
		for _, cr := range list.Items {
			out[cr.Name] = cr
		}
		return out
	}

	v1 := sync().Latest
	if again := sync().Latest; again != v1 || len(history()) != 1 {
		t.Fatalf("an unchanged spec made revisions %v", history())
	}
	ss.Spec.Containers[0].Image = "agent:2"
	v2 := sync().Latest
	if v2 == v1 || history()[v2].Revision != 2 {
		t.Fatalf("an image change: latest %s (revision %d), want a new revision 2", v2, history()[v2].Revision)
	}
	// Back to the first spec: its revision moves to the head.
	ss.Spec.Containers[0].Image = "agent:1"
	if got := sync().Latest; got != v1 || history()[v1].Revision != 3 || len(history()) != 2 {
		t.Fatalf("rolled back: latest %s, history %v; want %s moved to revision 3", got, history(), v1)
	}
	// A customVersion given to the same spec labels its revision.
	ss.Spec.CustomVersion = "stable"
	sync()
	if l := history()[v1].Labels[v1beta1.SidecarSetCustomVersionLabel]; l != "stable" {
		t.Errorf("custom version label %q, want stable", l)
	}

	// Pinned to the agent:2 revision by name.
	ss.Spec.InjectionStrategy.Revision = &v1beta1.SidecarSetInjectRevision{RevisionName: ptr.To(v2)}
	inj := sync()
	if inj.Pinned == nil || inj.Pinned.Spec.Containers[0].Image != "agent:2" || inj.PinnedRevision.ControllerRevision != v2 {
		t.Fatalf("pinned %+v, want revision %s with agent:2", inj, v2)
	}
	if cond := apimeta.FindStatusCondition(ss.Status.Conditions, ConditionRevisionPinned); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Errorf("condition %+v, want RevisionPinned True", cond)
	}
	// Pinned to nothing that exists: refused, reported once.
	ss.Spec.InjectionStrategy.Revision = &v1beta1.SidecarSetInjectRevision{CustomVersion: ptr.To("canary")}
	inj = sync()
	sync()
	cond := apimeta.FindStatusCondition(ss.Status.Conditions, ConditionRevisionPinned)
	if inj.Missing != "customVersion canary" || cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonRevisionNotFound {
		t.Errorf("missing revision: injection %+v, condition %+v", inj, cond)
	}
	if n := len(rec.Events); n != 1 {
		t.Errorf("%d events, want one RevisionNotFound", n)
	} else if e := <-rec.Events; !strings.Contains(e, ReasonRevisionNotFound) || !strings.Contains(e, "customVersion canary") {
		t.Errorf("event %q", e)
	}
	// Unpinned: the condition goes.
	ss.Spec.InjectionStrategy.Revision = nil
	if inj := sync(); inj.Pinned != nil || inj.Missing != "" || apimeta.FindStatusCondition(ss.Status.Conditions, ConditionRevisionPinned) != nil {
		t.Errorf("unpinned: injection %+v, conditions %+v", inj, ss.Status.Conditions)
	}
}
