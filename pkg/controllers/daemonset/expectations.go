package daemonset

import (
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// expectationTimeout bounds how long a pass waits for the cache to show its
// own writes; a lost event must not wedge a DaemonSet forever.
const expectationTimeout = 5 * time.Minute

// expectations remembers, per DaemonSet, the writes the pod cache has not
// reflected yet: pods created (by name, known once Create returns), pods
// deleted (by UID) and pods written (by name, with the resourceVersion the
// write returned). A pass on a cache missing its own creations would put a
// second pod on a node; one missing an in-place update would count the pod
// available and exceed maxUnavailable. Upstream's ControllerExpectations
// live in k8s.io/kubernetes, which controllers do not import, and cannot
// track pod writes; the CloneSet controller keeps its own for the same
// reason, keyed by its own objects.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	sets  map[types.NamespacedName]*expected
}

type expected struct {
	creates map[string]time.Time
	deletes map[types.UID]time.Time
	writes  map[string]written
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

func (e *expectations) expectDelete(key types.NamespacedName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).deletes[uid] = e.clock.Now()
}

func (e *expectations) expectWrite(key types.NamespacedName, pod, rv string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).writes[pod] = written{resourceVersion: rv, at: e.clock.Now()}
}

func (e *expectations) forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sets, key)
}

// satisfied drops what the cached pods fulfil or what timed out and
// reports whether nothing remains; otherwise wait is how long until the
// oldest expectation times out.
func (e *expectations) satisfied(key types.NamespacedName, pods []*corev1.Pod) (ok bool, wait time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sets[key]
	if s == nil {
		return true, 0
	}
	byName := make(map[string]*corev1.Pod, len(pods))
	byUID := make(map[types.UID]*corev1.Pod, len(pods))
	for _, p := range pods {
		byName[p.Name] = p
		byUID[p.UID] = p
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
		if !present || newerOrSame(p.ResourceVersion, w.resourceVersion) || !pending(w.at) {
			delete(s.writes, name)
		}
	}
	if len(s.creates)+len(s.deletes)+len(s.writes) == 0 {
		delete(e.sets, key)
		return true, 0
	}
	return false, wait
}

// newerOrSame reports whether the cached resourceVersion has caught up with
// a written one: etcd-backed API servers issue increasing integers; when
// either does not parse, only equality counts.
func newerOrSame(cached, written string) bool {
	if cached == written {
		return true
	}
	c, err1 := strconv.ParseUint(cached, 10, 64)
	w, err2 := strconv.ParseUint(written, 10, 64)
	return err1 == nil && err2 == nil && c >= w
}
