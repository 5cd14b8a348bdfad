package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// watch follows the Leases in kube-system and the workloads' ReplicaSets
// and pods with informers, and stamps the running round's steps on the
// injected clock as they are first seen.
type watch struct {
	clk             clock.WithTicker
	lease, rs, pods cache.SharedIndexInformer

	mu    sync.Mutex
	round *RoundInput
	// what the running round waits for: its component and workload.
	sp       spec
	replicas int32
}

func startWatch(ctx, wctx context.Context, cs kubernetes.Interface, clk clock.WithTicker, ns string) (*watch, error) {
	w := &watch{clk: clk}
	lf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("kube-system"))
	nf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	w.lease, w.rs, w.pods = lf.Coordination().V1().Leases().Informer(), nf.Apps().V1().ReplicaSets().Informer(), nf.Core().V1().Pods().Informer()
	for inf, fn := range map[cache.SharedIndexInformer]func(any){w.lease: w.onLease, w.rs: w.onReplicaSet, w.pods: w.onPod} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: fn, UpdateFunc: func(_, o any) { fn(o) }}); err != nil {
			return nil, err
		}
	}
	lf.Start(wctx.Done())
	nf.Start(wctx.Done())
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), w.lease.HasSynced, w.rs.HasSynced, w.pods.HasSynced) {
		return nil, errors.New("the bench's watches did not sync within 2m")
	}
	return w, nil
}

// begin starts stamping r for component sp's workload.
func (w *watch) begin(r *RoundInput, sp spec) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.round, w.sp, w.replicas = r, sp, int32(r.Replicas)
}

// end stops stamping and returns the round as recorded.
func (w *watch) end() RoundInput {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := *w.round
	w.round = nil
	return r
}

func (w *watch) set(f func(*RoundInput)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.round != nil {
		f(w.round)
	}
}

// setFor is set for round r only: a late report of one round must not
// land in the next.
func (w *watch) setFor(r *RoundInput, f func(*RoundInput)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.round == r {
		f(r)
	}
}

// stamp sets the step at points to now if it is unset and a round runs.
func (w *watch) stamp(at func(*RoundInput) **time.Time) {
	now := w.clk.Now()
	w.set(func(r *RoundInput) {
		if p := at(r); *p == nil {
			*p = &now
		}
	})
}

func (w *watch) onLease(obj any) {
	l, ok := obj.(*coordinationv1.Lease)
	if !ok || l.Spec.HolderIdentity == nil {
		return
	}
	holder := *l.Spec.HolderIdentity
	now := w.clk.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.round
	if r == nil || l.Name != w.sp.lease || r.LeaseTaken != nil || holder == "" || holder == r.OldHolder || !r.Killed {
		return
	}
	r.LeaseTaken, r.NewHolder = &now, holder
	if l.Spec.AcquireTime != nil {
		t := l.Spec.AcquireTime.Time
		r.LeaseAcquireTime = &t
	}
}

func (w *watch) onReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok || rs.Spec.Replicas == nil {
		return
	}
	w.mu.Lock()
	mine := w.round != nil && w.sp.workload == workDeployment && w.sp.name == "kube-controller-manager" && *rs.Spec.Replicas == w.replicas
	w.mu.Unlock()
	if mine {
		w.stamp(func(r *RoundInput) **time.Time { return &r.FirstWork })
	}
}

func (w *watch) onPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.DeletionTimestamp != nil {
		return
	}
	w.mu.Lock()
	sp, running := w.sp, w.round != nil
	w.mu.Unlock()
	if !running || p.Labels["app"] != appLabel(sp.workload) {
		return
	}
	w.stamp(func(r *RoundInput) **time.Time { return &r.FirstPod })
	if sp.workload == workCloneSet {
		w.stamp(func(r *RoundInput) **time.Time { return &r.FirstWork })
	}
	if p.Spec.NodeName != "" {
		w.stamp(func(r *RoundInput) **time.Time { return &r.FirstBound })
		if sp.name == "kube-scheduler" || sp.name == "myriad-scheduler" {
			w.stamp(func(r *RoundInput) **time.Time { return &r.FirstWork })
		}
	}
}

// counts are the workload's live pods, bound and Running, in the cache.
func (w *watch) counts(workload string) (pods, bound, running int) {
	for _, obj := range w.pods.GetStore().List() {
		p := obj.(*corev1.Pod)
		if p.DeletionTimestamp != nil || p.Labels["app"] != appLabel(workload) {
			continue
		}
		pods++
		if p.Spec.NodeName != "" {
			bound++
		}
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	return pods, bound, running
}

// waitAllRunning waits until the round's replicas run and stamps it.
func (w *watch) waitAllRunning(ctx context.Context, workload string, want int, progress func(string)) error {
	t := w.clk.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	start := w.clk.Now()
	for {
		pods, bound, running := w.counts(workload)
		if running >= want {
			w.stamp(func(r *RoundInput) **time.Time { return &r.AllRunning })
			return nil
		}
		progress(fmt.Sprintf("%s | %d pods, %d bound, %d of %d Running", w.clk.Since(start).Round(100*time.Millisecond), pods, bound, running, want))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d pods Running after %s: %w", running, want, w.clk.Since(start).Round(time.Second), ctx.Err())
		case <-t.C():
		}
	}
}

// waitNoPods waits until the workload's pods are gone.
func (w *watch) waitNoPods(ctx context.Context, workload string, progress func(int)) error {
	t := w.clk.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		n := 0
		for _, obj := range w.pods.GetStore().List() {
			if obj.(*corev1.Pod).Labels["app"] == appLabel(workload) {
				n++
			}
		}
		progress(n)
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still present: %w", n, ctx.Err())
		case <-t.C():
		}
	}
}

// holder is the Lease's holder and when it last renewed.
func (w *watch) holder(lease string) (holder string, renewed time.Time, duration *float64) {
	obj, ok, _ := w.lease.GetStore().GetByKey("kube-system/" + lease)
	if !ok {
		return "", time.Time{}, nil
	}
	l := obj.(*coordinationv1.Lease)
	if l.Spec.HolderIdentity != nil && l.Spec.RenewTime != nil {
		holder, renewed = *l.Spec.HolderIdentity, l.Spec.RenewTime.Time
	}
	if l.Spec.LeaseDurationSeconds != nil {
		v := float64(*l.Spec.LeaseDurationSeconds)
		duration = &v
	}
	return holder, renewed, duration
}
