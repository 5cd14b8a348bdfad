package syncer

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// statusSubresource makes a fake clientset keep status apart as the API
// server does for every type with a status subresource: an update of the
// object keeps the stored status, an update of status keeps the stored
// spec. client-go's fake stores whatever it is given, so an Update from a
// stale cache silently rolled back a status another writer had just set
// (a super claim's grown capacity), which no real cluster does.
func statusSubresource(cs *fake.Clientset) {
	cs.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		keep := map[string]string{"": "Status", "status": "Spec"}[a.GetSubresource()]
		obj := a.(k8stesting.UpdateAction).GetObject()
		m, err := meta.Accessor(obj)
		if keep == "" || err != nil {
			return false, nil, nil
		}
		stored, err := cs.Tracker().Get(a.GetResource(), a.GetNamespace(), m.GetName())
		if err != nil {
			return false, nil, nil // the clientset's own reactor answers NotFound
		}
		dst, src := reflect.ValueOf(obj).Elem().FieldByName(keep), reflect.ValueOf(stored).Elem().FieldByName(keep)
		if dst.IsValid() && src.IsValid() && dst.CanSet() && dst.Type() == src.Type() {
			dst.Set(src) // stored is the tracker's copy: nothing is shared
		}
		return false, nil, nil
	})
}
