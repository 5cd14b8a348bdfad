package sidecarset

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// Upgrade phase kinds, in order: the Deployment rolled out with its
// sidecar injected (setup, timed for reference), the sidecar's image
// upgraded in place, and the same change rolled by recreating the pods.
const (
	Deploy   = "deploy"
	InPlace  = lab.RolloutInPlace
	Recreate = lab.RolloutRecreate
)

var upgradeKinds = []string{Deploy, InPlace, Recreate}

// upgradeSetName is the upgrade phases' SidecarSet, without the run's
// prefix.
const upgradeSetName = "upgrade"

// upgrades runs the upgrade phases, numbered from first+1.
func (x *run) upgrades(ctx context.Context, first, total int) error {
	name := x.setName(upgradeSetName)
	ss := x.sidecarSet(name, roleUpgrade, "", sidecarName, x.o.Images[1], v1beta1.RollingUpdateSidecarSetStrategyType)
	if err := x.c.Create(ctx, ss); err != nil {
		x.skipFrom(first, total, first)
		return fmt.Errorf("create SidecarSet %s: %w", name, err)
	}
	x.setsMu.Lock()
	x.sets[name] = true
	x.setsMu.Unlock()
	if err := x.waitImageInForce(ctx, x.o.Images[1]); err != nil {
		x.skipFrom(first, total, first)
		return err
	}
	if err := x.watch(ctx, name); err != nil {
		x.skipFrom(first, total, first)
		return err
	}
	images := map[string]string{Deploy: x.o.Images[1], InPlace: x.o.Images[2], Recreate: x.o.Images[3]}
	for i, kind := range upgradeKinds {
		order := first + i + 1
		p, err := x.upgradePhase(ctx, order, total, kind, images[kind])
		x.in.Upgrades = append(x.in.Upgrades, p)
		switch {
		case err != nil && kind == InPlace && ctx.Err() == nil:
			// The recreation does not depend on how far the in-place
			// upgrade got (it replaces every pod): run it, so that a
			// failed in-place upgrade still leaves its baseline measured.
			// The verdict says the in-place phase did not finish.
			x.con.Printf("  %s; going on with the recreation", lab.OneLine(err.Error(), 200))
		case err != nil:
			x.skipFrom(order, total, order)
			return fmt.Errorf("phase %d (%s): %w", order, kind, err)
		}
		x.pods.Settle(ctx, x.env.Clock, x.con)
	}
	return nil
}

// watch starts the pod informer (the Deployment's pods) and the SidecarSet
// watch that decide when an upgrade phase is done, and returns once both
// have synced.
func (x *run) watch(ctx context.Context, setName string) error {
	x.pods = lab.NewWorkloadPods(sidecarName, x.env.Clock)
	byName := fields.OneTermEqualSelector("metadata.name", setName)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			l := &v1beta1.SidecarSetList{}
			return l, x.c.List(ctx, l, &client.ListOptions{Raw: &opts, FieldSelector: byName})
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return x.c.Watch(ctx, &v1beta1.SidecarSetList{}, &client.ListOptions{Raw: &opts, FieldSelector: byName})
		},
	}
	status := func(obj any) (lab.WorkloadStatus, bool) {
		if ss, ok := obj.(*v1beta1.SidecarSet); ok && ss.Name == setName {
			return statusView(ss), true
		}
		return lab.WorkloadStatus{}, false
	}
	return x.pods.Watch(ctx, x.bgCtx, &x.bg, lab.WorkloadWatch{Client: x.cs, Namespace: x.ns, Selector: roleLabel + "=" + roleUpgrade,
		Workload: lw, Object: &v1beta1.SidecarSet{}, Status: status, Kind: "SidecarSet"})
}

// statusView is the SidecarSet's status as a workload's: its matched pods
// are the replicas. The phase is done when updatedPods = updatedReadyPods
// = readyPods = matchedPods = P for the phase's generation.
func statusView(ss *v1beta1.SidecarSet) lab.WorkloadStatus {
	s := ss.Status
	return lab.WorkloadStatus{Generation: ss.Generation, ObservedGeneration: s.ObservedGeneration,
		Replicas: s.MatchedPods, ReadyReplicas: s.ReadyPods, UpdatedReplicas: s.UpdatedPods, UpdatedReady: s.UpdatedReadyPods}
}

// upgradePhase runs one upgrade phase: the write, then the wait until the
// pods and the SidecarSet's status say it is done, measured on both sides.
func (x *run) upgradePhase(ctx context.Context, order, total int, kind, image string) (UpgradeInput, error) {
	p := UpgradeInput{Kind: kind, Image: image, Want: x.o.Pods}
	what := map[string]string{
		Deploy:   fmt.Sprintf("a Deployment of %d pods, each injected with the sidecar %s", x.o.Pods, image),
		InPlace:  fmt.Sprintf("the SidecarSet's sidecar image to %s, upgraded in place (RollingUpdate)", image),
		Recreate: fmt.Sprintf("the SidecarSet's sidecar image to %s with NotUpdate, then the Deployment rolled to recreate every pod", image),
	}[kind]
	x.con.Printf("== phase %d/%d: %s — %s", order, total, kind, what)
	b := x.open(ctx)
	var err error
	p.Start, err = x.upgradeWrite(ctx, kind, image)
	p.WriteSeconds = x.env.Clock.Since(p.Start).Seconds()
	if err == nil {
		err = x.wait(ctx, order, total, kind, p.Start)
	}
	p.End = x.env.Clock.Now()
	x.con.EndProgress()
	if err != nil {
		p.NotUpdated = x.pods.NotUpdated(10)
	}
	p.Pods = x.pods.End()
	p.Meter = x.close(ctx, b)
	if err != nil {
		if len(p.NotUpdated) > 0 {
			err = fmt.Errorf("%w; pods not updated, e.g. %s", err, strings.Join(p.NotUpdated[:min(3, len(p.NotUpdated))], "; "))
		}
		p.Err = err.Error()
		return p, err
	}
	d := p.Pods.DoneAt.Sub(p.Start)
	if kind == Deploy {
		// Every pod is missing at a Deployment's start: no unavailability
		// to speak of.
		x.con.Printf("  done in %.1fs (%.0f pods/s)", d.Seconds(), float64(x.o.Pods)/max(d.Seconds(), 1e-9))
		return p, nil
	}
	x.con.Printf("  done in %.1fs (%.0f pods/s): %d pods recreated, %d sidecars restarted in place, at most %d unavailable",
		d.Seconds(), float64(x.o.Pods)/max(d.Seconds(), 1e-9), p.Pods.Recreated, p.Pods.RestartedInPlace, p.Pods.MaxUnavailable)
	return p, nil
}

// upgradeWrite makes the phase's change and returns when the phase began:
// the tracker's phase begins just before the first write.
func (x *run) upgradeWrite(ctx context.Context, kind, image string) (time.Time, error) {
	if kind == Deploy {
		gen, err := x.setGeneration(ctx)
		if err != nil {
			return x.env.Clock.Now(), err
		}
		start := x.pods.Begin(image, x.o.Pods, gen)
		if _, err := x.cs.AppsV1().Deployments(x.ns).Create(ctx, x.deployment(), metav1.CreateOptions{}); err != nil {
			return start, fmt.Errorf("create Deployment %s/%s: %w", x.ns, deploymentName, err)
		}
		return start, nil
	}
	var start time.Time
	name := x.setName(upgradeSetName)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ss := &v1beta1.SidecarSet{}
		if err := x.c.Get(ctx, client.ObjectKey{Name: name}, ss); err != nil {
			return err
		}
		ss.Spec.Containers[0].Image = image
		if kind == Recreate {
			ss.Spec.UpdateStrategy.Type = v1beta1.NotUpdateSidecarSetStrategyType
			ss.Spec.UpdateStrategy.MaxUnavailable = nil
		}
		if start.IsZero() {
			// Generation only grows, so any status of at least the next
			// one has seen this change.
			start = x.pods.Begin(image, x.o.Pods, ss.Generation+1)
		}
		return x.c.Update(ctx, ss)
	})
	if start.IsZero() {
		start = x.env.Clock.Now()
	}
	if err != nil {
		return start, fmt.Errorf("update SidecarSet %s: %w", name, err)
	}
	if kind != Recreate {
		return start, nil
	}
	// The rollout users must make: a template change, so that every pod
	// is recreated and meets the new policy at admission. The new policy
	// must be in force first, or new pods would get the old image.
	if err := x.waitImageInForce(ctx, image); err != nil {
		return start, err
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartAnno, x.env.Clock.Now().UTC().Format(time.RFC3339Nano))
	if _, err := x.cs.AppsV1().Deployments(x.ns).Patch(ctx, deploymentName, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return start, fmt.Errorf("roll Deployment %s/%s: %w", x.ns, deploymentName, err)
	}
	return start, nil
}

// waitImageInForce returns once a dry-run pod of the Deployment's gets
// the sidecar at image (in the recreate phase, part of its time: a user
// waits too).
func (x *run) waitImageInForce(ctx context.Context, image string) error {
	d := x.deployment()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe-upgrade", Namespace: x.ns, Labels: d.Spec.Template.Labels}, Spec: d.Spec.Template.Spec}
	return x.poll(ctx, 200*time.Millisecond, func(ctx context.Context) (string, error) {
		if why := x.probe(ctx, pod, []sidecar{{sidecarName, image}}, []string{x.setName(upgradeSetName)}); why != "" {
			x.con.Progress("waiting for new pods to get the sidecar " + image)
			return "new pods did not get the sidecar " + image + ": " + why, nil
		}
		return "", nil
	})
}

func (x *run) setGeneration(ctx context.Context) (int64, error) {
	ss := &v1beta1.SidecarSet{}
	if err := x.c.Get(ctx, client.ObjectKey{Name: x.setName(upgradeSetName)}, ss); err != nil {
		return 0, fmt.Errorf("get SidecarSet: %w", err)
	}
	return ss.Generation, nil
}

// wait waits until the phase is done (lab.WorkloadPods.Wait).
func (x *run) wait(ctx context.Context, order, total int, kind string, start time.Time) error {
	return x.pods.Wait(ctx, x.env.Clock, x.con, fmt.Sprintf("phase %d/%d %s", order, total, kind), x.o.Pods, start, x.o.PhaseTimeout)
}
