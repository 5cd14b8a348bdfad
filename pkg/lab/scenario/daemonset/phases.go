package daemonset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
)

func (x *run) newFollow() *follow {
	return &follow{pods: lab.NewWorkloadPods(container, x.env.Clock), cov: lab.NewCoverage(x.env.Clock, lab.PodNode)}
}

func (x *run) followOf(kind string) *follow {
	if kind == UpstreamCreate || kind == Upstream {
		return x.up
	}
	return x.adv
}

// byName watches only the run's DaemonSet.
var byName = fields.OneTermEqualSelector("metadata.name", agentName)

// watchAdvanced starts the Advanced DaemonSet's pod and object watches and
// returns once both have synced.
func (x *run) watchAdvanced(ctx context.Context, f *follow) error {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			l := &v1beta1.DaemonSetList{}
			return l, x.c.List(ctx, l, &client.ListOptions{Raw: &opts, Namespace: x.ns, FieldSelector: byName})
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return x.c.Watch(ctx, &v1beta1.DaemonSetList{}, &client.ListOptions{Raw: &opts, Namespace: x.ns, FieldSelector: byName})
		},
	}
	status := func(obj any) (lab.WorkloadStatus, bool) {
		if ds, ok := obj.(*v1beta1.DaemonSet); ok && ds.Name == agentName {
			return statusView(ds.Generation, ds.Status.ObservedGeneration, ds.Status.DesiredNumberScheduled,
				ds.Status.NumberReady, ds.Status.UpdatedNumberScheduled, ds.Status.NumberAvailable), true
		}
		return lab.WorkloadStatus{}, false
	}
	return f.pods.Watch(ctx, x.bgCtx, &x.bg, lab.WorkloadWatch{Client: x.cs, Namespace: x.ns,
		Selector: labels.Set{agentLabel: advancedRole}.String(), Workload: lw, Object: &v1beta1.DaemonSet{},
		Status: status, Kind: "Advanced DaemonSet", Pods: f.cov})
}

// watchUpstream starts the upstream DaemonSet's pod and object watches and
// returns once both have synced.
func (x *run) watchUpstream(ctx context.Context, f *follow) error {
	lw := cache.NewFilteredListWatchFromClient(x.cs.AppsV1().RESTClient(), "daemonsets", x.ns,
		func(o *metav1.ListOptions) { o.FieldSelector = byName.String() })
	status := func(obj any) (lab.WorkloadStatus, bool) {
		if ds, ok := obj.(*appsv1.DaemonSet); ok && ds.Name == agentName {
			return statusView(ds.Generation, ds.Status.ObservedGeneration, ds.Status.DesiredNumberScheduled,
				ds.Status.NumberReady, ds.Status.UpdatedNumberScheduled, ds.Status.NumberAvailable), true
		}
		return lab.WorkloadStatus{}, false
	}
	return f.pods.Watch(ctx, x.bgCtx, &x.bg, lab.WorkloadWatch{Client: x.cs, Namespace: x.ns,
		Selector: labels.Set{agentLabel: upstreamRole}.String(), Workload: lw, Object: &appsv1.DaemonSet{},
		Status: status, Kind: "DaemonSet", Pods: f.cov})
}

// statusView is a DaemonSet's status (both kinds name it alike) as a
// workload's: the phase is done when desired = ready = updated = available
// = the nodes, for the phase's generation.
func statusView(gen, observed int64, desired, ready, updated, available int32) lab.WorkloadStatus {
	return lab.WorkloadStatus{Generation: gen, ObservedGeneration: observed,
		Replicas: desired, ReadyReplicas: ready, UpdatedReplicas: updated, UpdatedReady: available}
}

// phase runs one phase: the write, then the wait until the pods and the
// DaemonSet's status say it is done, measured on both sides.
func (x *run) phase(ctx context.Context, order, total int, kind string) (PhaseInput, error) {
	f := x.followOf(kind)
	image := x.o.image(kind)
	p := PhaseInput{Kind: kind, Image: image}
	nodes, err := x.r.ReadyNodeNames(ctx)
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	p.Want = len(nodes)
	what := map[string]string{
		Create:         "an Advanced DaemonSet's agent " + image + " on every node",
		InPlace:        "the agent's image to " + image + ", rollingUpdateType InPlaceIfPossible",
		Recreate:       "the agent's image to " + image + ", rollingUpdateType Standard (recreating the pods)",
		UpstreamCreate: "an upstream DaemonSet's agent " + image + " on every node",
		Upstream:       "the upstream DaemonSet's agent image to " + image + ", RollingUpdate",
	}[kind]
	if rollout(kind) {
		what += ", maxUnavailable " + x.o.MaxUnavailable
	}
	x.con.Printf("== phase %d/%d: %s — %s (%d nodes)", order, total, kind, what, len(nodes))
	b := x.open(ctx)
	p.Start, err = x.write(ctx, kind, f, image, nodes)
	if err == nil {
		err = f.pods.Wait(ctx, x.env.Clock, x.con, fmt.Sprintf("phase %d/%d %s", order, total, kind),
			len(nodes), p.Start, x.o.PhaseTimeout)
	}
	p.End = x.env.Clock.Now()
	x.con.EndProgress()
	if err != nil {
		p.NotUpdated, p.Uncovered = f.pods.NotUpdated(10), f.cov.Uncovered(10)
	}
	p.Pods, p.Coverage = f.pods.End(), f.cov.End()
	p.Meter = x.close(ctx, b)
	if err != nil {
		if len(p.NotUpdated) > 0 {
			err = fmt.Errorf("%w; agents not updated, e.g. %s", err, strings.Join(p.NotUpdated[:min(3, len(p.NotUpdated))], "; "))
		}
		p.Err = err.Error()
		return p, err
	}
	d := p.Pods.DoneAt.Sub(p.Start).Seconds()
	x.con.Printf("  done in %.1fs (%.0f pods/s): %d pods recreated, at most %d nodes without a ready agent",
		d, float64(p.Want)/max(d, 1e-9), p.Pods.Recreated, p.Coverage.MaxWithout)
	return p, nil
}

// write makes the phase's change and returns when the phase began: the
// trackers' phase begins just before the write.
func (x *run) write(ctx context.Context, kind string, f *follow, image string, nodes []string) (time.Time, error) {
	begin := func(gen int64) time.Time {
		f.cov.Begin(nodes)
		return f.pods.Begin(image, len(nodes), gen)
	}
	switch kind {
	case Create:
		start := begin(1)
		if err := x.c.Create(ctx, advancedDaemonSet(x.ns, image, x.mu)); err != nil {
			return start, fmt.Errorf("create Advanced DaemonSet %s/%s: %w", x.ns, agentName, err)
		}
		return start, nil
	case UpstreamCreate:
		start := begin(1)
		if _, err := x.cs.AppsV1().DaemonSets(x.ns).Create(ctx, upstreamDaemonSet(x.ns, image, x.mu), metav1.CreateOptions{}); err != nil {
			return start, fmt.Errorf("create DaemonSet %s/%s: %w", x.ns, agentName, err)
		}
		return start, nil
	}
	start, err := lab.UpdateBegun(x.env.Clock, begin, func(began func(gen int64)) error {
		if kind == Upstream {
			ds, err := x.cs.AppsV1().DaemonSets(x.ns).Get(ctx, agentName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			ds.Spec.Template.Spec.Containers[0].Image = image
			began(ds.Generation)
			_, err = x.cs.AppsV1().DaemonSets(x.ns).Update(ctx, ds, metav1.UpdateOptions{})
			return err
		}
		ds := &v1beta1.DaemonSet{}
		if err := x.c.Get(ctx, client.ObjectKey{Namespace: x.ns, Name: agentName}, ds); err != nil {
			return err
		}
		ds.Spec.Template.Spec.Containers[0].Image = image
		ru := ds.Spec.UpdateStrategy.RollingUpdate
		if ru == nil {
			return errors.New("the Advanced DaemonSet has no updateStrategy.rollingUpdate")
		}
		ru.Type = v1beta1.InplaceRollingUpdateType
		if kind == Recreate {
			ru.Type = v1beta1.StandardRollingUpdateType
		}
		began(ds.Generation)
		return x.c.Update(ctx, ds)
	})
	if err != nil {
		which := "Advanced DaemonSet"
		if kind == Upstream {
			which = "DaemonSet"
		}
		return start, fmt.Errorf("update %s %s/%s: %w", which, x.ns, agentName, err)
	}
	return start, nil
}

// handOver clears the nodes for the upstream phases: it deletes the
// Advanced DaemonSet, waits (at most --phase-timeout) until its agents
// are gone, so that the upstream DaemonSet starts on the same empty nodes,
// and starts the upstream DaemonSet's watches.
func (x *run) handOver(ctx context.Context) error {
	x.con.Printf("deleting the Advanced DaemonSet and waiting for its agents to go before the upstream phases")
	ds := &v1beta1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: x.ns, Name: agentName}}
	if err := x.c.Delete(ctx, ds, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		return fmt.Errorf("delete Advanced DaemonSet %s/%s: %w", x.ns, agentName, err)
	}
	secs, err := x.adv.pods.WaitGone(ctx, x.env.Clock, x.con, "the Advanced DaemonSet's agents", x.o.PhaseTimeout)
	if err != nil {
		return err
	}
	x.in.HandOverSeconds = lab.Some(secs)
	x.up = x.newFollow()
	return x.watchUpstream(ctx, x.up)
}
