package broadcastjob

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// expectationTimeout bounds how long a pass waits for its own writes to
// reach the cache; after it the job is planned from the cache as it is (a
// lost watch event must not stall a job forever, and deterministic pod
// names make acting twice harmless).
const expectationTimeout = 30 * time.Second

// expectations remember, per job, the pods a pass created or deleted until
// the cache shows them, so the next pass does not plan from a cache that
// has not caught up with this controller's own writes.
type expectations struct {
	clock clock.Clock
	mu    sync.Mutex
	jobs  map[types.NamespacedName]*expected
}

type expected struct {
	created map[string]bool    // pod names
	deleted map[types.UID]bool // pod UIDs
	since   time.Time
}

func newExpectations(clk clock.Clock) *expectations {
	return &expectations{clock: clk, jobs: map[types.NamespacedName]*expected{}}
}

func (e *expectations) get(key types.NamespacedName) *expected {
	x := e.jobs[key]
	if x == nil {
		x = &expected{created: map[string]bool{}, deleted: map[types.UID]bool{}}
		e.jobs[key] = x
	}
	x.since = e.clock.Now()
	return x
}

func (e *expectations) created(key types.NamespacedName, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).created[name] = true
}

func (e *expectations) deleted(key types.NamespacedName, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).deleted[uid] = true
}

// satisfied reports whether the cached pods show every expected write; if
// not, how long to wait before looking again.
func (e *expectations) satisfied(key types.NamespacedName, pods []*corev1.Pod) (bool, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.jobs[key]
	if x == nil {
		return true, 0
	}
	if e.clock.Since(x.since) >= expectationTimeout {
		delete(e.jobs, key)
		return true, 0
	}
	seen := make(map[string]bool, len(pods))
	live := make(map[types.UID]bool, len(pods))
	for _, p := range pods {
		seen[p.Name] = true
		if p.DeletionTimestamp == nil {
			live[p.UID] = true
		}
	}
	for name := range x.created {
		if !seen[name] {
			return false, time.Second
		}
	}
	for uid := range x.deleted {
		if live[uid] {
			return false, time.Second
		}
	}
	delete(e.jobs, key)
	return true, 0
}

// forget drops a deleted job's expectations.
func (e *expectations) forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.jobs, key)
}
