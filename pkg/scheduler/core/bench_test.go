package core_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"

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
