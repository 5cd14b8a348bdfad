package sidecarset

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// policyTimeout bounds the wait for SidecarSets' policies to be in force
// (or gone) before a phase.
const policyTimeout = 3 * time.Minute

// maxExamples caps the failures a phase names; result.json has the count.
const maxExamples = 5

// createPhase is one creation phase: sets SidecarSets created and in
// force, then P pods created and checked, then (untimed by the phase)
// the pods and SidecarSets deleted.
func (x *run) createPhase(ctx context.Context, order, total, sets int) (CreateInput, error) {
	p := CreateInput{SidecarSets: sets, Want: x.o.Pods}
	x.con.Printf("== phase %d/%d: create %d pods with %s selecting them", order, total, x.o.Pods, setsN(sets))
	names, err := x.createSets(ctx, sets)
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	waitFrom := x.env.Clock.Now()
	if err := x.waitInForce(ctx, sets); err != nil {
		p.Err = err.Error()
		return p, err
	}
	p.PolicyWaitSeconds = x.env.Clock.Since(waitFrom).Seconds()
	b := x.open(ctx)
	p.Start = x.env.Clock.Now()
	err = x.createPods(ctx, order, total, sets, &p)
	p.End = x.env.Clock.Now()
	x.con.EndProgress()
	p.Meter = x.close(ctx, b)
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	d := p.End.Sub(p.Start).Seconds()
	x.con.Printf("  %d pods in %.1fs (%.0f pods/s), %d create errors, %d pods with the wrong sidecars", p.Created, d, float64(p.Created)/max(d, 1e-9), p.Errors, p.Wrong)
	del := x.env.Clock.Now()
	if err := x.deletePods(ctx); err != nil {
		p.Err = err.Error()
		return p, err
	}
	p.DeleteSeconds = x.env.Clock.Since(del).Seconds()
	if err := x.deleteSets(ctx, names); err != nil {
		p.Err = err.Error()
		return p, err
	}
	return p, nil
}

// createSets creates the phase's SidecarSets: one selecting every
// creation pod, or one per bucket.
func (x *run) createSets(ctx context.Context, sets int) ([]string, error) {
	var out []*v1beta1.SidecarSet
	switch sets {
	case 0:
	case 1:
		out = append(out, x.sidecarSet(x.setName("all"), roleCreate, "", sidecarName, x.o.Images[1], v1beta1.NotUpdateSidecarSetStrategyType))
	default:
		for b := range sets {
			out = append(out, x.sidecarSet(x.setName("bucket-"+bucketName(b)), roleCreate, bucketName(b), sidecarName+"-"+bucketName(b), x.o.Images[1], v1beta1.NotUpdateSidecarSetStrategyType))
		}
	}
	names := make([]string, len(out))
	err := rig.ForEach(ctx, x.env.Clock, len(out), 8, nil, func(ctx context.Context, i int) error {
		if err := x.c.Create(ctx, out[i]); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create SidecarSet %s: %w", out[i].Name, err)
		}
		names[i] = out[i].Name
		return nil
	})
	x.setsMu.Lock()
	for _, n := range names {
		if n != "" {
			x.sets[n] = true
		}
	}
	x.setsMu.Unlock()
	return names, err
}

// deleteSets deletes the phase's SidecarSets (their policies and bindings
// go with them, owned).
func (x *run) deleteSets(ctx context.Context, names []string) error {
	return rig.ForEach(ctx, x.env.Clock, len(names), 8, nil, func(ctx context.Context, i int) error {
		err := x.c.Delete(ctx, &v1beta1.SidecarSet{ObjectMeta: metav1.ObjectMeta{Name: names[i]}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete SidecarSet %s: %w", names[i], err)
		}
		x.forget(names[i])
		return nil
	})
}

func (x *run) forget(name string) {
	x.setsMu.Lock()
	defer x.setsMu.Unlock()
	delete(x.sets, name)
}

// waitInForce returns once a dry-run pod of every bucket gets exactly the
// sidecars the phase's sets SidecarSets give it: the controller applies
// policies asynchronously and the API server loads them from a watch, so
// a phase times nothing before that. It also waits out the policies of
// the phase before, whose SidecarSets were just deleted.
func (x *run) waitInForce(ctx context.Context, sets int) error {
	pending := map[int]bool{}
	for b := range x.o.SidecarSets {
		pending[b] = true
	}
	return x.poll(ctx, time.Second, func(ctx context.Context) (string, error) {
		why := ""
		for b := range pending {
			probe := x.createPod(b)
			probe.Name = "probe-" + bucketName(b)
			if w := x.probe(ctx, probe, expected(bucketName(b), sets, x.o.Images[1]), x.expectedSets(b, sets)); w != "" {
				why = w
				continue
			}
			delete(pending, b)
		}
		if len(pending) == 0 {
			return "", nil
		}
		x.con.Progress(fmt.Sprintf("waiting for the policies of %s: %d of %d probe pods not yet as expected", setsN(sets), len(pending), x.o.SidecarSets))
		return fmt.Sprintf("the policies of %s were not in force: %d of %d dry-run probe pods were not injected as expected, e.g. %s", setsN(sets), len(pending), x.o.SidecarSets, why), nil
	})
}

// probe creates pod with dryRun (admission runs, nothing is stored) and
// says what is wrong with the sidecars it got, "" when they are want.
func (x *run) probe(ctx context.Context, pod *corev1.Pod, want []sidecar, wantSets []string) string {
	got, err := x.cs.CoreV1().Pods(x.ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return err.Error()
	}
	return checkInjected(got, want, wantSets)
}

// poll calls check every interval until it finds nothing left to wait for
// (""), fails, ctx ends, or policyTimeout passes; the timeout's error is
// the last check's finding. Written out rather than wait.Poll… because
// the scenario's time comes from its injected clock.
func (x *run) poll(ctx context.Context, interval time.Duration, check func(context.Context) (string, error)) error {
	clk := x.env.Clock
	deadline := clk.Now().Add(policyTimeout)
	tick := clk.NewTicker(interval)
	defer tick.Stop()
	defer x.con.EndProgress()
	for {
		why, err := check(ctx)
		switch {
		case err != nil:
			return err
		case why == "":
			return nil
		case clk.Now().After(deadline):
			return fmt.Errorf("after %s: %s", policyTimeout, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C():
		}
	}
}

// expectedSets are the SidecarSet names a creation pod of bucket b should
// list as injected.
func (x *run) expectedSets(b, sets int) []string {
	switch sets {
	case 0:
		return nil
	case 1:
		return []string{x.setName("all")}
	}
	return []string{x.setName("bucket-" + bucketName(b))}
}

// createPods creates P pods at --concurrency, timing each request and
// checking the pod the API server returned (admission done) for its
// sidecars.
func (x *run) createPods(ctx context.Context, order, total, sets int, p *CreateInput) error {
	clk := x.env.Clock
	lat := make([]float64, x.o.Pods)
	ok := make([]bool, x.o.Pods)
	var mu sync.Mutex
	var errs, wrong atomic.Int64
	note := func(list *[]string, s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(*list) < maxExamples {
			*list = append(*list, s)
		}
	}
	start := clk.Now()
	progress := func(n int) {
		el := clk.Since(start)
		rate := float64(n) / max(el.Seconds(), 0.001)
		eta := "-"
		if n > 0 && n < x.o.Pods {
			eta = time.Duration(float64(x.o.Pods-n) / rate * float64(time.Second)).Round(time.Second).String()
		}
		x.con.Progress(fmt.Sprintf("phase %d/%d create, %s: %d/%d pods | %.0f pods/s | errors %d | wrong sidecars %d | %s | ETA %s",
			order, total, setsN(sets), n, x.o.Pods, rate, errs.Load(), wrong.Load(), el.Round(time.Second), eta))
	}
	err := rig.ForEach(ctx, clk, x.o.Pods, x.o.Concurrency, progress, func(ctx context.Context, i int) error {
		pod := x.createPod(i)
		t := clk.Now()
		got, err := x.cs.CoreV1().Pods(x.ns).Create(ctx, pod, metav1.CreateOptions{})
		lat[i] = clk.Since(t).Seconds()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs.Add(1)
			note(&p.ErrorExamples, fmt.Sprintf("%s: %v", pod.Name, err))
			return nil
		}
		ok[i] = true
		b := i % x.o.SidecarSets
		if why := checkInjected(got, expected(bucketName(b), sets, x.o.Images[1]), x.expectedSets(b, sets)); why != "" {
			wrong.Add(1)
			note(&p.WrongExamples, why)
		}
		return nil
	})
	for i, done := range ok {
		if done {
			p.LatencySeconds = append(p.LatencySeconds, lat[i])
		}
	}
	p.Created, p.Errors, p.Wrong = len(p.LatencySeconds), int(errs.Load()), int(wrong.Load())
	if err != nil {
		return fmt.Errorf("creating pods stopped after %d: %w", p.Created, err)
	}
	return nil
}

// deletePods deletes the creation pods, one DELETE each at --concurrency
// (a DeleteCollection of 10^4 pods outlives the API server's request
// timeout), and waits until they are gone (never scheduled, they go at
// once).
func (x *run) deletePods(ctx context.Context) error {
	sel := metav1.ListOptions{LabelSelector: roleLabel + "=" + roleCreate}
	zero := int64(0)
	err := rig.ForEach(ctx, x.env.Clock, x.o.Pods, x.o.Concurrency, nil, func(ctx context.Context, i int) error {
		name := x.createPod(i).Name
		if err := x.cs.CoreV1().Pods(x.ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete the phase's pods: %w", err)
	}
	return x.poll(ctx, 500*time.Millisecond, func(ctx context.Context) (string, error) {
		l, err := x.cs.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{LabelSelector: sel.LabelSelector, Limit: 1})
		if err != nil {
			return "", fmt.Errorf("list the phase's pods: %w", err)
		}
		left := len(l.Items) + int(ptr.Deref(l.RemainingItemCount, 0))
		if left == 0 {
			return "", nil
		}
		x.con.Progress(fmt.Sprintf("deleting the phase's pods: %d left", left))
		return fmt.Sprintf("%d of the phase's pods were not gone", left), nil
	})
}
