package statefulset

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// The pod cache holds only pods that carry the StatefulSet pod-name label
// (a fraction of a big cluster's pods). A pod whose labels are edited so
// that it no longer carries it leaves the cache as if deleted, though it
// still exists with the set's ownerReference, and a set that cannot see
// it could never release it, as upstream's controller (which caches every
// pod) does. departed remembers such pods, those that leave the cache
// without a deletion timestamp while a StatefulSet controls them, until
// their set's next pass reads each once from the API server and releases
// it if it is no longer a member. Pods that are really deleted carry a
// deletion timestamp, or are gone when read, and cost nothing more.
type departed struct {
	mu    sync.Mutex
	bySet map[types.NamespacedName]map[types.UID]string // set → pod UID → pod name
}

// handler enqueues the controlling set of a pod that left the cache
// alive, and remembers the pod for it.
func (d *departed) handler() handler.TypedEventHandler[*corev1.Pod, reconcile.Request] {
	return handler.TypedFuncs[*corev1.Pod, reconcile.Request]{
		DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[*corev1.Pod], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			p := e.Object
			if p == nil || p.DeletionTimestamp != nil {
				return
			}
			ref := metav1.GetControllerOf(p)
			if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != v1beta1.SchemeGroupVersion.String() {
				return
			}
			set := types.NamespacedName{Namespace: p.Namespace, Name: ref.Name}
			d.mu.Lock()
			if d.bySet == nil {
				d.bySet = map[types.NamespacedName]map[types.UID]string{}
			}
			if d.bySet[set] == nil {
				d.bySet[set] = map[types.UID]string{}
			}
			d.bySet[set][p.UID] = p.Name
			d.mu.Unlock()
			q.Add(reconcile.Request{NamespacedName: set})
		},
	}
}

// take returns and forgets the pods remembered for set.
func (d *departed) take(set types.NamespacedName) map[types.UID]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	pods := d.bySet[set]
	delete(d.bySet, set)
	return pods
}

// putBack remembers a pod again after a failed release.
func (d *departed) putBack(set types.NamespacedName, uid types.UID, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bySet[set] == nil {
		d.bySet[set] = map[types.UID]string{}
	}
	d.bySet[set][uid] = name
}

// releaseDeparted releases the pods that left set's cache alive and are
// no longer its members.
func (r *Reconciler) releaseDeparted(ctx context.Context, set *v1beta1.StatefulSet, sel labels.Selector) error {
	key := client.ObjectKeyFromObject(set)
	for uid, name := range r.departed.take(key) {
		p := &corev1.Pod{}
		err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: set.Namespace, Name: name}, p)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			r.departed.putBack(key, uid, name)
			return err
		}
		ref := metav1.GetControllerOf(p)
		if p.UID != uid || p.DeletionTimestamp != nil || ref == nil || ref.UID != set.UID {
			continue
		}
		if _, member := OrdinalOf(set.Name, p); member && sel.Matches(labels.Set(p.Labels)) {
			continue // back in the cache, or on its way
		}
		if err := r.setController(ctx, set, p, false); err != nil && !apierrors.IsNotFound(err) {
			r.departed.putBack(key, uid, name)
			return err
		}
	}
	return nil
}
