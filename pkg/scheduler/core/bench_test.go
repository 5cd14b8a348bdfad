package core_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

var benchClusters = map[int]*tc.Cluster{}

func benchCluster(n int) *tc.Cluster {
	if c := benchClusters[n]; c != nil {
		return c
	}
	c := tc.New(rand.New(rand.NewPCG(1, 1)), tc.Options{Nodes: n, PodsPerNode: 4})
	benchClusters[n] = c
	return c
}

// BenchmarkSchedule measures the decision path alone (Schedule + Assume of
// Deployment-like replicas) per cluster size, sampling policy and with or
// without equivalence-class reuse. Beyond ns/op it reports the nodes visited
// per decision and the resulting placement quality: the standard deviation
// of cpu utilization across nodes after the run (lower = better spread,
// the LeastAllocated goal).
func BenchmarkSchedule(b *testing.B) {
	policies := []struct {
		name   string
		enough core.EnoughFunc
	}{{"kube", core.KubeAdaptive(0)}, {"log2", core.NomadLog2()}, {"fixed16", core.Fixed(16)}}
	for _, nodes := range []int{1000, 10000, 50000} {
		for _, pol := range policies {
			for _, equiv := range []bool{true, false} {
				name := fmt.Sprintf("nodes=%d/enough=%s/equiv=%v", nodes, pol.name, equiv)
				b.Run(name, func(b *testing.B) {
					cl := benchCluster(nodes)
					cfg := core.DefaultConfig()
					cfg.Enough = pol.enough
					cfg.DisableEquivalence = !equiv
					cfg.DisableScoreCache = !equiv
					sc := core.New(cfg)
					for _, n := range cl.Nodes {
						sc.UpdateNode(n)
					}
					for _, p := range cl.Pods {
						if err := sc.AddPod(p); err != nil {
							b.Fatal(err)
						}
					}
					pods := make([]*v1.Pod, b.N)
					for i := range pods {
						pods[i] = tc.Pod("default", fmt.Sprintf("web-%d", i), "100m", "128Mi", map[string]string{"app": "web"})
					}
					b.ReportAllocs()
					cpu0, cpuOK := tc.ProcessCPU()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						res, err := sc.Schedule(pods[i])
						if err != nil {
							b.Fatal(err)
						}
						if err := sc.Assume(pods[i], res.Node); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if cpu1, ok := tc.ProcessCPU(); ok && cpuOK {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
					st := sc.Stats()
					b.ReportMetric(float64(st.NodesVisited)/float64(b.N), "nodes/op")
					b.ReportMetric(cpuUtilStddev(sc), "cpu-util-sd")
				})
			}
		}
	}
}

func cpuUtilStddev(sc *core.Scheduler) float64 {
	var sum, sq float64
	var n int
	sc.NodeUsage(func(ni *core.NodeInfo) {
		if ni.Allocatable.MilliCPU == 0 {
			return
		}
		u := float64(ni.Requested.MilliCPU) / float64(ni.Allocatable.MilliCPU)
		sum += u
		sq += u * u
		n++
	})
	m := sum / float64(n)
	return math.Sqrt(sq/float64(n) - m*m)
}

// workloads are the few Deployments whose replicas make up the pod stream
// of BenchmarkEquivalenceClasses: each has its own node-local inputs
// (requests, selector, affinity, tolerations), the kind of spec
// equivalence classes let the scheduler evaluate once per node instead of
// once per pod. Like real Deployment replicas, each is owned by a
// ReplicaSet and selected by a Service (so kube's system-default topology
// spreading applies) and runs an image some nodes already hold
// (ImageLocality).
var workloads = []func(name string) *v1.Pod{
	func(name string) *v1.Pod { // web: plain requests
		return replicaOf("default", "web", name, "100m", "128Mi")
	},
	func(name string) *v1.Pod { // api: SSD nodes, tolerates the dedicated taint
		p := replicaOf("default", "api", name, "250m", "256Mi")
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "db", Effect: v1.TaintEffectNoSchedule}}
		return p
	},
	func(name string) *v1.Pod { // batch: newer hardware generations, prefers SSD
		p := replicaOf("batch", "batch", name, "500m", "512Mi")
		p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "gen", Operator: v1.NodeSelectorOpIn, Values: []string{"3", "4", "5"}}}}}},
			PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{Weight: 10, Preference: v1.NodeSelectorTerm{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "disk", Operator: v1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}},
		}}
		return p
	},
	func(name string) *v1.Pod { // cache: a host port, tolerates spot nodes
		p := replicaOf("default", "cache", name, "1", "1Gi")
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 6379, HostPort: 6379}}
		p.Spec.Tolerations = []v1.Toleration{{Key: "spot", Operator: v1.TolerationOpExists}}
		return p
	},
}

// replicaOf is a pod of ReplicaSet app-1 running image registry.example/app.
func replicaOf(ns, app, name, cpu, mem string) *v1.Pod {
	p := tc.Pod(ns, name, cpu, mem, map[string]string{"app": app, "pod-template-hash": "1"})
	yes := true
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-1", Controller: &yes}}
	p.Spec.Containers[0].Image = "registry.example/" + app + ":v1"
	return p
}

// addWorkloadObjects gives the core the Services and ReplicaSets of the
// workloads.
func addWorkloadObjects(sc *core.Scheduler) {
	for _, w := range workloads {
		p := w("template")
		sc.UpdateService(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Labels["app"]},
			Spec: v1.ServiceSpec{Selector: map[string]string{"app": p.Labels["app"]}}})
		sc.UpdateReplicaSet(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.OwnerReferences[0].Name},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: p.Labels}}})
	}
}

var taintedClusters = map[int]*tc.Cluster{}

// taintedCluster is benchCluster with taints on some nodes: dedicated
// (NoSchedule) on every 8th, spot (PreferNoSchedule) on every 10th; and
// images: every third node holds each workload's image.
func taintedCluster(n int) *tc.Cluster {
	if c := taintedClusters[n]; c != nil {
		return c
	}
	c := tc.New(rand.New(rand.NewPCG(2, 2)), tc.Options{Nodes: n, PodsPerNode: 4})
	for i, node := range c.Nodes {
		switch {
		case i%8 == 0:
			node.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "db", Effect: v1.TaintEffectNoSchedule}}
		case i%10 == 0:
			node.Spec.Taints = []v1.Taint{{Key: "spot", Value: "true", Effect: v1.TaintEffectPreferNoSchedule}}
		}
		for j, app := range []string{"web", "api", "batch", "cache"} {
			if (i+j)%3 == 0 {
				node.Status.Images = append(node.Status.Images, v1.ContainerImage{Names: []string{"registry.example/" + app + ":v1"}, SizeBytes: int64(100*(j+1)) << 20})
			}
		}
	}
	taintedClusters[n] = c
	return c
}

// BenchmarkEquivalenceClasses measures what equivalence classes (with the
// score cache that lives in them) buy on the decision path: the same
// cluster and the same stream of replicas of four workloads, arriving in
// bursts of 25 as Deployment rollouts do, scored with kube's whole default
// profile (system-default spreading and ImageLocality included), decided
// with classes on and off (Config.DisableEquivalence). ns/op is one
// Schedule + Assume; cpu-ns/op
// is the process CPU time per op, the steadier figure on a shared machine.
// Also reported: nodes visited per decision and the share of node
// evaluations served from the class cache.
func BenchmarkEquivalenceClasses(b *testing.B) {
	policies := []struct {
		name   string
		enough core.EnoughFunc
	}{{"kube", core.KubeAdaptive(0)}, {"all", core.AllNodes()}}
	for _, nodes := range []int{1000, 10000} {
		for _, pol := range policies {
			for _, equiv := range []bool{true, false} {
				b.Run(fmt.Sprintf("nodes=%d/enough=%s/equiv=%v", nodes, pol.name, equiv), func(b *testing.B) {
					cl := taintedCluster(nodes)
					cfg := core.DefaultConfig()
					cfg.Enough = pol.enough
					cfg.DisableEquivalence = !equiv
					cfg.DisableScoreCache = !equiv
					sc := core.New(cfg)
					for _, n := range cl.Nodes {
						sc.UpdateNode(n)
					}
					for _, p := range cl.Pods {
						if err := sc.AddPod(p); err != nil {
							b.Fatal(err)
						}
					}
					addWorkloadObjects(sc)
					pods := make([]*v1.Pod, b.N)
					for i := range pods {
						pods[i] = workloads[(i/25)%len(workloads)](fmt.Sprintf("r-%d", i))
					}
					b.ReportAllocs()
					cpu0, cpuOK := tc.ProcessCPU()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						res, err := sc.Schedule(pods[i])
						if err != nil {
							b.Fatal(err)
						}
						if err := sc.Assume(pods[i], res.Node); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if cpu1, ok := tc.ProcessCPU(); ok && cpuOK {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
					st := sc.Stats()
					b.ReportMetric(float64(st.NodesVisited)/float64(b.N), "nodes/op")
					if evals := st.FilterHits + st.FilterMisses; evals > 0 {
						b.ReportMetric(100*float64(st.FilterHits)/float64(evals), "cache-hit-%")
					}
				})
			}
		}
	}
}
