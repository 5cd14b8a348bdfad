package cloneset

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testRun(t *testing.T, o Options, c client.WithWatch) (*run, *clocktesting.FakeClock, *bytes.Buffer) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	var out bytes.Buffer
	con := lab.NewConsole(&out)
	cs := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "bench-ns"}})
	x := &run{o: o, env: lab.Env{Clock: clk, Console: con}, con: con, r: rig.New(clk, cs), cs: cs, c: c, ns: "bench-ns"}
	x.pods = NewPods(container, clk)
	x.bgCtx, x.stopBg = context.WithCancel(context.Background())
	t.Cleanup(x.stopBg)
	return x, clk, &out
}

func fakeCloneSets(t *testing.T, funcs interceptor.Funcs) client.WithWatch {
	t.Helper()
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return crfake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(funcs).Build()
}

func testOptions() Options {
	return Options{Rig: rig.Defaults(2), Pods: 10, MaxUnavailable: "20%", PhaseTimeout: time.Minute,
		Rollouts: []string{InPlace, Recreate}, Images: Images}
}

// The scale-up creates the CloneSet the user asked for; a rollout changes
// only its image and update strategy.
func TestWriteCreatesTheCloneSetThenChangesItsImage(t *testing.T) {
	c := fakeCloneSets(t, interceptor.Funcs{})
	x, _, _ := testRun(t, testOptions(), c)
	ctx := context.Background()
	if _, err := x.write(ctx, Scale, "img:1"); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.CloneSet{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "bench-ns", Name: cloneSetName}, got); err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 10 || got.Spec.Template.Spec.Containers[0].Image != "img:1" ||
		got.Spec.UpdateStrategy.Type != v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType || got.Spec.UpdateStrategy.MaxUnavailable.String() != "20%" {
		t.Fatalf("created %+v", got.Spec)
	}
	x.pods.End()
	if _, err := x.write(ctx, Recreate, "img:2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "bench-ns", Name: cloneSetName}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Template.Spec.Containers[0].Image != "img:2" || got.Spec.UpdateStrategy.Type != v1alpha1.RecreateCloneSetUpdateStrategyType || *got.Spec.Replicas != 10 {
		t.Fatalf("after the ReCreate rollout: %+v", got.Spec)
	}
}

// A phase that never finishes stops at --phase-timeout (on the injected
// clock) and says how far the pods got.
func TestWaitStopsAtThePhaseTimeoutSayingHowFarItGot(t *testing.T) {
	x, clk, _ := testRun(t, testOptions(), fakeCloneSets(t, interceptor.Funcs{}))
	start := x.pods.Begin("img:1", 10, 1)
	for i := range 3 {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: types.UID(fmt.Sprint("u", i))},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: container, Image: "img:1"}}}}
		x.pods.Upsert(p)
	}
	errc := make(chan error, 1)
	go func() { errc <- x.wait(context.Background(), 1, 1, Scale, start) }()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(time.Minute)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "not done within --phase-timeout 1m0s: 3 of 10 pods updated") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not stop at the phase timeout")
	}
}

// A cluster without the CloneSet API is refused with what to install.
func TestPreflightNamesTheMissingCloneSetAPI(t *testing.T) {
	c := fakeCloneSets(t, interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "apps.kruise.io", Kind: "CloneSet"}}
	}})
	err := checkAPI(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "apply config/crd") {
		t.Fatalf("err = %v; want the CRD named", err)
	}
}

// A run whose cluster never came up still returns a result that fails and
// says why.
func TestRunThatCannotStartStillReports(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	s := &Scenario{O: testOptions(), Namespace: "bench-ns",
		StartRig: func(context.Context, rig.Options, *lab.Console) (*rig.Rig, error) {
			return rig.New(clk, fake.NewClientset()), errBoom
		}}
	var out bytes.Buffer
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(&out)})
	h := res.Head()
	if h.Verdict.Pass || !strings.Contains(strings.Join(h.Verdict.Reasons, ";"), "starting the cluster: boom") {
		t.Fatalf("verdict %+v", h.Verdict)
	}
	if rows := res.Rows(); len(rows) == 0 {
		t.Error("no rows")
	}
}

var errBoom = errorString("boom")

type errorString string

func (e errorString) Error() string { return string(e) }

func resourcePods(n int64) *resource.Quantity { return resource.NewQuantity(n, resource.DecimalSI) }
