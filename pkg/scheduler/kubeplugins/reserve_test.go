package kubeplugins_test

import (
	"context"
	"errors"
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/kubeplugins"
)

// TestReservedClaimIsInUseUntilUnreserved: two pods on one ReadWriteOncePod
// claim, decided back to back: the second must not be placed while the
// first holds the claim only as a reservation (its Binding not yet seen by
// any informer), and may be once the first is unreserved.
func TestReservedClaimIsInUseUntilUnreserved(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	claim := &v1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "solo", UID: "claim-solo",
			Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes"}},
		Spec: v1.PersistentVolumeClaimSpec{AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOncePod},
			StorageClassName: ptr.To("dynamic"), VolumeName: "pv-solo",
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: q("1Gi")}}},
		Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimBound},
	}
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-solo"},
		Spec: v1.PersistentVolumeSpec{StorageClassName: "dynamic", AccessModes: claim.Spec.AccessModes,
			Capacity:               v1.ResourceList{v1.ResourceStorage: q("1Gi")},
			PersistentVolumeSource: v1.PersistentVolumeSource{CSI: &v1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "solo"}},
			ClaimRef:               &v1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: "solo", UID: claim.UID}},
		Status: v1.PersistentVolumeStatus{Phase: v1.VolumeBound},
	}
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{v1.LabelHostname: "n1"}},
		Status: v1.NodeStatus{Allocatable: v1.ResourceList{v1.ResourceCPU: q("4"), v1.ResourceMemory: q("8Gi"), v1.ResourcePods: q("110")}}}
	objs := []runtime.Object{claim, pv, node,
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "dynamic"}, Provisioner: driver, VolumeBindingMode: &wffc}}
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	plugins, err := kubeplugins.New(ctx, scheduler.PluginDeps{Client: client, Factory: factory, Recorder: events.NewFakeRecorder(10), SchedulerName: "myriad"})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	sc := core.New(core.DefaultConfig())
	sc.UpdateNode(node)

	place := func(name string) (scheduler.Cycle, string, error) {
		p := pod(name)
		mount(p, "solo")
		cyc, err := plugins.PreFilter(ctx, p, 1)
		if err != nil {
			return nil, "", err
		}
		res, err := sc.ScheduleWith(p, &core.External{Check: cyc.Check, Score: cyc.Score})
		return cyc, res.Node, err
	}
	a, at, err := place("a")
	if err != nil || at != "n1" {
		t.Fatalf("first pod: %q, %v", at, err)
	}
	if err := a.Reserve(ctx, at); err != nil {
		t.Fatal(err)
	}
	var fit *core.FitError
	if _, at, err := place("b"); !errors.As(err, &fit) {
		t.Fatalf("second pod placed on %q (err %v) while the first holds its ReadWriteOncePod claim", at, err)
	}
	t.Logf("second pod, first reserved: %v", fit)
	a.Unreserve(ctx, "n1")
	if _, at, err := place("b"); err != nil || at != "n1" {
		t.Fatalf("second pod after the first was unreserved: %q, %v", at, err)
	}
}
