package oracle_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// TestSideBySide is the decision path of both schedulers, side by side, no
// API server: kube-scheduler's own scheduler (scheduler.New, default
// profile, informers over a fake clientset, one ScheduleOne per pod; see
// kubeSide) and Myriad's core (core.New(core.DefaultConfig()), Schedule +
// Assume per pod), on the same clusters and the same pod streams (see
// sideStreams): replicas of four Deployment-like workloads, all-distinct
// pods, and replicas with required hostname anti-affinity and a zone
// spread constraint.
//
// For each, after a warm-up, it measures N decisions: CPU time of the whole
// process (getrusage user+sys: GC, kube's filter/score workers and its
// binding goroutines included, drained before the clock stops), wall time,
// and heap allocations, per decision. Decisions per second per core is
// decisions ÷ CPU seconds, so parallelism flatters neither side; kube runs
// once per parallelism setting (default: its default 16, and 1). Then, in
// a second run of each scheduler over the same stream (so that judging
// never interrupts a measurement), every 50th decision (by default) is
// judged, before the pod is assumed, by kube-scheduler's default-profile
// plugins over the whole cluster as that scheduler saw it (the oracle): is
// the chosen node feasible, and what is its total score relative to the
// best feasible node's. Kube samples nodes too (percentageOfNodesToScore),
// so its own choices are not always the best either.
//
// It is skipped unless MYRIAD_SIDEBYSIDE names the cluster sizes:
//
//	MYRIAD_SIDEBYSIDE=1000,10000,50000 go test ./pkg/scheduler/oracle/ \
//	    -run TestSideBySide -v -timeout 0
//
// MYRIAD_SIDEBYSIDE=all is the same three sizes. Optional:
// MYRIAD_SIDEBYSIDE_DECISIONS (measured decisions per run, default 500),
// MYRIAD_SIDEBYSIDE_WARMUP (default 50), MYRIAD_SIDEBYSIDE_SAMPLE (judge
// every n-th decision, default 50), MYRIAD_SIDEBYSIDE_KUBE_PARALLELISM
// (default 16,1; the first is also the judged run's) and
// MYRIAD_SIDEBYSIDE_OUT (a file to write the Markdown report to; it is
// printed on stdout too). Keep warm-up + decisions well under twice the
// smallest node count: every pod of a stream must fit (a quarter of the
// replicas hold a host port, an eighth of the anti-affine ones need nodes
// of their own).
func TestSideBySide(t *testing.T) {
	if testing.Short() || os.Getenv("MYRIAD_SIDEBYSIDE") == "" {
		t.Skip("set MYRIAD_SIDEBYSIDE=1000,10000,50000 (node counts) to run the side-by-side decision benchmark")
	}
	cfg := sideConfigFromEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var results []sideResult
	var o *oracle
	for _, n := range cfg.sizes {
		base := sideCluster(n)
		if o == nil {
			o = newOracle(ctx, t, base.Namespaces)
		}
		for _, s := range sideStreams() {
			cl := *base
			cl.Services, cl.ReplicaSets = s.services, s.replicaSets
			o.withWorkloads(ctx, t, cl.WorkloadObjects())
			pods := make([]*v1.Pod, cfg.warmup+cfg.decisions)
			for i := range pods {
				pods[i] = s.pod(i)
			}
			at := fmt.Sprintf("%d nodes, %s", n, s.name)

			my := sideResult{nodes: n, stream: s.name, who: "Myriad"}
			var timed []string
			my.cost, timed, my.stats = timeMyriad(t, &cl, clonePods(pods), cfg.warmup)
			t.Logf("%s: Myriad timed: %s", at, my.cost)
			checkAntiAffinity(t, "Myriad", pods, timed)
			var judged []string
			my.quality, judged = judgeMyriad(ctx, t, o, &cl, clonePods(pods), cfg.sample)
			if !slices.Equal(timed, judged) {
				t.Errorf("%s: Myriad's judged run placed pods differently from its timed run", at)
			}
			results = append(results, my)

			for j, p := range cfg.parallelism {
				kr := sideResult{nodes: n, stream: s.name, who: fmt.Sprintf("kube-scheduler (parallelism %d)", p), parallelism: p}
				var nodes []string
				kr.cost, nodes = timeKube(t, &cl, pods, cfg.warmup, p)
				t.Logf("%s: kube (parallelism %d) timed: %s", at, p, kr.cost)
				checkAntiAffinity(t, "kube", pods, nodes)
				if j == 0 {
					kr.quality = judgeKube(ctx, t, o, &cl, pods, cfg.sample, p)
				}
				results = append(results, kr)
			}
		}
	}
	report := sideReport(cfg, results)
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

type sideConfig struct {
	sizes                     []int
	decisions, warmup, sample int
	parallelism               []int
	out                       string
}

func sideConfigFromEnv(t *testing.T) sideConfig {
	ints := func(name, def string) []int {
		v := os.Getenv(name)
		if v == "" {
			v = def
		}
		if v == "all" && name == "MYRIAD_SIDEBYSIDE" {
			v = "1000,10000,50000"
		}
		var out []int
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want positive integers, comma-separated", name, v)
			}
			out = append(out, n)
		}
		return out
	}
	sizes := ints("MYRIAD_SIDEBYSIDE", "")
	for _, n := range sizes {
		if n < 100 {
			// Likely MYRIAD_SIDEBYSIDE=1 meant as "on"; the anti-affinity
			// stream needs more nodes than any workload has replicas.
			t.Fatalf("MYRIAD_SIDEBYSIDE=%s: want node counts of at least 100 (e.g. 1000,10000,50000) or all", os.Getenv("MYRIAD_SIDEBYSIDE"))
		}
	}
	return sideConfig{
		sizes:       sizes,
		decisions:   ints("MYRIAD_SIDEBYSIDE_DECISIONS", "500")[0],
		warmup:      ints("MYRIAD_SIDEBYSIDE_WARMUP", "50")[0],
		sample:      ints("MYRIAD_SIDEBYSIDE_SAMPLE", "50")[0],
		parallelism: ints("MYRIAD_SIDEBYSIDE_KUBE_PARALLELISM", "16,1"),
		out:         os.Getenv("MYRIAD_SIDEBYSIDE_OUT"),
	}
}

// cost is what the measured decisions of one run took.
type cost struct {
	decisions int
	wall      time.Duration // from the first decision to the return of the last
	cpu       time.Duration // the process's user+sys time, asynchronous work drained
	cpuOK     bool
	mallocs   uint64 // heap allocations of the whole process
	evaluated int    // nodes the scheduler evaluated, summed
}

func (c cost) perCore() float64 { return float64(c.decisions) / c.cpu.Seconds() }

func (c cost) String() string {
	return fmt.Sprintf("%d decisions, %.0f µs CPU and %.0f µs wall per decision, %.0f allocs per decision",
		c.decisions, us(c.cpu)/float64(c.decisions), us(c.wall)/float64(c.decisions), float64(c.mallocs)/float64(c.decisions))
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

type meter struct {
	wall    time.Time
	cpu     time.Duration
	cpuOK   bool
	mallocs uint64
}

// startMeter starts a measurement from a collected heap, so that no run
// pays for the garbage of the one before.
func startMeter() meter {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu, ok := testcluster.ProcessCPU()
	return meter{wall: time.Now(), cpu: cpu, cpuOK: ok, mallocs: ms.Mallocs}
}

// stop ends it: wall time up to wallEnd, when the last decision returned;
// CPU time and allocations up to now, after the caller drained whatever
// the decisions left running.
func (m meter) stop(decisions int, wallEnd time.Time) cost {
	cpu, ok := testcluster.ProcessCPU()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return cost{decisions: decisions, wall: wallEnd.Sub(m.wall), cpu: cpu - m.cpu, cpuOK: ok && m.cpuOK, mallocs: ms.Mallocs - m.mallocs}
}

func newMyriad(t *testing.T, cl *testcluster.Cluster) *core.Scheduler {
	t.Helper()
	sc := core.New(core.DefaultConfig())
	if err := cl.Feed(sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

// timeMyriad measures Schedule + Assume over pods after warmup of them, and
// returns every pod's node and how many of the measured decisions' node
// evaluations the equivalence-class cache answered.
func timeMyriad(t *testing.T, cl *testcluster.Cluster, pods []*v1.Pod, warmup int) (cost, []string, core.Stats) {
	sc := newMyriad(t, cl)
	nodes := make([]string, len(pods))
	visited := 0
	decide := func(i int) {
		res, err := sc.Schedule(pods[i])
		if err != nil {
			t.Fatalf("Myriad: %s: %v", pods[i].Name, err)
		}
		if err := sc.Assume(pods[i], res.Node); err != nil {
			t.Fatalf("Myriad: assume %s: %v", pods[i].Name, err)
		}
		nodes[i] = res.Node
		visited += res.Visited
	}
	for i := 0; i < warmup; i++ {
		decide(i)
	}
	before := sc.Stats()
	visited = 0 // the warm-up's do not count
	m := startMeter()
	for i := warmup; i < len(pods); i++ {
		decide(i)
	}
	c := m.stop(len(pods)-warmup, time.Now())
	c.evaluated = visited
	after := sc.Stats()
	return c, nodes, core.Stats{FilterHits: after.FilterHits - before.FilterHits, FilterMisses: after.FilterMisses - before.FilterMisses}
}

// timeKube measures kube-scheduler's ScheduleOne over pods after warmup of
// them, checks that its cache accumulated every placement, and returns
// every pod's node.
func timeKube(t *testing.T, cl *testcluster.Cluster, pods []*v1.Pod, warmup, parallelism int) (cost, []string) {
	k := newKubeSide(t, cl, pods, parallelism)
	defer k.close()
	nodes := make([]string, len(pods))
	decide := func(i int) {
		if nodes[i] = k.scheduleOne(t, pods[i]); nodes[i] == "" {
			t.Fatalf("kube: no node for %s", pods[i].Name)
		}
	}
	for i := 0; i < warmup; i++ {
		decide(i)
	}
	k.drain(t)
	evaluated := k.evaluated
	m := startMeter()
	for i := warmup; i < len(pods); i++ {
		decide(i)
	}
	end := time.Now()
	k.drain(t) // its binding goroutines' work belongs to these decisions
	c := m.stop(len(pods)-warmup, end)
	c.evaluated = k.evaluated - evaluated
	k.verifyAccumulated(t, cl, byNode(pods, nodes))
	return c, nodes
}

// checkAntiAffinity fails if two pods with required anti-affinity to their
// own app (hostname) share a node: what a scheduler that lost track of
// its earlier placements would do.
func checkAntiAffinity(t *testing.T, who string, pods []*v1.Pod, nodes []string) {
	t.Helper()
	seen := map[string]string{}
	for i, p := range pods {
		if a := p.Spec.Affinity; a == nil || a.PodAntiAffinity == nil {
			continue
		}
		key := p.Namespace + "/" + p.Labels["app"] + "@" + nodes[i]
		if other, ok := seen[key]; ok {
			t.Fatalf("%s put %s and %s, anti-affine replicas, both on %s", who, other, p.Name, nodes[i])
		}
		seen[key] = p.Name
	}
}

func byNode(pods []*v1.Pod, nodes []string) map[string][]*v1.Pod {
	out := map[string][]*v1.Pod{}
	for i, n := range nodes {
		out[n] = append(out[n], pods[i])
	}
	return out
}

func clonePods(pods []*v1.Pod) []*v1.Pod {
	out := make([]*v1.Pod, len(pods))
	for i, p := range pods {
		out[i] = p.DeepCopy()
	}
	return out
}

func boundTo(p *v1.Pod, node string) *v1.Pod {
	b := p.DeepCopy()
	b.Spec.NodeName = node
	return b
}

// runtimeInfo names what the figures were taken with. Test binaries carry
// no dependency versions, so kube's comes from go.mod (tests run in their
// package's directory).
func runtimeInfo() string {
	kube := "k8s.io/kubernetes (version: see go.mod)"
	if mod, err := os.ReadFile("../../../go.mod"); err == nil {
		for _, line := range strings.Split(string(mod), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "k8s.io/kubernetes" {
				kube = "k8s.io/kubernetes " + f[1]
			}
		}
	}
	return fmt.Sprintf("%s, %s, %s/%s, %d CPUs, GOMAXPROCS %d", kube, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
}
