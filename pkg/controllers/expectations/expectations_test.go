package expectations

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func pod(name, uid, rv string, terminating bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid), ResourceVersion: rv}}
	if terminating {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1e9, 0))
	e := New(clk, DefaultTimeout)
	key := types.NamespacedName{Namespace: "ns", Name: "cs"}
	if ok, _ := e.Satisfied(key, nil); !ok {
		t.Fatal("no expectations must be satisfied")
	}

	e.ExpectCreate(key, "cs-a")
	e.ExpectDelete(key, "uid-b")
	e.ExpectWrite(key, "cs-c", "120")
	cache := []*corev1.Pod{pod("cs-b", "uid-b", "100", false), pod("cs-c", "uid-c", "110", false)}
	if ok, wait := e.Satisfied(key, cache); ok || wait != DefaultTimeout {
		t.Fatalf("satisfied=%v wait=%s with nothing observed; want false, %s", ok, wait, DefaultTimeout)
	}

	// The create shows up, the delete is seen as terminating, the write is
	// still older in the cache.
	cache = []*corev1.Pod{pod("cs-a", "uid-a", "130", false), pod("cs-b", "uid-b", "131", true), pod("cs-c", "uid-c", "110", false)}
	if ok, _ := e.Satisfied(key, cache); ok {
		t.Fatal("satisfied while the cache still has the pre-write pod")
	}
	cache[2] = pod("cs-c", "uid-c", "140", false) // a later write than ours
	if ok, _ := e.Satisfied(key, cache); !ok {
		t.Fatal("not satisfied after every write was observed")
	}

	// A create whose event never comes times out.
	e.ExpectCreate(key, "cs-lost")
	clk.SetTime(clk.Now().Add(DefaultTimeout - time.Second))
	if ok, wait := e.Satisfied(key, cache); ok || wait != time.Second {
		t.Fatalf("satisfied=%v wait=%s one second before the timeout", ok, wait)
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if ok, _ := e.Satisfied(key, cache); !ok {
		t.Fatal("a lost create must stop blocking after the timeout")
	}

	// Failed writes are forgotten at once; so is a deleted workload.
	e.ExpectCreate(key, "cs-refused")
	e.CreateFailed(key, "cs-refused")
	e.ExpectDelete(key, "uid-x")
	e.DeleteFailed(key, "uid-x")
	if ok, _ := e.Satisfied(key, cache); !ok {
		t.Fatal("failed writes must not be waited for")
	}
	e.ExpectCreate(key, "cs-z")
	e.Forget(key)
	if ok, _ := e.Satisfied(key, cache); !ok {
		t.Fatal("forget must drop everything")
	}

	// A deleted pod that vanished from the cache fulfils its delete.
	e.ExpectDelete(key, "uid-gone")
	if ok, _ := e.Satisfied(key, cache); !ok {
		t.Fatal("a pod gone from the cache must fulfil its delete")
	}
}

func TestNewerOrSame(t *testing.T) {
	for _, tc := range []struct {
		cached, written string
		want            bool
	}{
		{"10", "10", true}, {"11", "10", true}, {"9", "10", false}, {"abc", "abc", true}, {"abc", "10", false},
	} {
		if got := NewerOrSame(tc.cached, tc.written); got != tc.want {
			t.Errorf("NewerOrSame(%q, %q) = %v", tc.cached, tc.written, got)
		}
	}
}
