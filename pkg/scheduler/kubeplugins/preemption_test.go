package kubeplugins_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/kubeplugins"
)

// TestVolumePreemptionAgainstKubeFilters: on seeded storage worlds whose
// running pods have priorities and whose ReadWriteOncePod claims are held by
// running pods, pods of higher priority that fit nowhere only for the
// volume plugins' reasons (a claim in use, a node's attach slots taken)
// preempt, and every plan is judged by kube-scheduler's whole default
// profile on a snapshot without the victims:
//   - the victims are on the chosen node and of lower priority;
//   - without them, kube finds the pod feasible there;
//   - with any one of them back, kube does not (the set is minimal);
//   - when Myriad finds no plan, no node becomes feasible for kube even
//     with every lower-priority pod on it gone.
func TestVolumePreemptionAgainstKubeFilters(t *testing.T) {
	cases := 60
	if testing.Short() {
		cases = 20
	}
	var plans, victims, refused int
	for seed := range cases {
		r := rand.New(rand.NewPCG(uint64(seed), 23))
		w := newWorld(r)
		w.crowd(r)
		p, v, ref := checkPreemptions(t, seed, r, w)
		plans, victims, refused = plans+p, victims+v, refused+ref
	}
	t.Logf("%d preemption plans (%d victims), %d pods no eviction could help", plans, victims, refused)
	if plans < 10 || refused == 0 {
		t.Fatalf("the worlds exercised %d plans and %d refusals; want both", plans, refused)
	}
}

func checkPreemptions(t *testing.T, seed int, r *rand.Rand, w *world) (plans, victims, refused int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, factory, plugins, sc := startWorld(ctx, t, w)
	judge := &kubeJudge{ctx: ctx, t: t, client: client, factory: factory, nodes: w.nodes}
	for i := range 10 {
		p := pod(fmt.Sprintf("pending-%d", i))
		for range 1 + r.IntN(2) {
			mount(p, w.claims[r.IntN(len(w.claims))].Name)
		}
		setPriority(p, []int32{50, 150, 1000}[r.IntN(3)])
		where := fmt.Sprintf("seed %d pod %d (priority %d, %v)", seed, i, *p.Spec.Priority, claimsOf(p))
		cyc, err := plugins.PreFilter(ctx, p, len(w.nodes))
		if err != nil {
			continue // a PreFilter rejection never preempts, in kube either
		}
		ext := &core.External{Check: cyc.Check, Score: cyc.Score, Without: cyc.Without}
		if _, err := sc.ScheduleWith(p, ext); err == nil {
			continue
		}
		plan, err := sc.PreemptWith(p, ext)
		var none *core.NoPreemptionError
		switch {
		case errors.As(err, &none):
			refused++
			for _, n := range w.nodes {
				rest := slices.DeleteFunc(slices.Clone(w.pods), func(q *v1.Pod) bool {
					return q.Spec.NodeName == n.Name && *q.Spec.Priority < *p.Spec.Priority
				})
				if judge.fits(rest, p, n.Name) {
					t.Fatalf("%s: Myriad finds no preemption (%v); kube fits it on %s with its lower-priority pods gone", where, none, n.Name)
				}
			}
			continue
		case err != nil:
			t.Fatalf("%s: %v", where, err)
		}
		gone := map[string]bool{}
		for _, v := range plan.Victims {
			if v.Spec.NodeName != plan.Node || *v.Spec.Priority >= *p.Spec.Priority {
				t.Fatalf("%s: victim %s (on %s, priority %d) for node %s", where, v.Name, v.Spec.NodeName, *v.Spec.Priority, plan.Node)
			}
			gone[v.Name] = true
		}
		without := func(back string) []*v1.Pod {
			return slices.DeleteFunc(slices.Clone(w.pods), func(q *v1.Pod) bool { return gone[q.Name] && q.Name != back })
		}
		if !judge.fits(without(""), p, plan.Node) {
			t.Fatalf("%s: Myriad preempts %v on %s; kube does not fit the pod there without them", where, podNames(plan.Victims), plan.Node)
		}
		for _, v := range plan.Victims {
			if judge.fits(without(v.Name), p, plan.Node) {
				t.Fatalf("%s: Myriad preempts %v on %s; kube fits the pod with %s kept", where, podNames(plan.Victims), plan.Node, v.Name)
			}
		}
		sc.AbortPreemption(p, plan) // the world stays as generated for the next pod
		plans++
		victims += len(plan.Victims)
	}
	return plans, victims, refused
}

// startWorld is the world in a fake API, Myriad's plugins on its informers
// and Myriad's core holding its nodes and pods.
func startWorld(ctx context.Context, t *testing.T, w *world) (*fake.Clientset, informers.SharedInformerFactory, scheduler.Plugins, *core.Scheduler) {
	t.Helper()
	client := fake.NewClientset(w.objects...)
	factory := informers.NewSharedInformerFactory(client, 0)
	plugins, err := kubeplugins.New(ctx, scheduler.PluginDeps{Client: client, Factory: factory,
		Recorder: events.NewFakeRecorder(100), SchedulerName: "myriad"})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	cfg := core.DefaultConfig()
	cfg.Enough = core.AllNodes()
	sc := core.New(cfg)
	for _, n := range w.nodes {
		sc.UpdateNode(n)
	}
	for _, p := range w.pods {
		if err := sc.AddPod(p); err != nil {
			t.Fatal(err)
		}
	}
	return client, factory, plugins, sc
}

// kubeJudge answers whether kube-scheduler's default profile fits a pod on
// a node of the world with only the given pods running.
type kubeJudge struct {
	ctx     context.Context
	t       *testing.T
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	nodes   []*v1.Node
}

func (j *kubeJudge) fits(pods []*v1.Pod, p *v1.Pod, node string) bool {
	fw := kubeFramework(j.ctx, j.t, j.client, j.factory, pods, j.nodes)
	j.factory.Start(j.ctx.Done()) // informers the new framework asked for, if any
	j.factory.WaitForCacheSync(j.ctx.Done())
	state := framework.NewCycleState()
	res, st, _ := fw.RunPreFilterPlugins(j.ctx, state, p)
	if !st.IsSuccess() || (!res.AllNodes() && !res.NodeNames.Has(node)) {
		return false
	}
	ni, err := fw.SnapshotSharedLister().NodeInfos().Get(node)
	if err != nil {
		j.t.Fatal(err)
	}
	return fw.RunFilterPlugins(j.ctx, state, p, ni).IsSuccess()
}

// crowd gives the world's running pods priorities and most
// ReadWriteOncePod claims a running holder, so that pods of higher
// priority can only run by evicting some.
func (w *world) crowd(r *rand.Rand) {
	for _, p := range w.pods {
		setPriority(p, []int32{0, 100, 200}[r.IntN(3)])
	}
	for _, c := range w.claims {
		if c.Spec.AccessModes[0] != v1.ReadWriteOncePod || r.IntN(4) == 0 {
			continue
		}
		h := pod("holder-" + c.Name)
		h.Spec.NodeName = w.nodes[r.IntN(len(w.nodes))].Name
		mount(h, c.Name)
		setPriority(h, []int32{0, 100, 200}[r.IntN(3)])
		w.pods = append(w.pods, h)
		w.objects = append(w.objects, h)
	}
}

func setPriority(p *v1.Pod, prio int32) { p.Spec.Priority = &prio }

func claimsOf(p *v1.Pod) []string {
	var out []string
	for _, v := range p.Spec.Volumes {
		out = append(out, v.PersistentVolumeClaim.ClaimName)
	}
	return out
}

func podNames(pods []*v1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}
