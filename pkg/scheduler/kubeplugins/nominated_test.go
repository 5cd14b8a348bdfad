package kubeplugins_test

import (
	"context"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// TestNominatedPodsCountForThePlugins: a pod nominated to a node (it
// preempted there and waits for its victims to go) holds that node's CSI
// attach slot against pods of lower or equal priority, as kube's
// RunFilterPluginsWithNominatedPods counts it, and not against a pod of
// higher priority. Where every node's slot is taken, a running pod is
// preempted rather than the nominated pod's slot used.
func TestNominatedPodsCountForThePlugins(t *testing.T) {
	w := &world{}
	for _, name := range []string{"n1", "n2"} {
		n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
			Status: v1.NodeStatus{Allocatable: v1.ResourceList{v1.ResourceCPU: q("8"), v1.ResourceMemory: q("32Gi"), v1.ResourcePods: q("110")}}}
		w.nodes = append(w.nodes, n)
		w.objects = append(w.objects, n, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driver, NodeID: name,
				Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(int32(1))}}}}})
	}
	w.objects = append(w.objects, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "dynamic"}, Provisioner: driver})
	for i, name := range []string{"a", "b", "c"} {
		c, pv := boundCSIClaim(name, i)
		w.claims = append(w.claims, c)
		w.objects = append(w.objects, c, pv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, plugins, sc := startWorld(ctx, t, w)

	high := pod("high")
	mount(high, "a")
	setPriority(high, 1000)
	sc.Nominate(high, "n1")

	feasible := func(name string, prio int32) []string {
		t.Helper()
		p := pod(name)
		mount(p, "b")
		setPriority(p, prio)
		cyc, err := plugins.PreFilter(ctx, p, len(w.nodes))
		if err != nil {
			t.Fatal(err)
		}
		scores, err := sc.ScoreNodesWith(p, &core.External{Check: cyc.Check, Score: cyc.Score, Without: cyc.Without})
		var out []string
		if err == nil {
			for _, s := range scores {
				out = append(out, s.Node)
			}
		}
		slices.Sort(out)
		return out
	}
	if got := feasible("low", 100); !slices.Equal(got, []string{"n2"}) {
		t.Errorf("a pod of lower priority is feasible on %v; want only n2: n1's one attach slot is the nominated pod's", got)
	}
	if got := feasible("equal", 1000); !slices.Equal(got, []string{"n2"}) {
		t.Errorf("a pod of equal priority is feasible on %v; want only n2", got)
	}
	if got := feasible("higher", 2000); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("a pod of higher priority is feasible on %v; want both: a nomination of lower priority holds nothing for it", got)
	}

	// n2's slot taken by a running pod of priority 0: a pod of priority 500
	// fits nowhere, and preempts on n2, never on n1 (no victims there, only
	// the nominated pod's reservation).
	running := pod("running")
	running.Spec.NodeName = "n2"
	mount(running, "c")
	setPriority(running, 0)
	if err := sc.AddPod(running); err != nil {
		t.Fatal(err)
	}
	mid := pod("mid")
	mount(mid, "b")
	setPriority(mid, 500)
	cyc, err := plugins.PreFilter(ctx, mid, len(w.nodes))
	if err != nil {
		t.Fatal(err)
	}
	ext := &core.External{Check: cyc.Check, Score: cyc.Score, Without: cyc.Without}
	if res, err := sc.ScheduleWith(mid, ext); err == nil {
		t.Fatalf("pod placed on %s; every attach slot is taken or reserved", res.Node)
	}
	plan, err := sc.PreemptWith(mid, ext)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Node != "n2" || len(plan.Victims) != 1 || plan.Victims[0].Name != "running" {
		t.Errorf("preemption on %s evicting %v; want n2 evicting running", plan.Node, podNames(plan.Victims))
	}
}

// boundCSIClaim is a claim bound to a volume of the world's CSI driver,
// usable on any node.
func boundCSIClaim(name string, i int) (*v1.PersistentVolumeClaim, runtime.Object) {
	c := &v1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: typesUID("nc", i),
			Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes"}},
		Spec: v1.PersistentVolumeClaimSpec{AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			StorageClassName: ptr.To("dynamic"), VolumeName: "pv-" + name,
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: q("1Gi")}}},
		Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimBound},
	}
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + name},
		Spec: v1.PersistentVolumeSpec{StorageClassName: "dynamic", AccessModes: c.Spec.AccessModes,
			Capacity:               v1.ResourceList{v1.ResourceStorage: q("1Gi")},
			PersistentVolumeSource: v1.PersistentVolumeSource{CSI: &v1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "vol-" + name}},
			ClaimRef:               &v1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: name, UID: c.UID}},
		Status: v1.PersistentVolumeStatus{Phase: v1.VolumeBound},
	}
	return c, pv
}
