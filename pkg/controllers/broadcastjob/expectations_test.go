package broadcastjob

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// A pass waits until the cache shows the pods the last pass created and
// the deletions it made, and gives up waiting after expectationTimeout.
func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	e := newExpectations(clk)
	key := types.NamespacedName{Namespace: "default", Name: "bcj"}
	old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old", UID: "u-old"}}
	if ok, _ := e.satisfied(key, []*corev1.Pod{old}); !ok {
		t.Fatal("nothing expected, yet the pass waits")
	}
	e.created(key, "new")
	e.deleted(key, "u-old")
	if ok, wait := e.satisfied(key, []*corev1.Pod{old}); ok || wait <= 0 {
		t.Fatalf("created pod not in the cache: satisfied %v wait %v", ok, wait)
	}
	created := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new", UID: "u-new"}}
	if ok, _ := e.satisfied(key, []*corev1.Pod{old, created}); ok {
		t.Fatal("deleted pod still live in the cache, yet satisfied")
	}
	terminating := old.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: clk.Now()}
	if ok, _ := e.satisfied(key, []*corev1.Pod{terminating, created}); !ok {
		t.Fatal("cache shows both writes, yet the pass waits")
	}

	// A lost event does not stall the job forever.
	e.created(key, "never-seen")
	clk.Step(expectationTimeout)
	if ok, _ := e.satisfied(key, nil); !ok {
		t.Fatalf("still waiting after %v", expectationTimeout)
	}
	// Forgotten with the job.
	e.created(key, "x")
	e.forget(key)
	if ok, _ := e.satisfied(key, nil); !ok {
		t.Fatal("a deleted job's expectations remain")
	}
}
