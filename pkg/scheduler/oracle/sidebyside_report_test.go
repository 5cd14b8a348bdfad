package oracle_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// Placement quality and the report of TestSideBySide.

// judgement is kube's verdict on one pending pod over the whole cluster as
// a scheduler saw it just before deciding: which nodes kube-scheduler's
// default-profile filters accept, and their total scores, normalized over
// all of those nodes (not over a sample of them, as a scheduler that
// stops early does).
type judgement struct {
	feasible map[string]bool
	scores   map[string]int64
	best     int64
	any      bool
}

// judge runs the oracle on pod over cl's nodes with cl's pods and the
// scheduler's earlier placements bound.
func judge(ctx context.Context, t *testing.T, o *oracle, pod *v1.Pod, cl *testcluster.Cluster, placed []*v1.Pod) judgement {
	pods := append(append(make([]*v1.Pod, 0, len(cl.Pods)+len(placed)), cl.Pods...), placed...)
	j := judgement{feasible: o.feasible(ctx, t, pod, cl.Nodes, pods)}
	for _, ok := range j.feasible {
		j.any = j.any || ok
	}
	if !j.any {
		return j
	}
	j.scores, _ = o.scores(ctx, t, core.LeastAllocated, pod, j.feasible)
	j.best = math.MinInt64
	for _, s := range j.scores {
		j.best = max(j.best, s)
	}
	return j
}

// forget drops the oracle's last snapshot when a judged run ends, so that
// the timed runs after it neither hold nor collect that heap.
func (o *oracle) forget() { o.lister.Snapshot = cache.NewEmptySnapshot() }

// quality sums the judgements of one scheduler's sampled decisions.
type quality struct {
	samples  int
	disagree int // chose no node while kube finds one feasible, or chose one while kube finds none
	feasible int // chose a node kube's filters accept
	atBest   int // ... whose score is the best
	within1  int // ... at least 99% of the best
	sumRatio float64
	minRatio float64
}

func (q *quality) add(j judgement, chosen string) {
	q.samples++
	switch {
	case chosen == "" || !j.any:
		if chosen != "" || j.any {
			q.disagree++
		}
		return
	case !j.feasible[chosen]:
		return
	}
	q.feasible++
	ratio := 1.0
	if j.best > 0 {
		ratio = float64(j.scores[chosen]) / float64(j.best)
	}
	if q.feasible == 1 || ratio < q.minRatio {
		q.minRatio = ratio
	}
	q.sumRatio += ratio
	if j.scores[chosen] == j.best {
		q.atBest++
	}
	if ratio >= 0.99 {
		q.within1++
	}
}

// judgeMyriad runs Myriad's core over pods again, judging every n-th
// decision between Schedule and Assume, and returns every pod's node.
func judgeMyriad(ctx context.Context, t *testing.T, o *oracle, cl *testcluster.Cluster, pods []*v1.Pod, every int) (*quality, []string) {
	defer o.forget()
	sc := newMyriad(t, cl)
	q := &quality{}
	nodes := make([]string, len(pods))
	var placed []*v1.Pod
	for i, pod := range pods {
		res, err := sc.Schedule(pod)
		if i%every == 0 {
			q.add(judge(ctx, t, o, pod, cl, placed), res.Node)
		}
		if err != nil {
			t.Fatalf("Myriad: %s: %v", pod.Name, err)
		}
		if err := sc.Assume(pod, res.Node); err != nil {
			t.Fatalf("Myriad: assume %s: %v", pod.Name, err)
		}
		nodes[i] = res.Node
		placed = append(placed, boundTo(pod, res.Node))
	}
	return q, nodes
}

// judgeKube runs kube-scheduler over pods again, judging every n-th
// decision before its cycle (which assumes the pod), and takes the node
// from kube's cache, which must hold every placement.
func judgeKube(ctx context.Context, t *testing.T, o *oracle, cl *testcluster.Cluster, pods []*v1.Pod, every, parallelism int) *quality {
	defer o.forget()
	k := newKubeSide(t, cl, pods, parallelism)
	defer k.close()
	q := &quality{}
	nodes := make([]string, len(pods))
	var placed []*v1.Pod
	for i, pod := range pods {
		var j *judgement
		if i%every == 0 {
			v := judge(ctx, t, o, pod, cl, placed)
			j = &v
		}
		node := k.scheduleOne(t, pod)
		if node != "" {
			cached, err := k.sched.Cache.GetPod(pod)
			if err != nil || cached.Spec.NodeName != node {
				t.Fatalf("kube chose %s for %s but its cache says %v (%v)", node, pod.Name, cached, err)
			}
		}
		if j != nil {
			q.add(*j, node)
		}
		if node == "" {
			t.Fatalf("kube: no node for %s", pod.Name)
		}
		nodes[i] = node
		placed = append(placed, boundTo(pod, node))
	}
	k.drain(t)
	k.verifyAccumulated(t, cl, byNode(pods, nodes))
	return q
}

// sideResult is one scheduler's run on one cluster and stream.
type sideResult struct {
	nodes       int
	stream, who string
	parallelism int // kube's; 0 for Myriad
	cost        cost
	quality     *quality   // nil: not judged
	stats       core.Stats // Myriad's counters over the measured decisions
}

// sideReport renders the results as Markdown: one row per run, then
// Myriad's speed-up over kube's best per-core figure and the issue's
// targets.
func sideReport(cfg sideConfig, results []sideResult) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\n## Decision path side by side: kube-scheduler vs Myriad's core\n\n")
	p("%s. %d measured decisions per run after %d warm-up; CPU is the whole process's user+sys time; "+
		"every %d-th decision judged by kube's default-profile plugins over all nodes.\n\n", runtimeInfo(), cfg.decisions, cfg.warmup, cfg.sample)
	p("| nodes | workload | scheduler | decisions/s per core | CPU µs/decision | wall µs/decision | allocs/decision " +
		"| nodes evaluated/decision | Myriad filter-cache hits | kube-feasible choices | score ÷ best: mean / min | at best | within 1%% |\n")
	p("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, r := range results {
		c := r.cost
		n := float64(c.decisions)
		perCore, cpu := "n/a", "n/a"
		if c.cpuOK {
			perCore, cpu = fmt.Sprintf("%.0f", c.perCore()), fmt.Sprintf("%.1f", us(c.cpu)/n)
		}
		hits := "—"
		if r.parallelism == 0 {
			if e := r.stats.FilterHits + r.stats.FilterMisses; e > 0 {
				hits = fmt.Sprintf("%.0f%%", 100*float64(r.stats.FilterHits)/float64(e))
			}
		}
		p("| %d | %s | %s | %s | %s | %.1f | %.0f | %.0f | %s | %s |\n", r.nodes, r.stream, r.who, perCore, cpu,
			us(c.wall)/n, float64(c.mallocs)/n, float64(c.evaluated)/n, hits, r.quality.cells())
	}

	p("\n| nodes | workload | Myriad decisions/s per core | best kube decisions/s per core | Myriad ÷ kube | target |\n")
	p("|---:|---|---:|---:|---:|---|\n")
	for _, my := range results {
		if my.parallelism != 0 || !my.cost.cpuOK {
			continue
		}
		var best *sideResult // kube's best per-core figure on this cluster and stream
		for i := range results {
			k := &results[i]
			if k.nodes == my.nodes && k.stream == my.stream && k.parallelism != 0 && (best == nil || k.cost.perCore() > best.cost.perCore()) {
				best = k
			}
		}
		if best == nil {
			continue
		}
		speedup := my.cost.perCore() / best.cost.perCore()
		p("| %d | %s | %.0f | %.0f (parallelism %d) | %.1f× | %s |\n",
			my.nodes, my.stream, my.cost.perCore(), best.cost.perCore(), best.parallelism, speedup, target(my, speedup))
	}
	var myQ, kubeQ quality
	for _, r := range results {
		if r.parallelism == 0 {
			myQ.merge(r.quality)
		} else {
			kubeQ.merge(r.quality)
		}
	}
	p("\nPlacement (target: within 1%% of kube's best-scored node): Myriad %s; kube-scheduler %s.\n", myQ.summary(), kubeQ.summary())
	return b.String()
}

// target is the goal for a row: at 10k nodes, ≥ 10× kube's
// decisions per core for replicas and ≥ 3× for all-distinct pods.
func target(r sideResult, speedup float64) string {
	goal := map[string]float64{"replicas": 10, "distinct": 3}[r.stream]
	if r.nodes != 10000 || goal == 0 {
		return "—"
	}
	if speedup >= goal {
		return fmt.Sprintf("≥ %.0f×: met", goal)
	}
	return fmt.Sprintf("≥ %.0f×: **not met**", goal)
}

func (q *quality) cells() string {
	if q == nil {
		return "— | — | — | —"
	}
	cell := func(k int) string { return fmt.Sprintf("%d/%d", k, q.feasible) }
	feasible := fmt.Sprintf("%d/%d", q.feasible, q.samples)
	if q.disagree > 0 {
		feasible += fmt.Sprintf(" (%d disagree on schedulability)", q.disagree)
	}
	if q.feasible == 0 {
		return feasible + " | — | — | —"
	}
	return fmt.Sprintf("%s | %.4f / %.4f | %s | %s", feasible, q.sumRatio/float64(q.feasible), q.minRatio, cell(q.atBest), cell(q.within1))
}

func (q *quality) merge(o *quality) {
	if o == nil {
		return
	}
	if o.feasible > 0 && (q.feasible == 0 || o.minRatio < q.minRatio) {
		q.minRatio = o.minRatio
	}
	q.samples += o.samples
	q.disagree += o.disagree
	q.feasible += o.feasible
	q.atBest += o.atBest
	q.within1 += o.within1
	q.sumRatio += o.sumRatio
}

func (q *quality) summary() string {
	if q.samples == 0 {
		return "not judged"
	}
	return fmt.Sprintf("%d of %d sampled decisions kube-feasible, %d within 1%% of the best (lowest ratio %.4f)", q.feasible, q.samples, q.within1, q.minRatio)
}
