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
}

// Cycle is one attempt's plugin state, from PreFilter to PreBind or
// Unreserve. Check and Score run in the decision loop under the core's
// lock (they are core.External's); Reserve right after the core assumes
// the pod; PreBind and Unreserve on a binder.
type Cycle interface {
	Check(n *core.NodeInfo) []string
	// Without is Check with the given pods gone: the victims preemption
	// weighs on n.
	Without(n *core.NodeInfo, gone []*v1.Pod) []string
	Score(cands []*core.NodeInfo) []int64
	// Reserve claims what the chosen node needs in the plugins' caches
	// (volumes to bind, devices to allocate), so the next decision sees it.
	Reserve(ctx context.Context, node string) error
	// PreBind writes it (claims annotated and bound, devices allocated)
	// before the pod's Binding, waiting as kube-scheduler does.
	PreBind(ctx context.Context, node string) error
	// Unreserve undoes Reserve and what PreBind did not finish.
	Unreserve(ctx context.Context, node string)
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
}

// PluginsFunc builds the plugins when the scheduler runs, before its
// informers start.
type PluginsFunc func(ctx context.Context, deps PluginDeps) (Plugins, error)
