package cloneset

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1e9, 0))
	e := newExpectations(clk)
	key := types.NamespacedName{Namespace: "ns", Name: "cs"}
	if ok, _ := e.satisfied(key, nil); !ok {
		t.Fatal("no expectations must be satisfied")
	}

	e.expectCreate(key, "cs-a")
	e.expectDelete(key, "uid-b")
	e.expectWrite(key, "cs-c", "120")
	cache := map[string]podView{
		"cs-b": {uid: "uid-b", resourceVersion: "100"},
		"cs-c": {uid: "uid-c", resourceVersion: "110"},
	}
	if ok, wait := e.satisfied(key, cache); ok || wait != expectationTimeout {
		t.Fatalf("satisfied=%v wait=%s with nothing observed; want false, %s", ok, wait, expectationTimeout)
	}

	// The create shows up, the delete is seen as terminating, the write is
	// still older in the cache.
	cache["cs-a"] = podView{uid: "uid-a", resourceVersion: "130"}
	cache["cs-b"] = podView{uid: "uid-b", resourceVersion: "131", terminating: true}
	if ok, _ := e.satisfied(key, cache); ok {
		t.Fatal("satisfied while the cache still has the pre-write pod")
	}
	cache["cs-c"] = podView{uid: "uid-c", resourceVersion: "140"} // a later write than ours
	if ok, _ := e.satisfied(key, cache); !ok {
		t.Fatal("not satisfied after every write was observed")
	}

	// A create whose event never comes times out.
	e.expectCreate(key, "cs-lost")
	clk.SetTime(clk.Now().Add(expectationTimeout - time.Second))
	if ok, wait := e.satisfied(key, cache); ok || wait != time.Second {
		t.Fatalf("satisfied=%v wait=%s one second before the timeout", ok, wait)
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if ok, _ := e.satisfied(key, cache); !ok {
		t.Fatal("a lost create must stop blocking after the timeout")
	}

	// Failed writes are forgotten at once; so is a deleted CloneSet.
	e.expectCreate(key, "cs-refused")
	e.createFailed(key, "cs-refused")
	e.expectDelete(key, "uid-x")
	e.deleteFailed(key, "uid-x")
	if ok, _ := e.satisfied(key, cache); !ok {
		t.Fatal("failed writes must not be waited for")
	}
	e.expectCreate(key, "cs-z")
	e.forget(key)
	if ok, _ := e.satisfied(key, cache); !ok {
		t.Fatal("forget must drop everything")
	}
}

func TestNewerOrSame(t *testing.T) {
	for _, tc := range []struct {
		cached, written string
		want            bool
	}{
		{"10", "10", true}, {"11", "10", true}, {"9", "10", false}, {"abc", "abc", true}, {"abc", "10", false},
	} {
		if got := newerOrSame(tc.cached, tc.written); got != tc.want {
			t.Errorf("newerOrSame(%q, %q) = %v", tc.cached, tc.written, got)
		}
	}
}
