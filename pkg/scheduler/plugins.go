package scheduler

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// Plugins decide what the core leaves to kube-scheduler's own plugins
// (volumes, dynamic resources), for the pods that need them; package
// kubeplugins implements it with kube-scheduler's framework. The runtime
// sees only this interface, so it builds and tests without
// k8s.io/kubernetes.
type Plugins interface {
	// Wants reports whether pod needs the plugins at all: pods they do not
	// want never pay for them.
	Wants(pod *v1.Pod) bool
	// PreFilter begins an attempt for pod. A *core.FitError means the pod
	// fits no node of numNodes for the plugins' reasons (an unbound
	// immediate claim, a missing claim): preempting cannot help.
	PreFilter(ctx context.Context, pod *v1.Pod, numNodes int) (Cycle, error)
	// Delegated reports whether an extended resource is served by Dynamic
	// Resource Allocation (a DeviceClass names it) on nodes that have none
	// in allocatable: the core's resource fit then skips it there
	// (core.Scheduler.SetDelegated). Called with the core's lock held.
	Delegated(name v1.ResourceName) bool
	// HasSynced reports whether the plugins' own event handlers have seen
	// their informers' initial lists (the extended resource cache, say):
	// the scheduler decides nothing before.
	HasSynced() bool
}

// Cycle is one attempt's plugin state, from PreFilter to PreBind or
// Unreserve. Check and Score run in the decision loop under the core's
// lock (they are core.External's); Reserve right after the core assumes
// the pod; PreBind and Unreserve on a binder.
type Cycle interface {
	// Check and Without are core.External's: nominated are the pods
	// nominated to n that the pod must leave room for.
	Check(n *core.NodeInfo, nominated []*v1.Pod) []string
	// Without is Check with the given pods gone: the victims preemption
	// weighs on n.
	Without(n *core.NodeInfo, gone, nominated []*v1.Pod) []string
	Score(cands []*core.NodeInfo) []int64
	// Reserve claims what the chosen node needs in the plugins' caches
	// (volumes to bind, devices to allocate), so the next decision sees it.
	Reserve(ctx context.Context, node string) error
	// PreBind writes it (claims annotated and bound, devices allocated)
	// before the pod's Binding, waiting as kube-scheduler does.
	PreBind(ctx context.Context, node string) error
	// Unreserve undoes Reserve and what PreBind did not finish.
	Unreserve(ctx context.Context, node string)
	// PostFilter runs after an attempt found no node: it frees what an
	// earlier attempt left that now stands in the pod's way (a claim
	// allocated for a node that no longer fits, the extended-resource
	// claim of a failed binding), as kube's DynamicResources PostFilter
	// does. It may write to the API, so it runs on a binder.
	PostFilter(ctx context.Context)
}

// PluginDeps is what a Plugins implementation is built from: the
// scheduler's own client and informers (shared, so nothing is watched
// twice) and Changed, to call when an object the plugins read changes
// (claims, volumes, classes, devices), so that pods parked for their
// reasons are retried.
type PluginDeps struct {
	Client        kubernetes.Interface
	Factory       informers.SharedInformerFactory
	Recorder      events.EventRecorderLogger
	SchedulerName string
	Changed       func()
	// ResourcesChanged: which extended resources the plugins serve may
	// have changed (a DeviceClass event), so any parked pod may fit.
	ResourcesChanged func()
}

// PluginsFunc builds the plugins when the scheduler runs, before its
// informers start.
type PluginsFunc func(ctx context.Context, deps PluginDeps) (Plugins, error)
