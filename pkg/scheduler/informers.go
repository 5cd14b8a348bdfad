package scheduler

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// handle subscribes h to inf. Scheduling waits until h has been handed
// every object of inf's first list, not only until inf has listed them:
// handlers run behind the informer, and a core that has seen 4,000 of
// 10,000 nodes would place the first pods on those alone.
func (s *Scheduler) handle(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) error {
	reg, err := inf.AddEventHandler(h)
	if err != nil {
		return err
	}
	s.synced = append(s.synced, reg.HasSynced)
	return nil
}

// addHandlers subscribes to nodes, pods, namespaces, the objects whose
// selectors default topology spreading reads and (for preemption)
// PodDisruptionBudgets. Handlers run on the informers' own goroutines and
// only touch the core (one mutex) and the queue (one mutex): no goroutine
// per object, no API calls.
func (s *Scheduler) addHandlers() error {
	nodes := s.factory.Core().V1().Nodes().Informer()
	pods := s.factory.Core().V1().Pods()
	nss := s.factory.Core().V1().Namespaces().Informer()
	s.pods = pods.Lister()

	if err := s.handle(nodes, cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.core.UpdateNode(obj.(*v1.Node))
			s.queue.Event(eventNodeChange)
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*v1.Node), newObj.(*v1.Node)
			s.core.UpdateNode(cur)
			// Heartbeats and conditions change often and never make a pod
			// fit; only what the filters read wakes parked pods.
			if nodeSchedulingChanged(old, cur) {
				s.queue.Event(eventNodeChange)
			}
		},
		// A node going away wakes no parked pod: it frees nothing a pod
		// could use elsewhere. (A spread domain vanishing can, rarely;
		// maxParked retries those.)
		DeleteFunc: func(obj any) {
			if n, ok := unwrap[*v1.Node](obj); ok {
				s.core.RemoveNode(n.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("node handler: %w", err)
	}

	if err := s.handle(pods.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPod(nil, obj.(*v1.Pod)) },
		UpdateFunc: func(oldObj, newObj any) { s.onPod(oldObj.(*v1.Pod), newObj.(*v1.Pod)) },
		DeleteFunc: func(obj any) {
			if p, ok := unwrap[*v1.Pod](obj); ok {
				s.queue.Delete(p)
				s.core.ClearNomination(p)
				if p.Spec.NodeName != "" {
					s.core.RemovePod(p)
					s.queue.Event(eventPodGone)
				}
			}
		},
	}); err != nil {
		return fmt.Errorf("pod handler: %w", err)
	}

	if err := s.handle(nss, cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { s.core.SetNamespace(obj.(*v1.Namespace)) },
		UpdateFunc: func(oldObj, newObj any) {
			if !labels.Equals(oldObj.(*v1.Namespace).Labels, newObj.(*v1.Namespace).Labels) {
				s.core.SetNamespace(newObj.(*v1.Namespace))
				s.queue.Event(eventNodeChange)
			}
		},
		// A deleted namespace has no pods left to match selectors, so
		// its stale labels are harmless until a namespace of that name
		// is created again, which SetNamespace then overwrites.
	}); err != nil {
		return fmt.Errorf("namespace handler: %w", err)
	}

	if err := s.addWorkloadHandlers(); err != nil {
		return err
	}

	if s.cfg.DisablePreemption {
		return nil
	}
	pdbs := s.factory.Policy().V1().PodDisruptionBudgets().Informer()
	// Budgets only steer the choice of victims: no queue event needed.
	if err := s.handle(pdbs, cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.core.UpdatePDB(obj.(*policyv1.PodDisruptionBudget)) },
		UpdateFunc: func(_, newObj any) { s.core.UpdatePDB(newObj.(*policyv1.PodDisruptionBudget)) },
		DeleteFunc: func(obj any) {
			if b, ok := unwrap[*policyv1.PodDisruptionBudget](obj); ok {
				s.core.RemovePDB(b)
			}
		},
	}); err != nil {
		return fmt.Errorf("poddisruptionbudget handler: %w", err)
	}
	return nil
}

// addWorkloadHandlers feeds the core the selectors of Services,
// ReplicationControllers, ReplicaSets and StatefulSets: kube's
// system-default topology spreading groups a pod with the pods they select.
// They only steer scores, never feasibility, so no event wakes parked pods,
// and updates that keep the selector (status, scale) are not passed on.
func (s *Scheduler) addWorkloadHandlers() error {
	svcs := s.factory.Core().V1().Services().Informer()
	rcs := s.factory.Core().V1().ReplicationControllers().Informer()
	rss := s.factory.Apps().V1().ReplicaSets().Informer()
	sss := s.factory.Apps().V1().StatefulSets().Informer()
	for _, inf := range []cache.SharedIndexInformer{rcs, rss, sss} {
		if err := inf.SetTransform(stripPodTemplate); err != nil {
			return fmt.Errorf("controller informer transform: %w", err)
		}
	}
	c := s.core
	for _, err := range []error{
		onSelector(s, svcs, func(o *v1.Service) any { return o.Spec.Selector }, c.UpdateService, c.RemoveService),
		onSelector(s, rcs, func(o *v1.ReplicationController) any { return o.Spec.Selector }, c.UpdateReplicationController, c.RemoveReplicationController),
		onSelector(s, rss, func(o *appsv1.ReplicaSet) any { return o.Spec.Selector }, c.UpdateReplicaSet, c.RemoveReplicaSet),
		onSelector(s, sss, func(o *appsv1.StatefulSet) any { return o.Spec.Selector }, c.UpdateStatefulSet, c.RemoveStatefulSet),
	} {
		if err != nil {
			return fmt.Errorf("workload handler: %w", err)
		}
	}
	return nil
}

// onSelector passes one kind of selecting object to the core: adds and
// deletes, and updates only when selector(obj) changed.
func onSelector[T any](s *Scheduler, inf cache.SharedIndexInformer, selector func(T) any, update, remove func(T)) error {
	return s.handle(inf, cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if t, ok := obj.(T); ok {
				update(t)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(T)
			n, ok2 := newObj.(T)
			if ok1 && ok2 && !equality.Semantic.DeepEqual(selector(o), selector(n)) {
				update(n)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := unwrap[T](obj); ok {
				remove(t)
			}
		},
	})
}

// onPod routes a pod event: bound pods feed the snapshot (confirming any
// assumption), pending pods of this scheduler feed the queue.
func (s *Scheduler) onPod(old, pod *v1.Pod) {
	switch {
	case pod.Spec.NodeName != "" && terminal(pod):
		if old == nil || !terminal(old) {
			s.core.RemovePod(pod)
			s.queue.Event(eventPodGone)
		}
	case pod.Spec.NodeName != "":
		if old == nil || old.Spec.NodeName == "" {
			s.queue.Delete(pod) // bound, by us or anyone
			s.core.ClearNomination(pod)
		}
		// Status updates (Pending -> Running, readiness) would only bump
		// the node's generation and flush the caches for nothing; a start
		// time only orders preemption victims, so it is swapped in place.
		if old != nil && !boundPodChanged(old, pod) {
			if old.Status.StartTime == nil && pod.Status.StartTime != nil {
				s.core.RefreshPod(pod)
			}
			return
		}
		if err := s.core.AddPod(pod); err != nil {
			return
		}
		if old == nil || old.Spec.NodeName == "" {
			s.queue.Event(eventPodBound)
		} else {
			// A bound pod changed (labels, resize, termination): it may
			// have freed something as well as taken it.
			s.queue.Event(eventPodBound | eventPodGone)
		}
	case s.pending(pod) && pod.DeletionTimestamp == nil:
		s.syncNomination(old, pod)
		s.queue.Add(pod)
	default:
		s.queue.Delete(pod) // handed to another scheduler, or being deleted
		s.core.ClearNomination(pod)
	}
}

// syncNomination mirrors a pending pod's status.nominatedNodeName into the
// core, so that room stays reserved across a restart or a failover to the
// standby. Only a nomination that disappears from the status is cleared:
// an update that never had one may predate the core's own fresher
// nomination (the patch writing it is still in flight).
func (s *Scheduler) syncNomination(old, pod *v1.Pod) {
	switch {
	case pod.Status.NominatedNodeName != "":
		s.core.Nominate(pod, pod.Status.NominatedNodeName)
	case old != nil && old.Status.NominatedNodeName != "":
		s.core.ClearNomination(pod)
	}
}

// pending: this scheduler's pod, not yet bound, not finished.
func (s *Scheduler) pending(pod *v1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.Spec.SchedulerName == s.cfg.SchedulerName && !terminal(pod)
}

func terminal(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

// boundPodChanged reports a change of a bound pod that the filters read:
// its node, labels (affinity, spread), resources (in-place resize), or
// the start of its termination (spread no longer counts it; preemption
// waits for it).
func boundPodChanged(old, cur *v1.Pod) bool {
	if old.Spec.NodeName != cur.Spec.NodeName || !labels.Equals(old.Labels, cur.Labels) || podSpecChanged(old, cur) ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) {
		return true
	}
	if len(old.Status.ContainerStatuses) != len(cur.Status.ContainerStatuses) {
		return core.StatusReportsResources(old) || core.StatusReportsResources(cur)
	}
	for i := range old.Status.ContainerStatuses {
		a, b := old.Status.ContainerStatuses[i], cur.Status.ContainerStatuses[i]
		if !equality.Semantic.DeepEqual(a.AllocatedResources, b.AllocatedResources) || !equality.Semantic.DeepEqual(a.Resources, b.Resources) {
			return true
		}
	}
	return false
}

// podSpecChanged: the parts of a pod that scheduling reads changed
// (containers, affinity, tolerations, gates...). Status is not compared.
func podSpecChanged(old, cur *v1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, cur.Spec) || !labels.Equals(old.Labels, cur.Labels)
}

func nodeSchedulingChanged(a, b *v1.Node) bool {
	return a.Spec.Unschedulable != b.Spec.Unschedulable || !labels.Equals(a.Labels, b.Labels) ||
		!equality.Semantic.DeepEqual(a.Spec.Taints, b.Spec.Taints) ||
		!equality.Semantic.DeepEqual(a.Status.Allocatable, b.Status.Allocatable)
}

// unwrap returns the object of a delete event, which may be a tombstone
// when the watch missed the deletion.
func unwrap[T any](obj any) (T, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	t, ok := obj.(T)
	return t, ok
}

// stripPodTemplate keeps of a controller only what the scheduler reads,
// its selector: the pod template is most of the object, and a large
// cluster has tens of thousands of ReplicaSets (old revisions included).
func stripPodTemplate(obj any) (any, error) {
	switch o := obj.(type) {
	case *v1.ReplicationController:
		o.Spec.Template = nil
	case *appsv1.ReplicaSet:
		o.Spec.Template = v1.PodTemplateSpec{}
	case *appsv1.StatefulSet:
		o.Spec.Template = v1.PodTemplateSpec{}
		o.Spec.VolumeClaimTemplates = nil
	}
	return stripManagedFields(obj)
}

func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
