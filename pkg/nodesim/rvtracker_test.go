package nodesim

import (
	"strconv"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// versioningTracker gives every object it stores a new resourceVersion,
// as the API server does. client-go's tracker keeps versions beside the
// objects, never in them, so without this every watch event and every
// write's answer carries an empty version, and the simulator's guard
// against acting twice on an informer's stale copy (sim.stale) never runs
// in unit tests: a slow watch then made a pod start twice.
type versioningTracker struct {
	k8stesting.ObjectTracker
	last *atomic.Uint64
}

func (t versioningTracker) stamp(obj runtime.Object) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatUint(t.last.Add(1), 10))
	}
}

func (t versioningTracker) Add(obj runtime.Object) error {
	t.stamp(obj)
	return t.ObjectTracker.Add(obj)
}

func (t versioningTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	t.stamp(obj)
	return t.ObjectTracker.Create(gvr, obj, ns, opts...)
}

func (t versioningTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	t.stamp(obj)
	return t.ObjectTracker.Update(gvr, obj, ns, opts...)
}

func (t versioningTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.stamp(obj)
	return t.ObjectTracker.Patch(gvr, obj, ns, opts...)
}

// versionWrites makes the clientset's writes go through a
// versioningTracker. It is the last reactor before the clientset's own,
// so reactors added before or after it still see every action first.
func versionWrites(f *k8stesting.Fake, tracker k8stesting.ObjectTracker) {
	vt := versioningTracker{ObjectTracker: tracker, last: new(atomic.Uint64)}
	react := k8stesting.ObjectReaction(vt)
	f.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a.GetVerb() {
		case "create", "update", "patch":
			return react(a)
		}
		return false, nil, nil
	})
}
