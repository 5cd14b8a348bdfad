package sidecarset

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testRun is a run on fakes: a clientset whose pod creates are injected
// by inject (standing in for the API server's admission), and a
// controller-runtime client holding the SidecarSets.
func testRun(t *testing.T, o Options, inject func(c client.Client, p *corev1.Pod)) (*run, *bytes.Buffer) {
	t.Helper()
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c := crfake.NewClientBuilder().WithScheme(scheme).Build()
	cs := fake.NewClientset()
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateActionImpl)
		p := ca.GetObject().(*corev1.Pod)
		inject(c, p)
		if len(ca.CreateOptions.DryRun) > 0 {
			return true, p, nil // admitted, not stored
		}
		return false, nil, nil // the tracker stores the mutated pod
	})
	// The fake clientset does not delete collections itself.
	cs.PrependReactor("delete-collection", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteCollectionActionImpl)
		sel := da.GetListRestrictions().Labels
		l, err := cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), da.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, p := range l.(*corev1.PodList).Items {
			if sel.Matches(labels.Set(p.Labels)) {
				if err := cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), p.Namespace, p.Name); err != nil {
					return true, nil, err
				}
			}
		}
		return true, nil, nil
	})
	clk := clocktesting.NewFakeClock(t0)
	// Waits poll on the clock: keep it moving.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond)
			clk.Step(100 * time.Millisecond)
		}
	}()
	var out bytes.Buffer
	con := lab.NewConsole(&out)
	x := &run{o: o, env: lab.Env{Clock: clk, Console: con}, con: con, r: rig.New(clk, cs), cs: cs, c: c, ns: "bench-ns", sets: map[string]bool{}}
	return x, &out
}

// admission injects what the SidecarSets in c select, as the policies do.
func admission(c client.Client, p *corev1.Pod) {
	var l v1beta1.SidecarSetList
	if err := c.List(context.Background(), &l); err != nil {
		panic(err)
	}
	for _, ss := range l.Items {
		match := true
		for k, v := range ss.Spec.Selector.MatchLabels {
			if p.Labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		for _, sc := range ss.Spec.Containers {
			p.Spec.Containers = append(p.Spec.Containers, sc.Container)
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		if old := p.Annotations[v1beta1.SidecarSetListAnnotation]; old != "" {
			p.Annotations[v1beta1.SidecarSetListAnnotation] = old + "," + ss.Name
		} else {
			p.Annotations[v1beta1.SidecarSetListAnnotation] = ss.Name
		}
	}
}

func smallOptions() Options {
	o := validOptions()
	o.Pods, o.SidecarSets, o.Concurrency = 40, 4, 4
	return o
}

// Each creation phase gets its SidecarSets in force, creates P pods that
// all carry exactly their sidecars, and leaves neither pods nor
// SidecarSets behind for the next phase.
func TestCreationPhasesInjectEveryPodAndCleanUp(t *testing.T) {
	x, _ := testRun(t, smallOptions(), admission)
	ctx := context.Background()
	for i, sets := range x.o.creationSets() {
		p, err := x.createPhase(ctx, i+1, 6, sets)
		if err != nil {
			t.Fatalf("%d SidecarSets: %v", sets, err)
		}
		if p.Created != 40 || p.Errors != 0 || p.Wrong != 0 || len(p.LatencySeconds) != 40 {
			t.Errorf("%d SidecarSets: created %d, errors %d, wrong %d (%v)", sets, p.Created, p.Errors, p.Wrong, p.WrongExamples)
		}
		pods, _ := x.cs.CoreV1().Pods("bench-ns").List(ctx, metav1.ListOptions{})
		var l v1beta1.SidecarSetList
		_ = x.c.List(ctx, &l)
		if len(pods.Items) != 0 || len(l.Items) != 0 || len(x.sets) != 0 {
			t.Errorf("%d SidecarSets: left %d pods and %d SidecarSets (%v) behind", sets, len(pods.Items), len(l.Items), x.sets)
		}
	}
}

// A pod created without its sidecar is counted and named, never passed;
// so is one given a sidecar it should not have.
func TestCreationCountsPodsWithoutTheirSidecars(t *testing.T) {
	x, _ := testRun(t, smallOptions(), func(c client.Client, p *corev1.Pod) {
		if p.Name == "create-000007" || p.Name == "create-000008" {
			return // injection skipped: the pod starts bare
		}
		admission(c, p)
	})
	p, err := x.createPhase(context.Background(), 3, 6, 4)
	if err != nil {
		t.Fatal(err)
	}
	if p.Wrong != 2 || !strings.Contains(strings.Join(p.WrongExamples, ";"), "create-000007: sidecars none, want sidecar-003=") {
		t.Fatalf("wrong %d, examples %v; want the two bare pods named", p.Wrong, p.WrongExamples)
	}
	r := Build(Input{Info: lab.NewRunInfo("sidecarset", lab.Machine{}, nil, t0), Pods: 40, Create: []CreateInput{p}})
	if r.Verdict.Pass || !strings.Contains(strings.Join(r.Verdict.Reasons, "\n"), "2 pods were created without exactly their sidecars") {
		t.Errorf("verdict %+v", r.Verdict)
	}
}

func TestCheckInjectedWantsExactlyTheSidecars(t *testing.T) {
	pod := func(ann string, ctrs ...corev1.Container) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{}}}
		if ann != "" {
			p.Annotations[v1beta1.SidecarSetListAnnotation] = ann
		}
		p.Spec.Containers = append([]corev1.Container{{Name: appName, Image: "app"}}, ctrs...)
		return p
	}
	want := []sidecar{{"sidecar-001", "img:1"}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		bad  string
	}{
		{"exact", pod("s1", corev1.Container{Name: "sidecar-001", Image: "img:1"}), ""},
		{"missing", pod(""), "sidecars none, want sidecar-001=img:1"},
		{"another bucket's", pod("s2", corev1.Container{Name: "sidecar-002", Image: "img:1"}), "sidecars sidecar-002=img:1"},
		{"extra", pod("s1,s2", corev1.Container{Name: "sidecar-001", Image: "img:1"}, corev1.Container{Name: "sidecar-002", Image: "img:1"}), "want sidecar-001=img:1"},
		{"old image", pod("s1", corev1.Container{Name: "sidecar-001", Image: "img:0"}), "sidecars sidecar-001=img:0"},
		{"not listed", pod("", corev1.Container{Name: "sidecar-001", Image: "img:1"}), `kruise.io/sidecarset-injected-list is "", want "s1"`},
	} {
		got := checkInjected(tc.pod, want, []string{"s1"})
		if (tc.bad == "") != (got == "") || !strings.Contains(got, tc.bad) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.bad)
		}
	}
}

// No pod is timed before the SidecarSets' policies are in force: until
// then the probes are not injected and the phase waits.
func TestCreationWaitsForThePoliciesBeforeTiming(t *testing.T) {
	var x *run
	x, _ = testRun(t, smallOptions(), func(c client.Client, p *corev1.Pod) {
		if x.env.Clock.Since(t0) > 5*time.Second {
			admission(c, p)
		}
	})
	p, err := x.createPhase(context.Background(), 2, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The wait is measured from the SidecarSets' write, which the fake
	// clock may already have passed t0 by; the start must follow the policy.
	if p.Wrong != 0 || p.PolicyWaitSeconds <= 0 || p.Start.Sub(t0) < 5*time.Second {
		t.Errorf("wrong %d, waited %.1fs, started %s after the SidecarSet; want no wrong pod and the start after the policy", p.Wrong, p.PolicyWaitSeconds, p.Start.Sub(t0))
	}
}
