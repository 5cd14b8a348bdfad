package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// annProvisionedBy names the provisioner of a dynamically provisioned PV.
const annProvisionedBy = "pv.kubernetes.io/provisioned-by"

// resizer grows the volumes of claims whose request grew. Written here
// because external-resizer is a CSI sidecar that calls a driver over gRPC;
// there is no library form of it, and our volumes have no driver.
type resizer struct {
	client   kubernetes.Interface
	claims   corelisters.PersistentVolumeClaimLister
	volumes  corelisters.PersistentVolumeLister
	recorder record.EventRecorder
	clock    clock.Clock
	queue    workqueue.TypedRateLimitingInterface[string]
}

func newResizer(client kubernetes.Interface, claims coreinformers.PersistentVolumeClaimInformer, volumes coreinformers.PersistentVolumeInformer,
	recorder record.EventRecorder, clk clock.WithTicker) *resizer {
	r := &resizer{client: client, claims: claims.Lister(), volumes: volumes.Lister(), recorder: recorder, clock: clk,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "myriad-storage-resize", Clock: clk})}
	_, _ = claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    r.onClaim,
		UpdateFunc: func(_, obj any) { r.onClaim(obj) },
	})
	return r
}

// onClaim queues claims asking for more than they have; the rest (almost
// every event) cost one comparison.
func (r *resizer) onClaim(obj any) {
	c, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok || c.Status.Phase != corev1.ClaimBound {
		return
	}
	want, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if have := c.Status.Capacity[corev1.ResourceStorage]; !ok || want.Cmp(have) <= 0 {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(c); err == nil {
		r.queue.Add(key)
	}
}

// run drains the queue with workers until ctx ends, and returns once they
// have.
func (r *resizer) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer r.queue.ShutDown()
	for range workers {
		wg.Go(func() {
			for r.next(ctx) {
			}
		})
	}
	<-ctx.Done()
}

func (r *resizer) next(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	if err := r.sync(ctx, key); err != nil {
		klog.FromContext(ctx).Error(err, "Resize failed, retrying", "claim", key)
		r.queue.AddRateLimited(key)
		return true
	}
	r.queue.Forget(key)
	return true
}

// sync brings one claim's volume to the claim's requested size.
func (r *resizer) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := r.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && claim.Spec.VolumeName == "") {
		return nil
	} else if err != nil {
		return err
	}
	pv, err := r.volumes.Get(claim.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if pv.Annotations[annProvisionedBy] != ProvisionerName {
		return nil // another provisioner's volume: its resizer's job
	}
	plan, ok := planResize(claim, pv)
	if !ok {
		return nil
	}
	if plan.markResizing {
		if claim, err = r.patchClaimStatus(ctx, claim, resizingStatus(claim, plan.size, r.clock.Now())); err != nil {
			return err
		}
		r.recorder.Eventf(claim, corev1.EventTypeNormal, reasonResizing, "External resizer is resizing volume %s", pv.Name)
	}
	if plan.growVolume {
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"capacity": corev1.ResourceList{corev1.ResourceStorage: plan.size}}})
		if _, err := r.client.CoreV1().PersistentVolumes().Patch(ctx, pv.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("grow volume %s to %s: %w", pv.Name, plan.size.String(), err)
		}
	}
	if _, err := r.patchClaimStatus(ctx, claim, nodePendingStatus(claim, plan.size, r.clock.Now())); err != nil {
		return err
	}
	r.recorder.Event(claim, corev1.EventTypeNormal, reasonNodeRequired, "Require file system resize of volume on node")
	return nil
}

// patchClaimStatus sends the strategic merge patch from the claim's status
// to st, with the claim's UID so it cannot land on a namesake.
func (r *resizer) patchClaimStatus(ctx context.Context, claim *corev1.PersistentVolumeClaim, st *corev1.PersistentVolumeClaimStatus) (*corev1.PersistentVolumeClaim, error) {
	oldJSON, err := json.Marshal(corev1.PersistentVolumeClaim{Status: claim.Status})
	if err != nil {
		return nil, err
	}
	newJSON, err := json.Marshal(corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{UID: claim.UID}, Status: *st})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.PersistentVolumeClaim{})
	if err != nil {
		return nil, fmt.Errorf("build status patch of claim %s/%s: %w", claim.Namespace, claim.Name, err)
	}
	got, err := r.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Patch(ctx, claim.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return nil, fmt.Errorf("patch status of claim %s/%s: %w", claim.Namespace, claim.Name, err)
	}
	return got, nil
}
