package density

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// fillerKinds are the object kinds the objects phase writes, in turn.
const fillerKinds = 3

func (d *run) podsPhase(ctx context.Context) bool {
	o := d.o
	intro := fmt.Sprintf("%d Deployments of up to %d pods in %d namespaces, %s", o.Deployments, o.deploymentSize, o.Namespaces, podRateText(o.PodRate))
	return d.phase(ctx, PhasePods, intro, func(ctx context.Context) (string, error) {
		ctx, cancel := d.phaseDeadline(ctx)
		defer cancel()
		var created atomic.Int64
		createErr := make(chan error, 1)
		go func() { createErr <- d.createDeployments(ctx, &created) }()
		began := d.clk.Now()
		tick := d.clk.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			cur := d.pods.Current()
			el := d.clk.Since(began)
			// The backlog is pods that exist and are not Running yet: it
			// grows while pods are created faster than the cluster starts
			// them.
			d.con.Progress(fmt.Sprintf("pods: Running %d/%d at %s | backlog %d | asked for %d | startup p99 (last 1000) %s | %s elapsed | ETA %s",
				cur.Running, o.Pods, perSecond(cur.Running, el), cur.Pods-cur.Running, created.Load(), secondsOrDash(d.pods.RecentP99()),
				el.Round(time.Second), etaByRate(cur.Running, o.Pods, el)))
			reached := fmt.Sprintf("%d of %d pods Running", cur.Running, o.Pods)
			if cur.Running >= o.Pods {
				return reached, nil
			}
			if stalled := d.pods.Stalled(); stalled > o.StallTimeout {
				return reached, fmt.Errorf("stalled: %d pods waiting and none turned Running for %s (--stall-timeout)", cur.Pods-cur.Running, stalled.Round(time.Second))
			}
			if err := d.memoryLeft(); err != nil {
				return reached, err
			}
			select {
			case err := <-createErr:
				if err != nil {
					return reached, err
				}
			case <-ctx.Done():
				if err := context.Cause(ctx); errors.Is(err, errPhaseTimeout) {
					return reached, fmt.Errorf("%s after %s (--phase-timeout %s)", reached, el.Round(time.Second), o.PhaseTimeout)
				}
				return reached, ctx.Err()
			case <-tick.C():
			}
		}
	})
}

// createDeployments writes the Deployments one after another, each when
// the pods asked for so far fall behind --pod-rate, so pods arrive at a
// steady rate rather than as one burst.
func (d *run) createDeployments(ctx context.Context, created *atomic.Int64) error {
	o := d.o
	began := d.clk.Now()
	left := o.Pods
	for i := 0; left > 0; i++ {
		replicas := min(o.deploymentSize, left)
		if o.PodRate > 0 {
			due := began.Add(time.Duration(float64(created.Load()) / o.PodRate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-d.clk.After(due.Sub(d.clk.Now())):
			}
		}
		dep := deployment(d.id, d.namespaces[i%len(d.namespaces)], i, int32(replicas))
		if err := d.write(ctx, "POST deployments", func(ctx context.Context) error {
			_, err := d.w.AppsV1().Deployments(dep.Namespace).Create(ctx, dep, metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("create deployment %s/%s: %w", dep.Namespace, dep.Name, err)
		}
		created.Add(int64(replicas))
		left -= replicas
	}
	return nil
}

// densityDeployment is one Deployment of the pods phase: pause containers
// with small requests, so nodes fill by pod count, not by CPU.
func deployment(runID, ns string, i int, replicas int32) *appsv1.Deployment {
	zero, no := int64(0), false
	app := fmt.Sprintf("d%05d", i)
	labels := map[string]string{RunLabel: runID, "app": app}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns, Labels: map[string]string{RunLabel: runID}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &zero,
					AutomountServiceAccountToken:  &no,
					Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("16Mi"),
						}}}},
				},
			},
		},
	}
}

func (d *run) objectsPhase(ctx context.Context) bool {
	o := d.o
	intro := fmt.Sprintf("ConfigMaps, Secrets and headless Services until %d objects, %g writes/s, %d workers", o.Objects, o.QPS, o.Workers)
	return d.phase(ctx, PhaseObjects, intro, func(ctx context.Context) (string, error) {
		ctx, cancel := d.phaseDeadline(ctx)
		defer cancel()
		count, err := d.count(ctx, PhasePods)
		if err != nil {
			return "no count", err
		}
		// Objects also come and go on their own (events expire), so count
		// again after each round of writes.
		for round := 1; count < o.Objects; round++ {
			if round > 3 {
				return fmt.Sprintf("%d of %d objects", count, o.Objects), fmt.Errorf("still %d objects short after 3 rounds of writes", o.Objects-count)
			}
			if err := d.createFillers(ctx, o.Objects-count, count); err != nil {
				return fmt.Sprintf("about %d of %d objects", count+d.fillers.Load(), o.Objects), err
			}
			if count, err = d.count(ctx, PhaseObjects); err != nil {
				return "no count", err
			}
		}
		return fmt.Sprintf("%d objects (target %d)", count, o.Objects), nil
	})
}

// createFillers writes n small objects with --workers workers, paced at
// --qps; have is the count before, for the progress line.
func (d *run) createFillers(ctx context.Context, n, have int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := d.fillers.Load()
	end := start + n
	var done atomic.Int64
	var wg sync.WaitGroup
	for range d.o.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := d.fillers.Add(1) - 1
				if i >= end {
					return
				}
				if err := d.createFiller(ctx, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	began := d.clk.Now()
	tick := d.clk.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		el := d.clk.Since(began)
		k := done.Load()
		d.con.Progress(fmt.Sprintf("objects: ~%d/%d | writing %d/%d at %.0f/s | pods Running %d | %s elapsed | ETA %s",
			have+k, d.o.Objects, k, n, float64(k)/max(el.Seconds(), 0.001), d.pods.Current().Running, el.Round(time.Second), etaByRate(int(k), int(n), el)))
		if err := d.memoryLeft(); err != nil {
			cancel(err)
		}
		select {
		case <-finished:
			// Indexes handed out but not written leave no gap that
			// matters: names only need to be unique.
			d.fillers.Store(max(d.fillers.Load(), end))
			if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%d of %d objects written: %w", done.Load(), n, ctx.Err())
			}
			return nil
		case <-tick.C():
		}
	}
}

// createFiller writes filler i: a ConfigMap, a Secret or a headless
// Service without selector (no IP, no endpoints: nothing else follows
// from it), in turn, spread over the namespaces.
func (d *run) createFiller(ctx context.Context, i int64) error {
	ns := d.namespaces[int(i)%len(d.namespaces)]
	meta := metav1.ObjectMeta{Name: fmt.Sprintf("f%08d", i), Namespace: ns, Labels: map[string]string{RunLabel: d.id}}
	switch i % fillerKinds {
	case 0:
		cm := &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"config": fmt.Sprintf("key=%d\nmode=density\n", i)}}
		return d.write(ctx, "POST configmaps", func(ctx context.Context) error {
			_, err := d.w.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			return err
		})
	case 1:
		s := &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"token": []byte(fmt.Sprintf("%032x", i))}}
		return d.write(ctx, "POST secrets", func(ctx context.Context) error {
			_, err := d.w.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
			return err
		})
	default:
		svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		return d.write(ctx, "POST services", func(ctx context.Context) error {
			_, err := d.w.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
			return err
		})
	}
}

// write paces and times one write, retrying what the API server asks to
// retry (throttling, timeouts, unavailability); AlreadyExists means an
// earlier attempt got through.
func (d *run) write(ctx context.Context, call string, f func(context.Context) error) error {
	var err error
	for attempt := range 5 {
		if err = d.writes.Wait(ctx); err != nil {
			return err
		}
		err = d.calls.Time(call, func() error { return f(ctx) })
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.clk.After(time.Duration(200<<attempt) * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool {
	var ne net.Error
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || errors.As(err, &ne)
}

// perSecond is done's average rate over elapsed, "-" before a second.
func perSecond(done int, elapsed time.Duration) string {
	if elapsed < time.Second {
		return "-"
	}
	return fmt.Sprintf("%.0f/s", float64(done)/elapsed.Seconds())
}

// etaByRate extrapolates the rate so far to the rest.
func etaByRate(done, total int, elapsed time.Duration) string {
	if done <= 0 || done >= total {
		return "-"
	}
	return (time.Duration(float64(elapsed) / float64(done) * float64(total-done))).Round(time.Second).String()
}

func secondsOrDash(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2fs", v)
}

func podRateText(r float64) string {
	if r == 0 {
		return "all at once"
	}
	return fmt.Sprintf("%g pods/s", r)
}

// lastVerbP99 is the last interval's p99 of each verb, e.g. "p99 GET 4ms
// PATCH 12ms".
func lastVerbP99(points []lab.APIPoint) string {
	if len(points) == 0 {
		return "p99 -"
	}
	last := points[len(points)-1].VerbP99
	var b strings.Builder
	b.WriteString("p99")
	for _, verb := range []string{"GET", "LIST", "POST", "PUT", "PATCH", "DELETE"} {
		if v, ok := last[verb]; ok {
			fmt.Fprintf(&b, " %s %.0fms", verb, v*1000)
		}
	}
	return b.String()
}

func parameters(o Options, id string) map[string]string {
	mode := o.Rig.OwnCluster() + ", data in " + o.Rig.DataDir
	if o.Rig.Kubeconfig != "" {
		mode = "existing cluster (--kubeconfig " + o.Rig.Kubeconfig + ")"
	}
	return map[string]string{
		"nodes":              strconv.Itoa(o.Rig.Nodes),
		"pods":               strconv.Itoa(o.Pods),
		"objects":            strconv.FormatInt(o.Objects, 10),
		"deployments":        fmt.Sprintf("%d of up to %d replicas", o.Deployments, o.deploymentSize),
		"namespaces":         strconv.Itoa(o.Namespaces),
		"pod":                "1 pause container, requests cpu 10m / memory 16Mi, no service account token",
		"podRate":            podRateText(o.PodRate),
		"objectWrites":       fmt.Sprintf("%g/s, %d workers: ConfigMaps, Secrets, headless Services in turn", o.QPS, o.Workers),
		"hold":               o.Hold.String(),
		"cluster":            mode,
		"writer":             writerText(o),
		"apiservers":         strconv.Itoa(o.Rig.APIServers),
		"phaseTimeout":       o.PhaseTimeout.String(),
		"stallTimeout":       o.StallTimeout.String(),
		"probeInterval":      o.ProbeInterval.String(),
		"scrapeInterval":     o.Rig.ScrapeInterval.String(),
		"sampleInterval":     o.Rig.SampleInterval.String(),
		"minAvailableMemory": o.MinAvailableMemory,
		"runID":              id,
		"command":            strings.Join(os.Args, " "),
	}
}

// errPhaseTimeout ends a phase that took longer than --phase-timeout.
var errPhaseTimeout = errors.New("the phase took longer than --phase-timeout")

// phaseDeadline is ctx ending after --phase-timeout on the run's clock,
// with errPhaseTimeout as its cause.
func (d *run) phaseDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	timeout := d.clk.After(d.o.PhaseTimeout)
	go func() {
		select {
		case <-ctx.Done():
		case <-timeout:
			cancel(fmt.Errorf("%w (%s)", errPhaseTimeout, d.o.PhaseTimeout))
		}
	}()
	return ctx, func() { cancel(nil) }
}

func writerText(o Options) string {
	switch {
	case o.Rig.Attached():
		return "the --kubeconfig identity"
	case o.Writer == WriterUser:
		return rig.WriterUser + ", an ordinary user (API Priority and Fairness: global-default)"
	default:
		return "the super-admin (system:masters, exempt from API Priority and Fairness)"
	}
}
