// Package expectations remembers, per workload, the pod writes a
// controller made that its informer cache has not shown yet, so that a pass
// never plans from a cache that lags its own last pass.
//
// A pass on a cache missing its own creations would create the pods again;
// one missing its deletions would delete more; one missing an in-place
// update would count the pod as still available and exceed maxUnavailable.
// Upstream's controller.ControllerExpectations does the first two for
// ReplicaSets but lives in k8s.io/kubernetes, which Myriad's controllers do
// not import, and cannot track writes to existing pods; this package does
// all three, for CloneSet, Advanced DaemonSet and SidecarSet alike.
//
// Every expectation times out: a write whose event is lost (a watch that
// expired, a pod someone else deleted before the cache saw it) must not
// wedge a workload forever. After the timeout the cache is trusted again,
// as upstream does. The package keeps state in memory only, never lists,
// watches or writes, and takes its clock from the caller.
package expectations

import (
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// DefaultTimeout is upstream's ReplicaSet expectation timeout.
const DefaultTimeout = 5 * time.Minute

// Expectations are the unobserved writes of every workload of one
// controller, keyed by the workload.
type Expectations struct {
	clock   clock.PassiveClock
	timeout time.Duration
	mu      sync.Mutex
	sets    map[types.NamespacedName]*expected
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

// New returns empty expectations that give up on a write after timeout.
func New(clk clock.PassiveClock, timeout time.Duration) *Expectations {
	return &Expectations{clock: clk, timeout: timeout, sets: map[types.NamespacedName]*expected{}}
}

// Timeout is how long a write is waited for.
func (e *Expectations) Timeout() time.Duration { return e.timeout }

func (e *Expectations) get(key types.NamespacedName) *expected {
	s := e.sets[key]
	if s == nil {
		s = &expected{creates: map[string]time.Time{}, deletes: map[types.UID]time.Time{}, writes: map[string]written{}}
		e.sets[key] = s
	}
	return s
}

// ExpectCreate records that the workload created pod.
func (e *Expectations) ExpectCreate(key types.NamespacedName, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).creates[pod] = e.clock.Now()
}

// CreateFailed forgets a create the API server refused: no event will come.
func (e *Expectations) CreateFailed(key types.NamespacedName, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.get(key).creates, pod)
}

// ExpectDelete records that the workload deleted the pod with uid.
func (e *Expectations) ExpectDelete(key types.NamespacedName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).deletes[uid] = e.clock.Now()
}

// DeleteFailed forgets a delete the API server refused.
func (e *Expectations) DeleteFailed(key types.NamespacedName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.get(key).deletes, uid)
}

// ExpectWrite records that pod was written and the server answered with
// resourceVersion rv.
func (e *Expectations) ExpectWrite(key types.NamespacedName, pod, rv string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).writes[pod] = written{resourceVersion: rv, at: e.clock.Now()}
}

// Forget drops everything about a workload that no longer exists.
func (e *Expectations) Forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sets, key)
}

// Satisfied drops the expectations the cached pods fulfil or that timed
// out, and reports whether none remain. When some remain, wait is how long
// until the oldest times out.
func (e *Expectations) Satisfied(key types.NamespacedName, pods []*corev1.Pod) (ok bool, wait time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sets[key]
	if s == nil {
		return true, 0
	}
	now := e.clock.Now()
	wait = e.timeout
	pending := func(since time.Time) bool {
		left := since.Add(e.timeout).Sub(now)
		if left <= 0 {
			return false
		}
		wait = min(wait, left)
		return true
	}
	byName := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		byName[p.Name] = p
	}
	var byUID map[types.UID]*corev1.Pod
	if len(s.deletes) > 0 {
		byUID = make(map[types.UID]*corev1.Pod, len(pods))
		for _, p := range pods {
			byUID[p.UID] = p
		}
	}
	for name, at := range s.creates {
		if _, seen := byName[name]; seen || !pending(at) {
			delete(s.creates, name)
		}
	}
	for uid, at := range s.deletes {
		if p, present := byUID[uid]; !present || p.DeletionTimestamp != nil || !pending(at) {
			delete(s.deletes, uid)
		}
	}
	for name, w := range s.writes {
		p, present := byName[name]
		if !present || NewerOrSame(p.ResourceVersion, w.resourceVersion) || !pending(w.at) {
			delete(s.writes, name)
		}
	}
	if len(s.creates)+len(s.deletes)+len(s.writes) == 0 {
		delete(e.sets, key)
		return true, 0
	}
	return false, wait
}

// NewerOrSame reports whether the cache's resourceVersion has caught up with
// a written one. Resource versions are opaque by contract, but every
// Kubernetes API server backed by etcd issues them as increasing integers;
// when either does not parse, only equality counts.
func NewerOrSame(cached, written string) bool {
	if cached == written {
		return true
	}
	c, err1 := strconv.ParseUint(cached, 10, 64)
	w, err2 := strconv.ParseUint(written, 10, 64)
	return err1 == nil && err2 == nil && c >= w
}
