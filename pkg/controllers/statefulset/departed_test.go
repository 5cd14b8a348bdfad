package statefulset

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// A pod whose labels no longer select it leaves the label-filtered cache
// alive; its set still releases it (OpenKruise's "should adopt matching
// orphans and release non-matching pods").
func TestDepartedPodIsReleased(t *testing.T) {
	set := &v1beta1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "set-uid"}}
	owner := metav1.OwnerReference{APIVersion: v1beta1.SchemeGroupVersion.String(), Kind: kind.Kind, Name: "web", UID: "set-uid", Controller: ptr.To(true)}
	pod := func(name string, uid types.UID, podLabels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid, Labels: podLabels, OwnerReferences: []metav1.OwnerReference{owner}}}
	}
	stripped := pod("web-0", "u0", nil)                                                                              // every label removed
	relabelled := pod("web-1", "u1", map[string]string{"app": "web", "statefulset.kubernetes.io/pod-name": "web-1"}) // back again
	gone := pod("web-2", "u2", nil)                                                                                  // deleted since
	reader := fake.NewClientBuilder().WithObjects(stripped, relabelled).Build()
	kube := kubefake.NewClientset(stripped, relabelled)
	r := &Reconciler{apiReader: reader, kube: kube}

	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	h := r.departed.handler()
	deleting := pod("web-3", "u3", nil)
	deleting.DeletionTimestamp = &metav1.Time{}
	for _, p := range []*corev1.Pod{stripped, relabelled, gone, deleting, {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "lonely"}}} {
		h.Delete(context.Background(), event.TypedDeleteEvent[*corev1.Pod]{Object: p}, q)
	}
	if q.Len() != 1 {
		t.Fatalf("%d sets queued, want web once", q.Len())
	}
	if err := r.releaseDeparted(context.Background(), set, labels.SelectorFromSet(labels.Set{"app": "web"})); err != nil {
		t.Fatal(err)
	}
	var patched []string
	for _, a := range kube.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok {
			patched = append(patched, p.GetName())
			if !strings.Contains(string(p.GetPatch()), `"$patch":"delete","uid":"set-uid"`) || !strings.Contains(string(p.GetPatch()), `"uid":"u0"`) {
				t.Errorf("release patch %s", p.GetPatch())
			}
		}
	}
	if len(patched) != 1 || patched[0] != "web-0" {
		t.Errorf("patched %v, want only web-0 released", patched)
	}
	if left := r.departed.take(client.ObjectKeyFromObject(set)); len(left) != 0 {
		t.Errorf("still remembered: %v", left)
	}
}
