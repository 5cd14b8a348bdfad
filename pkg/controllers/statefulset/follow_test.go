package statefulset

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/controllers/expectations"
)

// A move that follows from what happened to the pod (Updating → Updated)
// lands although the kubelet wrote the pod's status after the pass read
// it; a move from a state the pod has left since does not.
func TestFollowStateSurvivesOthersWrites(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	read := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0", ResourceVersion: "3",
		Labels: map[string]string{pub.LifecycleStateKey: string(pub.LifecycleStateUpdating), pub.ControllerRevisionHashLabelKey: "web-r2"}}}
	stored := read.DeepCopy()
	stored.ResourceVersion, stored.Status.Phase = "9", corev1.PodRunning // the kubelet's write since
	kube := kubefake.NewClientset(stored)
	// The fake does not check resourceVersion preconditions; the API
	// server would refuse one read before the kubelet's write.
	kube.PrependReactor("patch", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if strings.Contains(string(a.(clienttesting.PatchAction).GetPatch()), `"resourceVersion":"3"`) {
			return true, nil, apierrors.NewConflict(corev1.Resource("pods"), "web-0", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	clk := clocktesting.NewFakeClock(now)
	ps := &pass{r: &Reconciler{kube: kube, exp: expectations.New(clk, expectations.DefaultTimeout)},
		key: types.NamespacedName{Namespace: "ns", Name: "web"}, now: now}

	if err := ps.followState(context.Background(), read, pub.LifecycleStateUpdated); err != nil {
		t.Fatalf("the move failed on a pod changed only by the kubelet: %v", err)
	}
	got, err := kube.CoreV1().Pods("ns").Get(context.Background(), "web-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels[pub.LifecycleStateKey] != string(pub.LifecycleStateUpdated) || got.Annotations[pub.LifecycleTimestampKey] != "2026-12-07T05:00:00Z" {
		t.Errorf("after the move: labels %v, annotations %v", got.Labels, got.Annotations)
	}
	if got.Status.Phase != corev1.PodRunning {
		t.Error("the move overwrote the kubelet's status")
	}

	// The controller has since decided to delete it: the old read must not
	// move it back.
	got.Labels[pub.LifecycleStateKey] = string(pub.LifecycleStatePreparingDelete)
	if _, err := kube.CoreV1().Pods("ns").Update(context.Background(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = ps.followState(context.Background(), read, pub.LifecycleStateUpdated) // the fake's failed test is a plain error
	after, _ := kube.CoreV1().Pods("ns").Get(context.Background(), "web-0", metav1.GetOptions{})
	if s := after.Labels[pub.LifecycleStateKey]; s != string(pub.LifecycleStatePreparingDelete) {
		t.Errorf("a stale move overwrote a later decision: state %s", s)
	}
}
