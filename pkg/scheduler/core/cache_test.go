package core_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// The (class, node generation) cache must never serve a stale verdict: a
// node that fills up, gains a taint or loses capacity is re-evaluated, and a
// node that frees up becomes feasible again.
func TestEquivalenceCacheFollowsNodeChanges(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.Enough = core.AllNodes()
	sc := core.New(cfg)
	sc.UpdateNode(tc.Node("a", "2", "4Gi", 10, nil))
	sc.UpdateNode(tc.Node("b", "2", "4Gi", 10, nil))
	replica := func(i int) *v1.Pod {
		return tc.Pod("ns", fmt.Sprintf("web-%d", i), "1500m", "", map[string]string{"app": "web"})
	}

	r1, err := sc.Schedule(replica(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Assume(replica(1), r1.Node); err != nil {
		t.Fatal(err)
	}
	r2, err := sc.Schedule(replica(2))
	if err != nil || r2.Node == r1.Node {
		t.Fatalf("second replica: %+v %v, must avoid full node %s", r2, err, r1.Node)
	}
	if st := sc.Stats(); st.ClassHits != 1 || st.FilterHits == 0 {
		t.Fatalf("replicas should share a class and cached verdicts: %+v", st)
	}
	if err := sc.Assume(replica(2), r2.Node); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Schedule(replica(3)); err == nil {
		t.Fatal("third replica fits nowhere")
	}
	// Freeing a node invalidates exactly that node's cached verdict.
	sc.Forget(replica(1))
	r4, err := sc.Schedule(replica(4))
	if err != nil || r4.Node != r1.Node {
		t.Fatalf("after Forget: %+v %v, want %s", r4, err, r1.Node)
	}
	// A taint on that node must be seen even though the class is cached.
	n := tc.Node(r1.Node, "2", "4Gi", 10, nil)
	n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectNoSchedule}}
	sc.UpdateNode(n)
	if _, err := sc.Schedule(replica(5)); err == nil {
		t.Fatal("tainted node must not be chosen from cache")
	}
	// A heartbeat-like update (no scheduling-relevant change) keeps caches.
	before := sc.Stats()
	n2 := n.DeepCopy()
	n2.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}
	sc.UpdateNode(n2)
	_, _ = sc.Schedule(replica(6))
	if after := sc.Stats(); after.FilterMisses != before.FilterMisses {
		t.Fatalf("status-only update invalidated cache: %+v -> %+v", before, after)
	}
}

func TestClassIgnoresNameAndLabels(t *testing.T) {
	a := tc.Pod("ns", "a", "1", "1Gi", map[string]string{"statefulset.kubernetes.io/pod-name": "a"})
	b := tc.Pod("other", "b", "1", "1Gi", map[string]string{"statefulset.kubernetes.io/pod-name": "b"})
	c := tc.Pod("ns", "c", "2", "1Gi", nil)
	if core.ClassOf(a) != core.ClassOf(b) {
		t.Fatal("replicas differing only in name/labels must share a class")
	}
	if core.ClassOf(a) == core.ClassOf(c) {
		t.Fatal("different requests must not share a class")
	}
	d := a.DeepCopy()
	d.Spec.Containers[0].Image = "registry.example/app:v2"
	if core.ClassOf(a) == core.ClassOf(d) {
		t.Fatal("different images must not share a class (ImageLocality is cached per class)")
	}
}

func TestClassCacheIsBounded(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.MaxClasses = 4
	sc := core.New(cfg)
	sc.UpdateNode(tc.Node("a", "64", "64Gi", 110, nil))
	for i := 0; i < 20; i++ {
		if _, err := sc.Schedule(tc.Pod("ns", "p", fmt.Sprintf("%dm", 10+i), "", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if st := sc.Stats(); st.ClassesEvicted != 16 {
		t.Fatalf("evicted %d classes, want 16", st.ClassesEvicted)
	}
}

// Whatever the sampling policy, a chosen node is always feasible: Assume
// re-checks every filter uncached and would return a ConflictError.
func TestSamplingNeverReturnsInfeasibleNode(t *testing.T) {
	for _, pol := range []struct {
		name   string
		enough core.EnoughFunc
	}{{"kube", core.KubeAdaptive(0)}, {"log2", core.NomadLog2()}, {"fixed1", core.Fixed(1)}} {
		t.Run(pol.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 7))
			cl := tc.New(r, tc.Options{Nodes: 300, PodsPerNode: 4, Rich: true})
			cfg := core.DefaultConfig()
			cfg.Enough = pol.enough
			sc := core.New(cfg)
			if err := cl.Feed(sc); err != nil {
				t.Fatal(err)
			}
			placed := 0
			for i := 0; i < 400; i++ {
				p := tc.PendingPod(r, i, cl.Nodes)
				res, err := sc.Schedule(p)
				if err != nil {
					var fe *core.FitError
					if !errors.As(err, &fe) {
						t.Fatal(err)
					}
					continue
				}
				if err := sc.Assume(p, res.Node); err != nil {
					t.Fatalf("pod %d: sampled node infeasible: %v", i, err)
				}
				placed++
			}
			if placed < 100 {
				t.Fatalf("only %d placed", placed)
			}
		})
	}
}

func TestAssumeDetectsConflictAndForgetReleases(t *testing.T) {
	sc := core.New(core.DefaultConfig())
	sc.UpdateNode(tc.Node("a", "1", "1Gi", 10, nil))
	p1 := tc.Pod("ns", "p1", "800m", "", nil)
	p2 := tc.Pod("ns", "p2", "800m", "", nil)
	r, err := sc.Schedule(p1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := sc.Schedule(p2) // decided on the same state: both pick "a"
	if err != nil || r2.Node != r.Node {
		t.Fatal(err)
	}
	if err := sc.Assume(p1, r.Node); err != nil {
		t.Fatal(err)
	}
	var ce *core.ConflictError
	if err := sc.Assume(p2, r2.Node); !errors.As(err, &ce) {
		t.Fatalf("double booking not detected: %v", err)
	}
	if !sc.IsAssumed(p1) {
		t.Fatal("p1 should be assumed")
	}
	// Confirming via AddPod replaces the assumed copy instead of counting twice.
	b := p1.DeepCopy()
	b.Spec.NodeName = "a"
	if err := sc.AddPod(b); err != nil {
		t.Fatal(err)
	}
	sc.Forget(p1) // no-op: confirmed
	if err := sc.Assume(p2, "a"); err == nil {
		t.Fatal("confirmed pod must still hold its cpu")
	}
	sc.RemovePod(b)
	if err := sc.Assume(p2, "a"); err != nil {
		t.Fatalf("after removal: %v", err)
	}
}

// Whatever happens to the cluster — placements, pods leaving, Services and
// controllers changing, nodes pulling images, joining or being relabelled —
// a scheduler with classes and score caching scores every node exactly as
// one that recomputes everything for every pod.
func TestCachesNeverChangeScores(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	cl := tc.New(r, tc.Options{Nodes: 40, PodsPerNode: 4, Rich: true, Workloads: true})
	cfg := core.DefaultConfig()
	cfg.Enough = core.AllNodes()
	cached := core.New(cfg)
	cfg.DisableEquivalence, cfg.DisableScoreCache = true, true
	fresh := core.New(cfg)
	both := func(f func(sc *core.Scheduler)) { f(cached); f(fresh) }
	both(func(sc *core.Scheduler) {
		if err := cl.Feed(sc); err != nil {
			t.Fatal(err)
		}
	})
	// Replicas of a few workloads, so that classes are shared.
	var templates []*v1.Pod
	for i := 0; i < 6; i++ {
		p := tc.PendingPod(r, i, cl.Nodes)
		p.Spec.NodeName = ""
		tc.JoinWorkload(r, p)
		tc.SetImages(r, p)
		templates = append(templates, p)
	}
	// Same spec, other images: must not share cached image scores.
	for _, ref := range []string{"registry.example/app:v1", "registry.example:5000/big"} {
		p := templates[0].DeepCopy()
		p.Spec.Containers[0].Image = ref
		templates = append(templates, p)
	}
	replica := func(i int) *v1.Pod {
		p := templates[r.IntN(len(templates))].DeepCopy()
		p.Name = fmt.Sprintf("replica-%d", i)
		p.UID = types.UID(p.Name)
		return p
	}
	var placed []*v1.Pod
	compared := 0
	for i := 0; i < 400; i++ {
		switch r.IntN(9) {
		case 0: // a Service changes what it selects
			s := cl.Services[r.IntN(len(cl.Services))].DeepCopy()
			s.Spec.Selector = map[string]string{"app": []string{"a", "b", "c", "d"}[r.IntN(4)]}
			both(func(sc *core.Scheduler) { sc.UpdateService(s) })
		case 1: // a ReplicaSet goes away
			rs := cl.ReplicaSets[r.IntN(len(cl.ReplicaSets))]
			both(func(sc *core.Scheduler) { sc.RemoveReplicaSet(rs) })
		case 2: // a node pulls an image, or its images are garbage-collected
			k := r.IntN(len(cl.Nodes))
			n := cl.Nodes[k].DeepCopy()
			if r.IntN(2) == 0 {
				n.Status.Images = append(n.Status.Images, v1.ContainerImage{Names: []string{"registry.example/app:v1"}, SizeBytes: 700 << 20})
			} else {
				n.Status.Images = nil
			}
			cl.Nodes[k] = n
			both(func(sc *core.Scheduler) { sc.UpdateNode(n) })
		case 3: // a node joins
			n := tc.Node(fmt.Sprintf("new-%d", i), "8", "16Gi", 110, map[string]string{v1.LabelTopologyZone: "z1"})
			both(func(sc *core.Scheduler) { sc.UpdateNode(n) })
		case 5: // a node is relabelled: another zone, or none
			k := r.IntN(len(cl.Nodes))
			n := cl.Nodes[k].DeepCopy()
			if r.IntN(3) == 0 {
				delete(n.Labels, v1.LabelTopologyZone)
			} else {
				n.Labels[v1.LabelTopologyZone] = []string{"z1", "z2", "z3", "z4"}[r.IntN(4)]
			}
			n.Labels["disk"] = []string{"ssd", "hdd"}[r.IntN(2)]
			cl.Nodes[k] = n
			both(func(sc *core.Scheduler) { sc.UpdateNode(n) })
		case 4: // a placed pod leaves
			if len(placed) > 0 {
				p := placed[r.IntN(len(placed))]
				both(func(sc *core.Scheduler) { sc.RemovePod(p) })
			}
		default: // a replica is placed
			p := replica(i)
			res, err := cached.Schedule(p)
			if err != nil {
				continue
			}
			both(func(sc *core.Scheduler) {
				if err := sc.Assume(p, res.Node); err != nil {
					t.Fatal(err)
				}
			})
			b := p.DeepCopy()
			b.Spec.NodeName = res.Node
			placed = append(placed, b)
		}
		probe := replica(1000 + i)
		got, err1 := cached.ScoreNodes(probe)
		want, err2 := fresh.ScoreNodes(probe)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("step %d: cached %v, fresh %v", i, err1, err2)
		}
		wantBy := map[string]int64{}
		for _, ns := range want {
			wantBy[ns.Node] = ns.Score
		}
		if len(got) != len(want) {
			t.Fatalf("step %d: cached scored %d nodes, fresh %d", i, len(got), len(want))
		}
		for _, ns := range got {
			if w, ok := wantBy[ns.Node]; !ok || w != ns.Score {
				t.Fatalf("step %d node %s: cached score %d, fresh %d", i, ns.Node, ns.Score, w)
			}
			compared++
		}
	}
	if st := cached.Stats(); st.ScoreHits == 0 || compared == 0 {
		t.Fatalf("nothing cached or compared: %+v, %d compared", st, compared)
	}
}
