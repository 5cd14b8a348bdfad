package cloneset

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// expectationTimeout bounds how long a pass waits for the cache to show
// its own writes. A write whose event is lost (a watch that expired, an
// object deleted by someone else before we saw it) must not wedge the
// CloneSet forever; after the timeout the cache is trusted again, as
// upstream's ReplicaSet controller does after five minutes.
const expectationTimeout = 5 * time.Minute

// expectations remembers, per CloneSet, the writes the informer cache has
// not reflected yet: pods created (by name), pods deleted (by UID), and pods
// written (by name, with the resourceVersion the write returned).
//
// The cache lags the API server by the watch latency. A pass that ran on a
// cache missing its own last creations would create them again; one missing
// an in-place update would count the pod as still available and exceed
// maxUnavailable. Upstream's controller.ControllerExpectations does the
// first two for ReplicaSets but lives in k8s.io/kubernetes, which Myriad's
// controllers do not import; it also cannot track pod writes.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	sets  map[types.NamespacedName]*expected
}

type expected struct {
	creates map[string]time.Time    // pod name → when created
	deletes map[types.UID]time.Time // pod UID → when deleted
	writes  map[string]written      // pod name → the write to see
}

type written struct {
	resourceVersion string
	at              time.Time
}

func newExpectations(clk clock.PassiveClock) *expectations {
	return &expectations{clock: clk, sets: map[types.NamespacedName]*expected{}}
}

func (e *expectations) get(key types.NamespacedName) *expected {
	s := e.sets[key]
	if s == nil {
		s = &expected{creates: map[string]time.Time{}, deletes: map[types.UID]time.Time{}, writes: map[string]written{}}
		e.sets[key] = s
	}
	return s
}

func (e *expectations) expectCreate(key types.NamespacedName, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).creates[pod] = e.clock.Now()
}

// createFailed forgets a create the API server refused: no event will come.
func (e *expectations) createFailed(key types.NamespacedName, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.get(key).creates, pod)
}

func (e *expectations) expectDelete(key types.NamespacedName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).deletes[uid] = e.clock.Now()
}

func (e *expectations) deleteFailed(key types.NamespacedName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.get(key).deletes, uid)
}

// expectWrite records that pod was written and the server answered with
// resourceVersion rv.
func (e *expectations) expectWrite(key types.NamespacedName, pod, rv string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).writes[pod] = written{resourceVersion: rv, at: e.clock.Now()}
}

// forget drops everything about a CloneSet that no longer exists.
func (e *expectations) forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sets, key)
}

// podView is what expectations need to know about a cached pod.
type podView struct {
	uid             types.UID
	resourceVersion string
	terminating     bool
}

// satisfied drops the expectations the cached pods (by name) fulfil or that
// timed out, and reports whether none remain. When some remain, wait is how
// long until the oldest times out.
func (e *expectations) satisfied(key types.NamespacedName, pods map[string]podView) (ok bool, wait time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sets[key]
	if s == nil {
		return true, 0
	}
	now := e.clock.Now()
	wait = expectationTimeout
	pending := func(since time.Time) bool {
		left := since.Add(expectationTimeout).Sub(now)
		if left <= 0 {
			return false
		}
		wait = min(wait, left)
		return true
	}
	uids := make(map[types.UID]podView, len(s.deletes))
	if len(s.deletes) > 0 {
		for _, p := range pods {
			uids[p.uid] = p
		}
	}
	for name, at := range s.creates {
		if _, seen := pods[name]; seen || !pending(at) {
			delete(s.creates, name)
		}
	}
	for uid, at := range s.deletes {
		if p, present := uids[uid]; !present || p.terminating || !pending(at) {
			delete(s.deletes, uid)
		}
	}
	for name, w := range s.writes {
		p, present := pods[name]
		if !present || newerOrSame(p.resourceVersion, w.resourceVersion) || !pending(w.at) {
			delete(s.writes, name)
		}
	}
	if len(s.creates)+len(s.deletes)+len(s.writes) == 0 {
		delete(e.sets, key)
		return true, 0
	}
	return false, wait
}

// newerOrSame reports whether the cache's resourceVersion has caught up with
// a written one. Resource versions are opaque by contract, but every
// Kubernetes API server backed by etcd issues them as increasing integers;
// when either does not parse, only equality counts.
func newerOrSame(cached, written string) bool {
	if cached == written {
		return true
	}
	c, err1 := strconv.ParseUint(cached, 10, 64)
	w, err2 := strconv.ParseUint(written, 10, 64)
	return err1 == nil && err2 == nil && c >= w
}
