package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// bench is one run's phases on one cluster.
type bench struct {
	o     Options
	clk   clock.WithTicker
	con   *lab.Console
	cs    kubernetes.Interface // the admin: creates, deletes and watches
	d     *deps
	watch *bindWatch
	nodes []NodeAlloc
	// identityFlow is where the schedulers' identity's event writes land
	// in APF; nil if not measured.
	identityFlow *FlowCount
}

// phases runs kinds in order. A phase whose pods could not be deleted
// ends the run: the next scheduler would bind them and spoil its figures.
func (b *bench) phases(ctx context.Context, kinds []string) (out []PhaseInput, skipped []string, stopped string) {
	for i, kind := range kinds {
		if ctx.Err() != nil {
			skipped = append(skipped, fmt.Sprintf("phase %d (%s): interrupted", i+1, kind))
			if stopped == "" {
				stopped = fmt.Sprintf("interrupted before phase %d", i+1)
			}
			continue
		}
		p, clean := b.phase(ctx, i+1, len(kinds), kind)
		out = append(out, p)
		if p.Err != "" {
			b.con.Printf("  phase %d (%s) failed: %s", i+1, kind, lab.OneLine(p.Err, 300))
		}
		if !clean {
			for j := i + 1; j < len(kinds); j++ {
				skipped = append(skipped, fmt.Sprintf("phase %d (%s): phase %d's pods could not be deleted", j+1, kinds[j], i+1))
			}
			return out, skipped, fmt.Sprintf("phase %d's pods could not be deleted", i+1)
		}
	}
	return out, skipped, stopped
}

// phase runs one phase. clean reports whether its pods were all deleted.
func (b *bench) phase(ctx context.Context, order, total int, kind string) (p PhaseInput, clean bool) {
	p = PhaseInput{Kind: kind, Order: order, Pods: b.o.Pods, Nodes: b.nodes}
	label := fmt.Sprintf("%d-%s", order, kind)
	b.con.Printf("== phase %d/%d: %s — creating %d pods ...", order, total, kind, b.o.Pods)
	b.watch.begin(label, b.o.Pods)
	defer func() { clean = b.cleanup(ctx, label) }()

	if err := b.createPods(ctx, label, kind, order, total); err != nil {
		p.Err = fmt.Sprintf("create pods: %v", err)
		return p, clean
	}

	before := b.snapshot()
	flowsBefore, flowErr := b.scrape(ctx)
	if b.d.tally != nil {
		b.d.tally.take()
	}
	sctx, cancel := clockTimeout(ctx, b.clk, b.o.PhaseTimeout)
	defer cancel()
	p.Start = b.clk.Now()
	b.watch.markStart()
	var proc schedProcess
	var writes chan ceilingResult
	if kind == Ceiling {
		writes = make(chan ceilingResult, 1)
		pods := b.watch.podNames(label)
		c := &ceiling{client: b.d.binder, clk: b.clk, binders: b.o.Binders, events: b.o.CeilingEvents}
		go func() {
			w, err := c.bind(sctx, pods, b.nodes)
			c.drain(w)
			writes <- ceilingResult{w, err}
		}()
	} else {
		var err error
		if proc, err = b.d.start(ctx, kind, order); err != nil {
			p.Err = fmt.Sprintf("start the %s scheduler: %v", kind, err)
			return p, clean
		}
	}
	cw, err := b.waitBound(sctx, order, total, kind, proc, writes)
	b.con.EndProgress()
	p.Components = cpuDelta(before, b.snapshot())
	if proc != nil {
		p.CPUSeconds, p.RSSMaxBytes = b.usage(proc)
		p.CPUAt = b.clk.Now()
		if err == nil {
			if p.IdleCPUCores, p.IdleErr = b.measureIdle(ctx, order, total, kind, proc); p.IdleErr != nil {
				b.con.Printf("  idle window: %v", p.IdleErr)
			}
		}
		proc.Stop()
		p.CPUProfile = proc.Profile()
	}
	if flowErr == nil {
		var flowsAfter map[Flow]float64
		if flowsAfter, flowErr = b.scrape(ctx); flowErr == nil && flowsBefore != nil {
			p.Flows = flowDelta(flowsBefore, flowsAfter)
		}
	}
	if flowErr != nil {
		p.FlowsErr = flowErr.Error()
	}
	if cw != nil {
		p.Ceiling = &CeilingInput{Binds: cw.Binds, BindsDone: cw.BindsDone, PendingAtLastBind: cw.PendingAtLastBind,
			EventsDone: cw.EventsDone, EventWrites: cw.EventWrites, EventErrors: cw.EventErrors, FirstErr: cw.FirstErr}
		if b.d.tally != nil {
			p.Ceiling.Flows = named(b.d.tally.take(), b.d.names)
		}
		p.WritesDone = cw.Done()
	}
	p.Binds = b.watch.bindTimes()
	p.Placements = b.watch.placements(label)
	if err != nil {
		p.Err = err.Error()
		return p, clean
	}
	s := SummarizeBinds(p.Start, p.Binds, p.Pods, p.WritesDone)
	b.con.Printf("  all %d pods bound %ss after start (%s pods/s)", s.Bound, lab.FmtOpt(s.LastBindSeconds, "%.1f"), lab.FmtOpt(s.PodsPerSecond, "%.0f"))
	if c := p.Ceiling; c != nil && b.o.CeilingEvents {
		b.con.Printf("  %d Scheduled event writes still pending at the last binding; all returned %.2fs later", c.PendingAtLastBind, c.EventsDone.Sub(c.BindsDone).Seconds())
	}
	return p, clean
}

type ceilingResult struct {
	w   *ceilingWrites
	err error
}

// createPods creates the phase's pods and waits until the watch holds
// them all, so the scheduler under test starts against a complete,
// settled backlog.
func (b *bench) createPods(ctx context.Context, label, kind string, order, total int) error {
	ctx, cancel := clockTimeout(ctx, b.clk, b.o.PhaseTimeout)
	defer cancel()
	defer b.con.EndProgress()
	schedName := schedulerName
	if kind == Ceiling {
		schedName = ceilingSchedName
	}
	began := b.clk.Now()
	err := rig.ForEach(ctx, b.clk, b.o.Pods, b.o.CreateWorkers, func(n int) {
		b.con.Progress(fmt.Sprintf("phase %d/%d %s: created %d/%d pods", order, total, kind, n, b.o.Pods))
	}, func(ctx context.Context, i int) error {
		_, err := b.cs.CoreV1().Pods(Namespace).Create(ctx, benchPod(label, schedName, i), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create pod %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.watch.waitFor(ctx, func() bool { return b.watch.present(label) >= b.o.Pods }, nil); err != nil {
		return fmt.Errorf("the watch saw %d of %d created pods: %w", b.watch.present(label), b.o.Pods, timeoutCause(ctx))
	}
	b.con.EndProgress()
	b.con.Printf("  %d pods created in %.1fs; starting %s", b.o.Pods, b.clk.Since(began).Seconds(), kind)
	return nil
}

// waitBound waits until every pod of the phase is bound and, for the
// ceiling, every one of its writes has returned. It fails if the
// scheduler exits, the ceiling's bindings fail or ctx ends.
func (b *bench) waitBound(ctx context.Context, order, total int, kind string, proc schedProcess, writes chan ceilingResult) (*ceilingWrites, error) {
	var cw *ceilingWrites
	tick := b.clk.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	start := b.clk.Now()
	for {
		bound, el := b.watch.boundCount(), b.clk.Since(start)
		line := fmt.Sprintf("phase %d/%d %s: bound %d/%d | %.0f pods/s | %s", order, total, kind, bound, b.o.Pods,
			float64(bound)/max(el.Seconds(), 0.001), el.Round(time.Second))
		if writes != nil && bound >= b.o.Pods {
			line += " | waiting for the ceiling's event writes"
		}
		b.con.Progress(line)
		if bound >= b.o.Pods && writes == nil {
			return cw, nil
		}
		if proc != nil {
			if ev := proc.Events(); len(ev) > 0 {
				return cw, fmt.Errorf("the %s scheduler exited after %s with %d of %d pods bound: %s (see %s)", kind, el.Round(time.Second), bound, b.o.Pods, ev[0], proc.Log())
			}
		}
		select {
		case <-ctx.Done():
			if writes != nil {
				cw = (<-writes).w // the binder stops with ctx
			}
			return cw, fmt.Errorf("only %d of %d pods bound after %s: %w", bound, b.o.Pods, el.Round(time.Second), timeoutCause(ctx))
		case r := <-writes:
			cw, writes = r.w, nil
			if r.err != nil {
				return cw, fmt.Errorf("ceiling: %w (%d of %d bound)", r.err, bound, b.o.Pods)
			}
		case <-b.watch.changed:
		case <-tick.C():
		}
	}
}

// timeoutCause says whether ctx ended by --phase-timeout or from outside.
func timeoutCause(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return errors.New("--phase-timeout reached")
	}
	return ctx.Err()
}

// snapshot samples every process of the run now (adding to the rig's
// series) and returns each one's reading; nil when not sampled.
func (b *bench) snapshot() map[string]lab.ProcSample {
	if b.d.procs == nil {
		return nil
	}
	b.d.procs.SampleOnce()
	out := map[string]lab.ProcSample{}
	for name, ss := range b.d.procs.Series() {
		if len(ss) > 0 {
			out[name] = ss[len(ss)-1]
		}
	}
	return out
}

// usage is the scheduler process's CPU seconds since it started (with the
// phase) and its largest RSS in the rig's samples.
func (b *bench) usage(proc schedProcess) (*float64, *int64) {
	s, err := proc.Sample()
	if err != nil {
		return nil, nil
	}
	rss := s.RSSBytes
	if b.d.procs != nil {
		for _, x := range b.d.procs.Series()[proc.Name()] {
			if x.PID == s.PID {
				rss = max(rss, x.RSSBytes)
			}
		}
	}
	return lab.Some(s.CPUSeconds), &rss
}

func cpuDelta(before, after map[string]lab.ProcSample) map[string]float64 {
	if before == nil || after == nil {
		return nil
	}
	out := map[string]float64{}
	for name, a := range after {
		if bf, ok := before[name]; ok && bf.PID == a.PID {
			out[name] = a.CPUSeconds - bf.CPUSeconds
		}
	}
	return out
}

// scrape reads APF's dispatched requests; nil, nil when not scraped.
func (b *bench) scrape(ctx context.Context) (map[Flow]float64, error) {
	if b.d.scrape == nil {
		return nil, nil
	}
	ctx, cancel := clockTimeout(ctx, b.clk, 30*time.Second)
	defer cancel()
	return b.d.scrape(ctx)
}

// probeIdentityFlow asks the API server where a Scheduled event write of
// the schedulers' identity lands in APF: a dry-run create, which APF
// classifies as the real one and which stores nothing.
func (b *bench) probeIdentityFlow(ctx context.Context) *FlowCount {
	if b.d.tally == nil {
		return nil
	}
	b.d.tally.take()
	ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "myriad-bench-apf-probe", Namespace: Namespace},
		EventTime: metav1.NewMicroTime(b.clk.Now()), ReportingController: ceilingSchedName, ReportingInstance: ceilingSchedName,
		Action: "Binding", Reason: "Scheduled", Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: Namespace, Name: "probe"}}
	if _, err := b.d.binder.EventsV1().Events(Namespace).Create(ctx, ev, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		b.con.Printf("  could not probe the APF flow of %s's writes: %v", CeilingIdentity, err)
		return nil
	}
	flows := named(b.d.tally.take(), b.d.names)
	if len(flows) == 0 {
		return nil
	}
	return &flows[0]
}

// cleanup deletes the phase's pods and waits until the watch has seen them
// all go; false if they did not.
func (b *bench) cleanup(ctx context.Context, label string) bool {
	if ctx.Err() != nil {
		// Interrupted: the cluster is about to stop anyway.
		ctx = context.Background()
	}
	ctx, cancel := clockTimeout(ctx, b.clk, b.o.PhaseTimeout)
	defer cancel()
	defer b.con.EndProgress()
	// One DELETE per pod, in parallel: a DeleteCollection of 10^4 pods
	// outlives the request timeout.
	pods, zero := b.watch.podNames(label), int64(0)
	err := rig.ForEach(ctx, b.clk, len(pods), b.o.CreateWorkers, nil, func(ctx context.Context, i int) error {
		err := b.cs.CoreV1().Pods(Namespace).Delete(ctx, pods[i], metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", pods[i], err)
		}
		return nil
	})
	if err != nil {
		b.con.Printf("  delete pods of phase %s: %v", label, err)
		return false
	}
	err = b.watch.waitFor(ctx, func() bool { return b.watch.present(label) == 0 }, func() {
		b.con.Progress(fmt.Sprintf("deleting pods of phase %s: %d left", label, b.watch.present(label)))
	})
	if err != nil {
		b.con.Printf("  %d pods of phase %s still present: %v", b.watch.present(label), label, timeoutCause(ctx))
		return false
	}
	return true
}

// benchPod is the same pod for every phase: replicas of one workload.
func benchPod(label, schedName string, i int) *corev1.Pod {
	zero, no := int64(0), false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%s-%06d", label, i), Namespace: Namespace,
			Labels: map[string]string{phaseLabel: label, "app": "bench"}},
		Spec: corev1.PodSpec{
			SchedulerName:                 schedName,
			TerminationGracePeriodSeconds: &zero,
			AutomountServiceAccountToken:  &no,
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("100m"),
					corev1.ResourceMemory: resource.MustParse("128Mi"),
				}}}},
		},
	}
}
