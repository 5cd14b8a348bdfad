package nodesim

import (
	"hash/fnv"
	"sync"
	"time"
)

// The kubelet learns what its containers do from the PLEG, which relists
// the runtime every second (genericPlegRelistPeriod, fixed in kubelets),
// and a pod worker syncs a pod only with a relist newer than the end of its
// previous sync (pod_workers.go: "this adds ~1s of latency on all
// transitions"). Two transitions show that latency in ways users and
// OpenKruise's own end-to-end specs observe, and the simulator models them:
//
//   - a container with a postStart hook is reported running at the first
//     relist after the hook returns: the sync that ran the hook ended then;
//   - an in-place restart (a new image, or the node agent's restart for a
//     changed environment) happens at the first relist after the kubelet
//     saw the change: the sync that reported the pod's last change has
//     just ended, so the next waits for the next relist.
//
// Everything else the simulator reports as soon as it happens, so benches
// keep measuring the control plane, not the kubelet's polling.
const relistPeriod = time.Second

// relistPhase is where in the second a node's relists fall: kubelets start
// at arbitrary times, so nodes do not all relist at once.
func relistPhase(node string) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(node))
	return time.Duration(h.Sum32()) % relistPeriod
}

// nextRelist is the node's first relist strictly after t.
func (e podEnv) nextRelist(t time.Time) time.Time {
	since := t.Sub(time.Unix(0, 0).Add(e.relistPhase))
	return t.Add(relistPeriod - ((since%relistPeriod)+relistPeriod)%relistPeriod)
}

// restarts remembers, per container run, when its node's kubelet first saw
// that the run must be restarted in place, which is when the restart is
// due (restartDue). Entries live from that sighting to the restart, or to
// the pod's deletion: a handful at a time, however many pods there are.
type restarts struct{ due sync.Map } // container ID → time.Time

// restartDue is when the in-place restart of run id, seen at now, happens:
// the node's first relist after the first sighting.
func (e podEnv) restartDue(id string) time.Time {
	if e.restarts == nil || id == "" {
		return e.now
	}
	at, _ := e.restarts.due.LoadOrStore(id, e.nextRelist(e.now))
	return at.(time.Time)
}

// forget drops run id's sighting once it restarted or its pod went.
func (r *restarts) forget(id string) {
	if r != nil {
		r.due.Delete(id)
	}
}
