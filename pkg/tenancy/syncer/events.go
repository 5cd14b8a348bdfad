package syncer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// translateEvent is a super pod event told against the tenant pod, under
// the super event's name so that a replay updates rather than duplicates.
func translateEvent(ev *corev1.Event, tenantPod *corev1.Pod) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: ev.Name, Namespace: tenantPod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: tenantPod.Namespace, Name: tenantPod.Name,
			UID: tenantPod.UID, FieldPath: ev.InvolvedObject.FieldPath,
		},
		Reason: ev.Reason, Message: ev.Message, Type: ev.Type,
		Source: ev.Source, FirstTimestamp: ev.FirstTimestamp, LastTimestamp: ev.LastTimestamp,
		Count: ev.Count, EventTime: ev.EventTime, Action: ev.Action,
		ReportingController: ev.ReportingController, ReportingInstance: ev.ReportingInstance,
	}
	if ev.Series != nil {
		out.Series = ev.Series.DeepCopy()
	}
	return out
}

// syncEvent replays one super pod event in the tenant. name is the super
// event's; ns the tenant namespace.
func (s *Syncer) syncEvent(ctx context.Context, tc *tenantCluster, ns, name string) error {
	superNs := tenancy.SuperNamespace(tc.name, ns)
	ev, err := s.super.events.Events(superNs).Get(name)
	if err != nil || ev.InvolvedObject.Kind != "Pod" {
		return nil // expired; events are best effort
	}
	sp, err := s.super.pods.Pods(superNs).Get(ev.InvolvedObject.Name)
	if err != nil || !isCopy(sp, tc.name) || sp.UID != ev.InvolvedObject.UID && ev.InvolvedObject.UID != "" {
		return nil
	}
	tp, err := tc.pods.Pods(ns).Get(sp.Name)
	if err != nil || !sameOrigin(sp, tp) {
		return nil
	}
	desired := translateEvent(ev, tp)
	events := tc.client.CoreV1().Events(ns)
	_, err = events.Create(ctx, desired, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		live, gerr := events.Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("read tenant event %s/%s: %w", ns, name, gerr)
		}
		if live.Count == desired.Count && live.LastTimestamp.Equal(&desired.LastTimestamp) && live.Message == desired.Message {
			return nil
		}
		out := live.DeepCopy()
		out.Count, out.LastTimestamp, out.Message, out.Series = desired.Count, desired.LastTimestamp, desired.Message, desired.Series
		_, err = events.Update(ctx, out, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("replay event %s/%s in tenant: %w", ns, name, err)
	}
	s.synced(tc.name, kindEvent)
	return nil
}
