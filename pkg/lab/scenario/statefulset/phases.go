package statefulset

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
	return &follow{pods: lab.NewWorkloadPods(container, x.env.Clock), cov: lab.NewCoverage(x.env.Clock, lab.PodName)}
}

func (x *run) followOf(kind string) *follow {
	if lab.IsUpstream(kind) {
		return x.up
	}
	return x.adv
}

// byName watches only the run's StatefulSet.
var byName = fields.OneTermEqualSelector("metadata.name", setName)

// watch starts the pod and object watches of the StatefulSet of role and
// returns once both have synced.
func (x *run) watch(ctx context.Context, f *follow, role string) error {
	w := lab.WorkloadWatch{Client: x.cs, Namespace: x.ns, Selector: labels.Set{roleLabel: role}.String(), Pods: f.cov}
	if role == advancedRole {
		w.Workload = &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				l := &v1beta1.StatefulSetList{}
				return l, x.c.List(ctx, l, &client.ListOptions{Raw: &opts, Namespace: x.ns, FieldSelector: byName})
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return x.c.Watch(ctx, &v1beta1.StatefulSetList{}, &client.ListOptions{Raw: &opts, Namespace: x.ns, FieldSelector: byName})
			},
		}
		w.Object, w.Kind, w.Status = &v1beta1.StatefulSet{}, "Advanced StatefulSet", advancedStatus
	} else {
		w.Workload = cache.NewFilteredListWatchFromClient(x.cs.AppsV1().RESTClient(), "statefulsets", x.ns,
			func(o *metav1.ListOptions) { o.FieldSelector = byName.String() })
		w.Object, w.Kind, w.Status = &appsv1.StatefulSet{}, "StatefulSet", upstreamStatus
	}
	return f.pods.Watch(ctx, x.bgCtx, &x.bg, w)
}

// advancedStatus is the Advanced StatefulSet's status as a workload's:
// a phase is done when replicas = ready = updated = updatedReady.
func advancedStatus(obj any) (lab.WorkloadStatus, bool) {
	s, ok := obj.(*v1beta1.StatefulSet)
	if !ok || s.Name != setName {
		return lab.WorkloadStatus{}, false
	}
	st := s.Status
	return lab.WorkloadStatus{Generation: s.Generation, ObservedGeneration: st.ObservedGeneration, Replicas: st.Replicas,
		ReadyReplicas: st.ReadyReplicas, UpdatedReplicas: st.UpdatedReplicas, UpdatedReady: st.UpdatedReadyReplicas}, true
}

// upstreamStatus is the apps/v1 StatefulSet's status as a workload's. It
// reports no updated-and-ready count: once every replica is at the update
// revision (updatedReplicas = replicas), its ready ones are.
func upstreamStatus(obj any) (lab.WorkloadStatus, bool) {
	s, ok := obj.(*appsv1.StatefulSet)
	if !ok || s.Name != setName {
		return lab.WorkloadStatus{}, false
	}
	st := s.Status
	var updatedReady int32
	if st.UpdatedReplicas == st.Replicas && st.UpdateRevision == st.CurrentRevision {
		updatedReady = st.ReadyReplicas
	}
	return lab.WorkloadStatus{Generation: s.Generation, ObservedGeneration: st.ObservedGeneration, Replicas: st.Replicas,
		ReadyReplicas: st.ReadyReplicas, UpdatedReplicas: st.UpdatedReplicas, UpdatedReady: updatedReady}, true
}

// phase runs one phase: the write, then the wait until the pods and the
// StatefulSet's status say it is done, measured on both sides.
func (x *run) phase(ctx context.Context, order, total int, kind string) (PhaseInput, error) {
	f := x.followOf(kind)
	image := x.o.image(kind)
	p := PhaseInput{Kind: kind, Image: image, Want: x.o.Replicas}
	what := map[string]string{
		Create:         "an Advanced StatefulSet of " + image + ", Parallel, podUpdatePolicy InPlaceIfPossible",
		InPlace:        "its image to " + image + ", podUpdatePolicy InPlaceIfPossible",
		Recreate:       "its image to " + image + ", podUpdatePolicy ReCreate (recreating the pods)",
		UpstreamCreate: "an upstream StatefulSet of " + image + ", Parallel",
		Upstream:       "the upstream StatefulSet's image to " + image + ", RollingUpdate by kube-controller-manager",
	}[kind]
	if rollout(kind) {
		what += ", maxUnavailable " + x.o.MaxUnavailable
		if kind == Upstream && x.in.UpstreamMaxUnavailable != "" && x.in.UpstreamMaxUnavailable != x.o.MaxUnavailable {
			what += " asked, " + x.in.UpstreamMaxUnavailable + " kept"
		}
	}
	x.con.Printf("== phase %d/%d: %s — %s (%d pods)", order, total, kind, what, p.Want)
	b := x.meters.Open(ctx)
	var err error
	p.Start, err = x.write(ctx, kind, f, image)
	if err == nil {
		err = f.pods.Wait(ctx, x.env.Clock, x.con, fmt.Sprintf("phase %d/%d %s", order, total, kind), p.Want, p.Start, x.o.PhaseTimeout)
	}
	p.End = x.env.Clock.Now()
	x.con.EndProgress()
	if err != nil {
		p.NotUpdated, p.Unavailable = f.pods.NotUpdated(10), f.cov.Uncovered(10)
	}
	p.Pods, p.Coverage = f.pods.End(), f.cov.End()
	p.Meter = x.meters.Close(ctx, b)
	if kind == UpstreamCreate && err == nil {
		err = x.checkUpstreamBudget(ctx)
	}
	if err != nil {
		if len(p.NotUpdated) > 0 {
			err = fmt.Errorf("%w; pods not updated, e.g. %s", err, strings.Join(p.NotUpdated[:min(3, len(p.NotUpdated))], "; "))
		}
		p.Err = err.Error()
		return p, err
	}
	d := p.Pods.DoneAt.Sub(p.Start).Seconds()
	x.con.Printf("  done in %.1fs (%.0f pods/s): %d pods recreated, at most %d unavailable at once",
		d, float64(p.Want)/max(d, 1e-9), p.Pods.Recreated, p.Coverage.MaxWithout)
	return p, nil
}

// write makes the phase's change and returns when the phase began: the
// trackers' phase begins just before the write.
func (x *run) write(ctx context.Context, kind string, f *follow, image string) (time.Time, error) {
	begin := func(gen int64) time.Time {
		f.cov.Begin(podNames(x.o.Replicas))
		return f.pods.Begin(image, x.o.Replicas, gen)
	}
	switch kind {
	case Create:
		start := begin(1)
		if err := x.c.Create(ctx, advancedStatefulSet(x.ns, image, x.o.Replicas, x.mu)); err != nil {
			return start, fmt.Errorf("create Advanced StatefulSet %s/%s: %w", x.ns, setName, err)
		}
		return start, nil
	case UpstreamCreate:
		start := begin(1)
		if _, err := x.cs.AppsV1().StatefulSets(x.ns).Create(ctx, upstreamStatefulSet(x.ns, image, x.o.Replicas, x.mu), metav1.CreateOptions{}); err != nil {
			return start, fmt.Errorf("create StatefulSet %s/%s: %w", x.ns, setName, err)
		}
		return start, nil
	}
	start, err := lab.UpdateBegun(x.env.Clock, begin, func(began func(gen int64)) error {
		if kind == Upstream {
			s, err := x.cs.AppsV1().StatefulSets(x.ns).Get(ctx, setName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			s.Spec.Template.Spec.Containers[0].Image = image
			began(s.Generation)
			_, err = x.cs.AppsV1().StatefulSets(x.ns).Update(ctx, s, metav1.UpdateOptions{})
			return err
		}
		s := &v1beta1.StatefulSet{}
		if err := x.c.Get(ctx, client.ObjectKey{Namespace: x.ns, Name: setName}, s); err != nil {
			return err
		}
		ru := s.Spec.UpdateStrategy.RollingUpdate
		if ru == nil {
			return errors.New("the Advanced StatefulSet has no updateStrategy.rollingUpdate")
		}
		s.Spec.Template.Spec.Containers[0].Image = image
		ru.PodUpdatePolicy = map[string]v1beta1.PodUpdateStrategyType{InPlace: v1beta1.InPlaceIfPossiblePodUpdateStrategyType,
			Recreate: v1beta1.RecreatePodUpdateStrategyType}[kind]
		began(s.Generation)
		return x.c.Update(ctx, s)
	})
	if err != nil {
		return start, fmt.Errorf("update %s %s/%s: %w", setKind(kind), x.ns, setName, err)
	}
	return start, nil
}

// setKind names the StatefulSet phase kind writes to.
func setKind(kind string) string {
	if lab.IsUpstream(kind) {
		return "StatefulSet"
	}
	return "Advanced StatefulSet"
}

// checkUpstreamBudget reads back the upstream StatefulSet's
// rollingUpdate.maxUnavailable: the API server keeps it only with feature
// gate MaxUnavailableStatefulSet, and drops it silently otherwise, when
// kube-controller-manager rolls one pod at a time. The result says which
// was compared.
func (x *run) checkUpstreamBudget(ctx context.Context) error {
	s, err := x.cs.AppsV1().StatefulSets(x.ns).Get(ctx, setName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read back StatefulSet %s/%s: %w", x.ns, setName, err)
	}
	x.in.UpstreamMaxUnavailable = "1"
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		x.in.UpstreamMaxUnavailable = ru.MaxUnavailable.String()
	}
	return nil
}

// handOver clears the cluster for the upstream phases: it deletes the
// Advanced StatefulSet, waits (at most --phase-timeout) until its pods are
// gone, so that the upstream StatefulSet starts on the same empty nodes,
// and starts the upstream StatefulSet's watches.
func (x *run) handOver(ctx context.Context) error {
	x.con.Printf("deleting the Advanced StatefulSet and waiting for its pods to go before the upstream phases")
	s := &v1beta1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: x.ns, Name: setName}}
	if err := x.c.Delete(ctx, s, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		return fmt.Errorf("delete Advanced StatefulSet %s/%s: %w", x.ns, setName, err)
	}
	secs, err := x.adv.pods.WaitGone(ctx, x.env.Clock, x.con, "the Advanced StatefulSet's pods", x.o.PhaseTimeout)
	if err != nil {
		return err
	}
	x.in.HandOverSeconds = lab.Some(secs)
	x.up = x.newFollow()
	return x.watch(ctx, x.up, upstreamRole)
}
