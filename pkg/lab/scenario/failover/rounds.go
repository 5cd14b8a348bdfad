package failover

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

const workloadName = "failover"

// appLabel labels a workload's pods: the watch tells them apart by it.
func appLabel(workload string) string { return "failover-" + workload }

// workloads makes the namespace, the Deployment and (when the manager is
// measured) the CloneSet, all at 0 replicas.
func (x *Run) workloads(ctx context.Context) error {
	if err := x.r.Namespaces(ctx, namespace); err != nil {
		return err
	}
	if _, err := x.r.Client.AppsV1().Deployments(namespace).Create(ctx, deployment(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create deployment: %w", err)
	}
	for _, c := range x.o.Components {
		if specs[c].workload == workCloneSet {
			if err := x.c.Create(ctx, cloneSet()); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create CloneSet %s/%s: %w", namespace, workloadName, err)
			}
			break
		}
	}
	return nil
}

func podTemplate(workload string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": appLabel(workload)}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			AutomountServiceAccountToken:  ptr.To(false),
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
		},
	}
}

func deployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: workloadName, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": appLabel(workDeployment)}},
			Template: podTemplate(workDeployment)},
	}
}

func cloneSet() *v1alpha1.CloneSet {
	return &v1alpha1.CloneSet{
		ObjectMeta: metav1.ObjectMeta{Name: workloadName, Namespace: namespace},
		Spec: v1alpha1.CloneSetSpec{Replicas: ptr.To(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": appLabel(workCloneSet)}},
			Template: podTemplate(workCloneSet)},
	}
}

// scale sets the workload's replicas, retrying until it is accepted or
// ctx ends: right after a kill, the CloneSet webhook (served by the
// manager) may be down, and the time until it answers again is part of
// what the user waits for.
func (x *Run) scale(ctx context.Context, workload string, replicas int) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	t := x.env.Clock.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		var err error
		if workload == workCloneSet {
			// Through the scale subresource, as kubectl scale and the
			// HorizontalPodAutoscaler do: the CloneSet admission webhook
			// (served by the instance myriad up runs) admits only writes
			// of the CloneSet itself.
			err = x.c.SubResource("scale").Patch(ctx, &v1alpha1.CloneSet{ObjectMeta: metav1.ObjectMeta{Name: workloadName, Namespace: namespace}}, client.RawPatch(types.MergePatchType, patch))
		} else {
			_, err = x.r.Client.AppsV1().Deployments(namespace).Patch(ctx, workloadName, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scale the %s to %d: %w", workload, replicas, err)
		case <-t.C():
		}
	}
}

// round 0 is the control: the same work without a kill. Every round ends
// with the workload back at 0 and its pods gone.
func (x *Run) round(ctx context.Context, t *Target, sp spec, n int, handover bool) (RoundInput, error) {
	o, clk, con, w := x.o, x.env.Clock, x.con, x.w
	kill := n > 0
	label := sp.name + " control"
	if kill {
		label = fmt.Sprintf("%s %d (handover %s)", sp.name, n, map[bool]string{true: "on", false: "off"}[handover])
	}
	in := &RoundInput{Round: n, Killed: kill, Handover: kill && handover, Replicas: o.Replicas}
	lctx, lcancel := context.WithTimeout(ctx, 3*time.Minute)
	leader, err := t.Leader(lctx)
	lcancel()
	if err != nil {
		in.Err = "no leader with a warm standby before the round: " + err.Error()
		return *in, fmt.Errorf("%s", in.Err)
	}
	in.OldHolder, _, _ = w.holder(sp.lease)
	if kill {
		in.Leader = leader
	}
	rctx, cancel := context.WithTimeout(ctx, o.RoundTimeout)
	defer cancel()
	in.Start = clk.Now()
	w.begin(in, sp)
	if kill {
		pid, err := t.Kill(leader)
		if err != nil {
			w.end()
			in.Err = err.Error()
			return *in, err
		}
		go func() {
			if at, err := t.Restarted(rctx, leader, pid); err == nil {
				w.setFor(in, func(r *RoundInput) { r.Restarted = &at })
			}
		}()
	}
	err = x.scale(rctx, sp.workload, o.Replicas)
	now := clk.Now()
	w.set(func(r *RoundInput) { r.ScaledAt = now })
	after := map[bool]string{true: "the kill", false: "the scale"}[kill]
	if err == nil {
		err = w.waitAllRunning(rctx, sp.workload, o.Replicas, func(s string) { con.Progress(fmt.Sprintf("round %s: %s after %s", label, s, after)) })
	}
	con.EndProgress()
	res := w.end()
	if err != nil {
		res.Err = err.Error()
		return res, err
	}
	con.Printf("round %s: all %d pods Running %.1fs after %s", label, o.Replicas, res.AllRunning.Sub(res.Start).Seconds(), after)
	dctx, dcancel := context.WithTimeout(ctx, o.RoundTimeout)
	defer dcancel()
	if err := x.scale(dctx, sp.workload, 0); err != nil {
		res.Err = "scale back to 0: " + err.Error()
		return res, err
	}
	if err := w.waitNoPods(dctx, sp.workload, func(n int) { con.Progress(fmt.Sprintf("round %s: scaling back to 0, %d pods left", label, n)) }); err != nil {
		con.EndProgress()
		res.Err = "scale back to 0: " + err.Error()
		return res, err
	}
	con.EndProgress()
	if kill {
		// Who won the race: the warm standby or the restarted process.
		nctx, ncancel := context.WithTimeout(ctx, time.Minute)
		if l, err := t.Leader(nctx); err == nil {
			res.NewLeader = l
		}
		ncancel()
	}
	return res, nil
}
