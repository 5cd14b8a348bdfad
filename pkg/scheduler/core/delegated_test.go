package core_test

import (
	"errors"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// TestDelegatedResourcesSkipNodesWithoutThem: an extended resource a
// DeviceClass serves is left to DRA on nodes with none of it in
// allocatable (kube's NodeResourcesFit), checked as usual on nodes that
// have some (a device plugin's), and a change of delegation gives the pod a
// fresh class rather than a stale cached verdict.
func TestDelegatedResourcesSkipNodesWithoutThem(t *testing.T) {
	const gpu = v1.ResourceName("example.com/gpu")
	sc := core.New(core.DefaultConfig())
	sc.UpdateNode(tc.Node("dra", "4", "8Gi", 10, nil))
	sc.UpdateNode(withNode(tc.Node("plugin", "4", "8Gi", 10, nil), func(n *v1.Node) { n.Status.Allocatable[gpu] = q("1") }))
	pod := func(n string) *v1.Pod {
		return withPod(tc.Pod("ns", "p"+n, "100m", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Requests[gpu] = q(n)
			p.Spec.Containers[0].Resources.Limits = v1.ResourceList{gpu: q(n)}
		})
	}
	feasible := func(p *v1.Pod) []string {
		t.Helper()
		got, err := sc.ScoreNodes(p)
		var fit *core.FitError
		if err != nil && !errors.As(err, &fit) {
			t.Fatal(err)
		}
		var names []string
		for _, ns := range got {
			names = append(names, ns.Node)
		}
		slices.Sort(names)
		return names
	}
	// Not delegated: only the device plugin's node has GPUs, and one only.
	if got := feasible(pod("1")); !slices.Equal(got, []string{"plugin"}) {
		t.Fatalf("one GPU, nothing delegated: feasible %v, want [plugin]", got)
	}
	sc.SetDelegated(func(n v1.ResourceName) bool { return n == gpu })
	if got := feasible(pod("1")); !slices.Equal(got, []string{"dra", "plugin"}) {
		t.Fatalf("one GPU, delegated: feasible %v, want [dra plugin]", got)
	}
	if got := feasible(pod("2")); !slices.Equal(got, []string{"dra"}) {
		t.Fatalf("two GPUs, delegated: feasible %v, want [dra] (the plugin node's allocatable still counts)", got)
	}
	if r := sc.Check(pod("2"), "dra"); r != nil {
		t.Fatalf("the binder's check refuses a delegated request on the DRA node: %v", r)
	}
	sc.SetDelegated(nil)
	if got := feasible(pod("1")); !slices.Equal(got, []string{"plugin"}) {
		t.Fatalf("delegation withdrawn: feasible %v, want [plugin] (a stale class verdict?)", got)
	}
}
