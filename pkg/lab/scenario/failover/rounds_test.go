package failover

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

func lease(name, holder string, renewed time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(int32(15)), RenewTime: &metav1.MicroTime{Time: renewed}}}
}

// testRun is a run against a fake cluster on a fake clock, with its
// workloads made and its watch synced.
func testRun(t *testing.T, o Options, objs ...any) (*Run, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	cs := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}})
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	x := &Run{o: o, env: lab.Env{Clock: clk, Console: lab.NewConsole(&out)}, con: lab.NewConsole(&out), r: rig.New(clk, cs),
		c: crfake.NewClientBuilder().WithScheme(scheme).Build()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := x.workloads(ctx); err != nil {
		t.Fatal(err)
	}
	if x.w, err = startWatch(ctx, ctx, cs, clk, namespace); err != nil {
		t.Fatal(err)
	}
	return x, cs, clk
}

func testOptions() Options {
	return Options{Rig: rig.Defaults(2), Components: DefaultComponents, Rounds: 1, Replicas: 3, RoundTimeout: time.Minute, Signal: syscall.SIGKILL, Handover: HandoverBoth}
}

// eventually polls cond on the real clock (informers deliver
// asynchronously).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A killed round of kube-controller-manager: the leader is killed, a new
// holder takes the Lease, the ReplicaSet is scaled, the pods run; each
// step is stamped on the injected clock after the kill, and the workload
// ends back at 0.
func TestKilledRoundTimesNewLeaderAndFirstWork(t *testing.T) {
	x, cs, clk := testRun(t, testOptions())
	ctx := context.Background()
	sp := specs["kube-controller-manager"]
	if _, err := cs.CoordinationV1().Leases("kube-system").Create(ctx, lease(sp.lease, "old", t0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Lease in the watch", func() bool { h, _, _ := x.w.holder(sp.lease); return h == "old" })
	var killed []string
	var done chan struct{}
	leaders := []string{"kube-controller-manager", "kube-controller-manager-standby"}
	tg := &Target{
		Leader: func(context.Context) (string, error) { l := leaders[0]; return l, nil },
		Kill: func(p string) (int, error) {
			killed = append(killed, p)
			leaders = leaders[1:]
			// What the cluster does after the kill, the clock moving on.
			go func() {
				clk.Step(15 * time.Second)
				_, _ = cs.CoordinationV1().Leases("kube-system").Update(ctx, lease(sp.lease, "standby", clk.Now()), metav1.UpdateOptions{})
				eventually(t, "the new holder", func() bool { h, _, _ := x.w.holder(sp.lease); return h == "standby" })
				clk.Step(2 * time.Second)
				rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "failover-1", Namespace: namespace}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(3))}}
				_, _ = cs.AppsV1().ReplicaSets(namespace).Create(ctx, rs, metav1.CreateOptions{})
				eventually(t, "the ReplicaSet", func() bool { return len(x.w.rs.GetStore().List()) == 1 })
				clk.Step(time.Second)
				for _, n := range []string{"a", "b", "c"} {
					p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: namespace, Labels: map[string]string{"app": appLabel(workDeployment)}},
						Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
					_, _ = cs.CoreV1().Pods(namespace).Create(ctx, p, metav1.CreateOptions{})
				}
				eventually(t, "the pods", func() bool { return len(x.w.pods.GetStore().List()) == 3 })
				// Time moves on until the round saw them all Running and
				// scaled back; then the pods go.
				for scaledDown := false; !scaledDown; {
					clk.Step(50 * time.Millisecond)
					time.Sleep(time.Millisecond)
					d, err := cs.AppsV1().Deployments(namespace).Get(ctx, workloadName, metav1.GetOptions{})
					scaledDown = err == nil && *d.Spec.Replicas == 0
				}
				for _, n := range []string{"a", "b", "c"} {
					_ = cs.CoreV1().Pods(namespace).Delete(ctx, n, metav1.DeleteOptions{})
				}
				for {
					select {
					case <-done:
						return
					default:
						clk.Step(50 * time.Millisecond)
						time.Sleep(time.Millisecond)
					}
				}
			}()
			return 4242, nil
		},
		Restarted: func(context.Context, string, int) (time.Time, error) { return t0.Add(time.Second), nil },
	}
	done = make(chan struct{})
	r, err := x.round(ctx, tg, sp, 1, false)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) != 1 || killed[0] != "kube-controller-manager" || r.Leader != "kube-controller-manager" || r.NewLeader != "kube-controller-manager-standby" {
		t.Errorf("killed %v, leader %q, new leader %q", killed, r.Leader, r.NewLeader)
	}
	fr := round(r)
	if fr.LeaseTaken == nil || *fr.LeaseTaken != 15 || fr.FirstWork == nil || *fr.FirstWork != 17 || fr.AllRunning == nil || *fr.AllRunning < 18 {
		t.Errorf("round %+v; want new leader at 15s, first work at 17s, all Running from 18s", fr)
	}
	if r.OldHolder != "old" || r.NewHolder != "standby" || fr.Restarted == nil || *fr.Restarted != 1 {
		t.Errorf("holders %q → %q, restarted %v", r.OldHolder, r.NewHolder, fr.Restarted)
	}
	d, err := cs.AppsV1().Deployments(namespace).Get(ctx, workloadName, metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 0 {
		t.Errorf("deployment after the round: %v, %v; want back at 0", d.Spec.Replicas, err)
	}
}

// Without a leader and a warm standby, a round does not start, and says
// why; a component that cannot get a standby is not measured.
func TestRoundWithoutAWarmStandbyAndComponentsNotMeasured(t *testing.T) {
	x, _, _ := testRun(t, testOptions())
	tg := &Target{Leader: func(context.Context) (string, error) { return "", errors.New("myriad-scheduler-standby is not warm") }}
	r, err := x.round(context.Background(), tg, specs["myriad-scheduler"], 1, false)
	if err == nil || !strings.Contains(r.Err, "no leader with a warm standby before the round: myriad-scheduler-standby is not warm") {
		t.Fatalf("round %+v, %v", r, err)
	}

	clk := clocktesting.NewFakeClock(t0)
	cs := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}})
	scheme, _ := manager.Scheme()
	s := &Scenario{O: testOptions(),
		StartRig: func(context.Context, rig.Options, *lab.Console) (*rig.Rig, error) { return rig.New(clk, cs), nil },
		CloneSets: func(*rig.Rig) (client.Client, error) {
			return crfake.NewClientBuilder().WithScheme(scheme).Build(), nil
		},
	}
	var out bytes.Buffer
	res := s.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(&out)}).(*Result)
	if res.Verdict.Pass || len(res.Components) != 3 {
		t.Fatalf("verdict %+v, %d components", res.Verdict, len(res.Components))
	}
	for _, c := range res.Components {
		if c.Measured || !strings.Contains(c.NotMeasured, "the cluster is attached") {
			t.Errorf("%s: measured %v, %q; want not measured, saying the cluster is not the bench's", c.Component, c.Measured, c.NotMeasured)
		}
	}
	if !strings.Contains(res.Verdict.Reasons[0], "no data: kube-controller-manager failover") {
		t.Errorf("reasons %q", res.Verdict.Reasons)
	}
}

func TestOptionsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Components = []string{"kube-proxy"} }, "--component must be among"},
		{func(o *Options) { o.Components = []string{"kube-scheduler", "myriad-scheduler"} }, "cannot both run a cluster"},
		{func(o *Options) { o.Components = nil }, "--component must name"},
		{func(o *Options) { o.Rounds = 0 }, "--rounds"},
		{func(o *Options) { o.Replicas = 0 }, "--replicas"},
		{func(o *Options) { o.RoundTimeout = time.Second }, "--round-timeout"},
		{func(o *Options) { o.Rig.Nodes = 0 }, "--nodes must be at least 1"},
		{func(o *Options) { o.Signal = syscall.SIGHUP }, "--signal"},
	} {
		o := testOptions()
		c.mod(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
	if err := testOptions().Validate(); err != nil {
		t.Error(err)
	}
	if o := testOptions(); o.scheduler() != "myriad" {
		t.Errorf("measuring myriad-scheduler runs the cluster with --scheduler %s", o.scheduler())
	}
}
