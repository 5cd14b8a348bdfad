package cloneset

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// watch starts the pod informer and the CloneSet watch that decide when a
// phase is done, and returns once both have synced.
func (x *run) watch(ctx context.Context) error {
	x.pods = NewPods(container, x.env.Clock)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			l := &v1alpha1.CloneSetList{}
			return l, x.c.List(ctx, l, client.InNamespace(x.ns), &client.ListOptions{Raw: &opts})
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return x.c.Watch(ctx, &v1alpha1.CloneSetList{}, client.InNamespace(x.ns), &client.ListOptions{Raw: &opts})
		},
	}
	status := func(obj any) (StatusView, bool) {
		cs, ok := obj.(*v1alpha1.CloneSet)
		if !ok || cs.Name != cloneSetName {
			return StatusView{}, false
		}
		s := cs.Status
		return StatusView{Generation: cs.Generation, ObservedGeneration: s.ObservedGeneration,
			Replicas: s.Replicas, ReadyReplicas: s.ReadyReplicas, UpdatedReplicas: s.UpdatedReplicas, UpdatedReady: s.UpdatedReadyReplicas}, true
	}
	return x.pods.Watch(ctx, x.bgCtx, &x.bg, lab.WorkloadWatch{Client: x.cs, Namespace: x.ns,
		Workload: lw, Object: &v1alpha1.CloneSet{}, Status: status, Kind: "CloneSet"})
}

// phase runs one phase: the write, then the wait until the pods and the
// status say it is done, with API and manager counters and process
// samples taken on both sides.
func (x *run) phase(ctx context.Context, i, total int, kind string) (PhaseInput, error) {
	clk := x.env.Clock
	image := x.o.Images[i]
	p := PhaseInput{Kind: kind, Image: image, Want: x.o.Pods}
	what := fmt.Sprintf("creating a CloneSet of %d pods running %s", x.o.Pods, image)
	if kind != Scale {
		what = fmt.Sprintf("changing the image of %d pods to %s", x.o.Pods, image)
	}
	x.con.Printf("== phase %d/%d: %s — %s", i+1, total, kind, what)
	before := x.snapshot(ctx)
	machineFrom, machineErr := lab.ReadMachineCPU("")
	p.ProcFrom, _ = x.r.SampleNow()
	var err error
	p.Start, err = x.write(ctx, kind, image)
	p.WriteSeconds = clk.Since(p.Start).Seconds()
	if err == nil {
		err = x.wait(ctx, i+1, total, kind, p.Start)
	}
	p.End = clk.Now()
	x.con.EndProgress()
	p.Pods = x.pods.End()
	_, p.ProcTo = x.r.SampleNow()
	if machineTo, err := lab.ReadMachineCPU(""); err == nil && machineErr == nil {
		p.MachineCPUSeconds = ptr.To(machineTo - machineFrom)
	}
	p.API, p.Manager = x.snapshot(ctx).Since(before)
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	d := p.Pods.DoneAt.Sub(p.Start)
	x.con.Printf("  done in %.1fs (%.0f pods/s): %d pods recreated, %d restarted in place, at most %d unavailable",
		d.Seconds(), float64(x.o.Pods)/max(d.Seconds(), 1e-9), p.Pods.Recreated, p.Pods.RestartedInPlace, p.Pods.MaxUnavailable)
	return p, nil
}

// write makes the phase's change and returns when it was sent: the
// tracker's phase begins just before the request that changes the spec.
func (x *run) write(ctx context.Context, kind, image string) (time.Time, error) {
	var start time.Time
	if kind == Scale {
		cs := x.cloneSet(image)
		start = x.pods.Begin(image, x.o.Pods, 1)
		if err := x.c.Create(ctx, cs); err != nil {
			return start, fmt.Errorf("create CloneSet %s/%s: %w", x.ns, cloneSetName, err)
		}
		return start, nil
	}
	typ := v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType
	if kind == Recreate {
		typ = v1alpha1.RecreateCloneSetUpdateStrategyType
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cs := &v1alpha1.CloneSet{}
		if err := x.c.Get(ctx, client.ObjectKey{Namespace: x.ns, Name: cloneSetName}, cs); err != nil {
			return err
		}
		cs.Spec.UpdateStrategy.Type = typ
		cs.Spec.Template.Spec.Containers[0].Image = image
		if start.IsZero() {
			// Generation only grows, so any status of at least the next one
			// has seen this change.
			start = x.pods.Begin(image, x.o.Pods, cs.Generation+1)
		}
		return x.c.Update(ctx, cs)
	})
	if start.IsZero() {
		start = x.env.Clock.Now()
	}
	if err != nil {
		return start, fmt.Errorf("update CloneSet %s/%s: %w", x.ns, cloneSetName, err)
	}
	return start, nil
}

// cloneSet is the benchmark's CloneSet: small requests so that --pods fit,
// updated in place when only its image changes.
func (x *run) cloneSet(image string) *v1alpha1.CloneSet {
	labels := map[string]string{"app": "myriad-bench-cloneset"}
	mu, _, _ := lab.MaxUnavailable("--max-unavailable", x.o.MaxUnavailable, x.o.Pods)
	return &v1alpha1.CloneSet{
		ObjectMeta: metav1.ObjectMeta{Name: cloneSetName, Namespace: x.ns},
		Spec: v1alpha1.CloneSetSpec{
			Replicas: ptr.To(int32(x.o.Pods)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					Containers: []corev1.Container{{Name: container, Image: image,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("16Mi"),
						}}}},
				},
			},
			UpdateStrategy: v1alpha1.CloneSetUpdateStrategy{Type: v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, MaxUnavailable: &mu},
		},
	}
}

// wait waits until the phase is done (lab.WorkloadPods.Wait).
func (x *run) wait(ctx context.Context, order, total int, kind string, start time.Time) error {
	return x.pods.Wait(ctx, x.env.Clock, x.con, fmt.Sprintf("phase %d/%d %s", order, total, kind), x.o.Pods, start, x.o.PhaseTimeout)
}

// snapshot scrapes the API servers and the manager at a phase boundary.
func (x *run) snapshot(ctx context.Context) rig.Snapshot {
	s, errs := x.meters.Snapshot(ctx, lab.ManagerCounters)
	x.in.ScrapeErrors = append(x.in.ScrapeErrors, errs...)
	return s
}
