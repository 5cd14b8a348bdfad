package oracle_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/imagelocality"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// TestScoresMatchKubeScheduler: on seeded random clusters, with every node
// evaluated (sampling `all`), each feasible node's total score from Myriad's
// core equals kube-scheduler's default profile: NodeResourcesFit
// (LeastAllocated and MostAllocated, alternating per case),
// NodeResourcesBalancedAllocation, NodeAffinity, TaintToleration,
// InterPodAffinity, PodTopologySpread — the pod's own constraints, or for a
// pod without any the system defaults (defaultingType System) with siblings
// found through Services, ReplicaSets, StatefulSets and
// ReplicationControllers — and ImageLocality over images on nodes, each
// normalized and weighted as in kube; and the node Schedule picks is one of
// kube's top-scoring nodes. Placements are assumed so that later pods score
// against earlier ones.
func TestScoresMatchKubeScheduler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases, podsPerCase := 150, 8
	if testing.Short() {
		cases = 40
	}
	var o *oracle
	var compared, decisions, defaulted, imageScored int
	for seed := 0; seed < cases; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		cl := testcluster.New(r, testcluster.Options{Nodes: 5 + r.IntN(30), PodsPerNode: 5, Rich: true, Workloads: true})
		for _, p := range cl.Pods {
			if r.IntN(5) == 0 {
				addPreferredTerms(r, p)
			}
		}
		if o == nil {
			o = newOracle(ctx, t, cl.Namespaces)
		}
		o.withWorkloads(ctx, t, cl.WorkloadObjects())
		strategy := []core.ScoringStrategy{core.LeastAllocated, core.MostAllocated}[seed%2]
		cfg := core.DefaultConfig()
		cfg.Strategy = strategy
		cfg.Enough = core.AllNodes()
		cfg.Seed = uint64(seed)
		pods := append([]*v1.Pod(nil), cl.Pods...)
		sc := newScheduler(t, cfg, cl.Namespaces, cl.Nodes, pods)
		cl.FeedWorkloads(sc)
		for i := 0; i < podsPerCase; i++ {
			pod := testcluster.PendingPod(r, i, cl.Nodes)
			if r.IntN(4) > 0 {
				testcluster.JoinWorkload(r, pod)
			}
			testcluster.SetImages(r, pod)
			if r.IntN(2) == 0 {
				addPreferredTerms(r, pod)
			}
			feasible := o.feasible(ctx, t, pod, cl.Nodes, pods)
			got, err := sc.ScoreNodes(pod)
			if err != nil {
				for n, ok := range feasible {
					if ok {
						t.Fatalf("seed %d pod %d: myriad: %v; kube finds %s feasible", seed, i, err, n)
					}
				}
				continue
			}
			kube, parts := o.scores(ctx, t, strategy, pod, feasible)
			if len(got) != len(kube) {
				t.Fatalf("seed %d pod %d: myriad scored %d nodes, kube %d", seed, i, len(got), len(kube))
			}
			for _, ns := range got {
				want, ok := kube[ns.Node]
				if !ok || want != ns.Score {
					t.Fatalf("seed %d pod %d (%s) node %s: myriad score %d, kube %d = %s\npod: %+v\nlabels %v owners %+v",
						seed, i, strategyName(strategy), ns.Node, ns.Score, want, describe(parts[ns.Node]), pod.Spec, pod.Labels, pod.OwnerReferences)
				}
				compared++
				if parts[ns.Node][imagelocality.Name] > 0 {
					imageScored++
				}
			}
			if _, ok := parts[got[0].Node][podtopologyspread.Name]; ok && len(pod.Spec.TopologySpreadConstraints) == 0 {
				defaulted++
			}

			res, err := sc.Schedule(pod)
			if err != nil {
				t.Fatalf("seed %d pod %d: ScoreNodes found nodes but Schedule: %v", seed, i, err)
			}
			var top int64
			for _, s := range kube {
				top = max(top, s)
			}
			if kube[res.Node] != top || res.Score != top {
				t.Fatalf("seed %d pod %d: myriad chose %s (score %d), kube's top score is %d", seed, i, res.Node, res.Score, top)
			}
			decisions++
			if err := sc.Assume(pod, res.Node); err != nil {
				t.Fatalf("seed %d pod %d: assume: %v", seed, i, err)
			}
			bound := pod.DeepCopy()
			bound.Spec.NodeName = res.Node
			pods = append(pods, bound)
		}
	}
	t.Logf("%d cases: %d node scores equal to kube's (%d with an ImageLocality score), %d decisions among kube's top-scoring nodes, %d of them spread by system defaults",
		cases, compared, imageScored, decisions, defaulted)
	if decisions < cases || defaulted < decisions/4 || imageScored < compared/10 {
		t.Errorf("generator is degenerate: %d decisions, %d system-default spread, %d image scores", decisions, defaulted, imageScored)
	}
}

// addPreferredTerms gives a pod the soft terms that only scoring reads:
// preferred pod (anti-)affinity and a ScheduleAnyway spread constraint.
func addPreferredTerms(r *rand.Rand, p *v1.Pod) {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &v1.Affinity{}
	}
	term := v1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": []string{"a", "b", "c", "d"}[r.IntN(4)]}},
		TopologyKey:   []string{v1.LabelHostname, v1.LabelTopologyZone, "disk"}[r.IntN(3)],
	}
	if r.IntN(3) == 0 {
		term.NamespaceSelector = &metav1.LabelSelector{}
	}
	weighted := []v1.WeightedPodAffinityTerm{{Weight: int32(1 + r.IntN(100)), PodAffinityTerm: term}}
	switch r.IntN(3) {
	case 0:
		if p.Spec.Affinity.PodAffinity == nil {
			p.Spec.Affinity.PodAffinity = &v1.PodAffinity{}
		}
		p.Spec.Affinity.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = weighted
	case 1:
		if p.Spec.Affinity.PodAntiAffinity == nil {
			p.Spec.Affinity.PodAntiAffinity = &v1.PodAntiAffinity{}
		}
		p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = weighted
	case 2:
		if p.Spec.NodeName != "" {
			return // a bound pod's own spread constraints are never read
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, v1.TopologySpreadConstraint{
			MaxSkew:           int32(1 + r.IntN(3)),
			TopologyKey:       []string{v1.LabelHostname, v1.LabelTopologyZone}[r.IntN(2)],
			WhenUnsatisfiable: v1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.Labels["app"]}},
		})
	}
}

func strategyName(s core.ScoringStrategy) string {
	if s == core.MostAllocated {
		return "MostAllocated"
	}
	return "LeastAllocated"
}

func describe(parts map[string]int64) string {
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s:%d ", k, parts[k])
	}
	return s
}
