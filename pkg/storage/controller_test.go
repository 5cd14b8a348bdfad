package storage

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// scheduledClaim is a claim as the PV controller leaves it once the
// scheduler picked node for its first pod.
func scheduledClaim(name, class, node string) *corev1.PersistentVolumeClaim {
	c := claimOf("1Gi", corev1.ReadWriteOnce)
	c.Name, c.UID, c.Spec.StorageClassName = name, types.UID("uid-"+name), ptr.To(class)
	c.Annotations = map[string]string{
		"volume.kubernetes.io/storage-provisioner": ProvisionerName,
		"volume.kubernetes.io/selected-node":       node,
	}
	return c
}

type testCluster struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
}

func runController(t *testing.T, objs ...runtime.Object) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, client: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(t0)}
	c, err := New(Options{Client: tc.client, Workers: 2, Clock: tc.clock, LeaderElection: LeaderElection{Enabled: false}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	tc.eventually("caches synced", c.Ready)
	return tc
}

func (tc *testCluster) eventually(what string, cond func() bool) {
	tc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tc.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (tc *testCluster) volume(name string) (*corev1.PersistentVolume, error) {
	return tc.client.CoreV1().PersistentVolumes().Get(context.Background(), name, metav1.GetOptions{})
}

// events returns the reasons of the events recorded for the claim.
func (tc *testCluster) events(claim string) map[string]string {
	list, _ := tc.client.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
	reasons := map[string]string{}
	for _, e := range list.Items {
		if e.InvolvedObject.Name == claim {
			reasons[e.Reason] = e.Message
		}
	}
	return reasons
}

func TestControllerProvisionsReclaimsAndResizes(t *testing.T) {
	keep := DefaultClass()
	keep.Name, keep.Annotations = "keep", nil
	keep.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
	other := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "cloud"}, Provisioner: "ebs.csi.aws.com"}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-0", Labels: map[string]string{corev1.LabelHostname: "n-0"}}}
	notOurs := scheduledClaim("cloud", "cloud", "n-0")
	notOurs.Annotations["volume.kubernetes.io/storage-provisioner"] = "ebs.csi.aws.com"
	tc := runController(t, node, DefaultClass(), keep, other,
		scheduledClaim("del", DefaultClassName, "n-0"), scheduledClaim("ret", "keep", "n-0"), notOurs)
	ctx := context.Background()

	// Provisioned on the selected node, claim referenced, as the PV
	// controller expects to bind it.
	for _, name := range []string{"del", "ret"} {
		var pv *corev1.PersistentVolume
		tc.eventually("volume of claim "+name, func() bool {
			var err error
			pv, err = tc.volume("pvc-uid-" + name)
			return err == nil
		})
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != types.UID("uid-"+name) || pv.Annotations[annProvisionedBy] != ProvisionerName ||
			pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "n-0" {
			t.Fatalf("volume of %s: %+v", name, pv)
		}
		tc.eventually("ProvisioningSucceeded event", func() bool { _, ok := tc.events(name)["ProvisioningSucceeded"]; return ok })
	}
	if _, err := tc.volume("pvc-uid-cloud"); !apierrors.IsNotFound(err) {
		t.Fatalf("provisioned a claim of another provisioner: %v", err)
	}

	// Bind "del" as the PV controller would, then grow it.
	claims := tc.client.CoreV1().PersistentVolumeClaims("shop")
	c, _ := claims.Get(ctx, "del", metav1.GetOptions{})
	c.Spec.VolumeName = "pvc-uid-del"
	c.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: c.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	if c, err := claims.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	} else {
		c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("3Gi")
		if _, err := claims.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The volume grows; the file system is left to the node that mounts it
	// (a simulated node, in a cluster), so the capacity stays for now.
	tc.eventually("file system resize pending", func() bool {
		c, err := claims.Get(ctx, "del", metav1.GetOptions{})
		return err == nil && c.Status.AllocatedResourceStatuses[corev1.ResourceStorage] == corev1.PersistentVolumeClaimNodeResizePending
	})
	pv, _ := tc.volume("pvc-uid-del")
	c, _ = claims.Get(ctx, "del", metav1.GetOptions{})
	if pv.Spec.Capacity.Storage().String() != "3Gi" || len(c.Status.Conditions) != 1 || c.Status.Conditions[0].Type != corev1.PersistentVolumeClaimFileSystemResizePending ||
		c.Status.AllocatedResources.Storage().String() != "3Gi" || c.Status.Capacity.Storage().String() != "1Gi" {
		t.Fatalf("after resize: volume %s, claim status %+v", pv.Spec.Capacity.Storage(), c.Status)
	}
	tc.eventually("resize events", func() bool {
		ev := tc.events("del")
		return ev[reasonResizing] == "External resizer is resizing volume pvc-uid-del" && ev[reasonNodeRequired] == "Require file system resize of volume on node"
	})

	// The claims are deleted; the PV controller marks their volumes
	// Released. Delete removes the volume, Retain keeps it.
	for _, name := range []string{"del", "ret"} {
		pv, _ := tc.volume("pvc-uid-" + name)
		pv.Status.Phase = corev1.VolumeReleased
		if _, err := tc.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tc.eventually("the Delete volume deleted", func() bool { _, err := tc.volume("pvc-uid-del"); return apierrors.IsNotFound(err) })
	time.Sleep(100 * time.Millisecond) // a wrong delete would be as quick as the right one above
	if pv, err := tc.volume("pvc-uid-ret"); err != nil || pv.Status.Phase != corev1.VolumeReleased {
		t.Fatalf("the Retain volume: %v, %v", pv, err)
	}
}

func TestProvisionAsksForAnotherNodeWhenTheSelectedOneIsGone(t *testing.T) {
	p := &provisioner{client: fake.NewClientset()}
	_, state, err := p.Provision(context.Background(), controllerOptions(scheduledClaim("a", DefaultClassName, "gone")))
	if err == nil || state != "Reschedule" {
		t.Fatalf("state %q err %v, want Reschedule", state, err)
	}
}

func TestStandbyDoesNotProvision(t *testing.T) {
	client := fake.NewClientset(DefaultClass(), scheduledClaim("a", DefaultClassName, "n-0"))
	le := DefaultLeaderElection()
	le.LeaseDuration, le.RenewDeadline, le.RetryPeriod = time.Hour, 50*time.Minute, time.Minute
	// Someone else holds the Lease.
	now := metav1.NewMicroTime(time.Now())
	if _, err := client.CoordinationV1().Leases(le.Namespace).Create(context.Background(), leaseHeldBy("other", le, now), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := New(Options{Client: client, Workers: 1, LeaderElection: le})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.Ready() {
		t.Fatal("standby's caches not warm")
	}
	if pvs, _ := client.CoreV1().PersistentVolumes().List(context.Background(), metav1.ListOptions{}); len(pvs.Items) != 0 {
		t.Fatalf("a standby provisioned %d volumes", len(pvs.Items))
	}
}

func controllerOptions(c *corev1.PersistentVolumeClaim) controller.ProvisionOptions {
	return controller.ProvisionOptions{StorageClass: DefaultClass(), PVName: "pvc-" + string(c.UID), PVC: c,
		SelectedNodeName: c.Annotations["volume.kubernetes.io/selected-node"]}
}

func leaseHeldBy(id string, le LeaderElection, at metav1.MicroTime) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: le.Name, Namespace: le.Namespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(id), LeaseDurationSeconds: ptr.To(int32(le.LeaseDuration / time.Second)),
			AcquireTime: &at, RenewTime: &at}}
}
