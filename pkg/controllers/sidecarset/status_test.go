package sidecarset

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func statusPod(name string, injected bool, hash string, ready bool, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Status: corev1.PodStatus{Phase: phase}}
	if injected {
		p.Annotations = map[string]string{
			v1beta1.SidecarSetListAnnotation: "other,s",
			v1beta1.SidecarSetHashAnnotation: `{"other":{"hash":"x"},"s":{"hash":"` + hash + `","sidecarSetName":"s"}}`,
		}
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

func TestComputeStatus(t *testing.T) {
	ss := sidecarSet("s", nil)
	ss.Generation = 4
	rev := Revision{Hash: "new"}
	now := metav1.NewTime(time.Unix(100, 0))
	pods := []*corev1.Pod{
		statusPod("a", true, "new", true, corev1.PodRunning),
		statusPod("b", true, "new", false, corev1.PodPending),
		statusPod("c", true, "old", true, corev1.PodRunning),
		statusPod("d", false, "", true, corev1.PodRunning),
		statusPod("e", false, "", true, corev1.PodSucceeded), // finished: not reported
	}
	res := ComputeStatus(ss, rev, pods, now)
	st := res.Status
	if st.MatchedPods != 3 || st.UpdatedPods != 2 || st.ReadyPods != 2 || st.UpdatedReadyPods != 1 || st.ObservedGeneration != 4 || st.LatestRevision != "new" {
		t.Errorf("status %+v: want matched 3, updated 2, ready 2, updatedReady 1, generation 4, revision new", st)
	}
	if len(res.Uninjected) != 1 || res.Uninjected[0] != "ns/d" {
		t.Errorf("uninjected %v, want ns/d", res.Uninjected)
	}
	c := apimeta.FindStatusCondition(st.Conditions, v1beta1.SidecarSetPodsInjected)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.HasPrefix(c.Message, "1 selected pods") || !strings.Contains(c.Message, "ns/d") {
		t.Errorf("condition %+v: want False naming ns/d", c)
	}

	// Once the pod is gone the condition turns True.
	ss.Status = st
	res = ComputeStatus(ss, rev, pods[:3], metav1.NewTime(time.Unix(200, 0)))
	c = apimeta.FindStatusCondition(res.Status.Conditions, v1beta1.SidecarSetPodsInjected)
	if c == nil || c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Equal(&metav1.Time{Time: time.Unix(200, 0)}) {
		t.Errorf("condition %+v: want True since the second look", c)
	}
}

func TestComputeStatusNamesAFewPods(t *testing.T) {
	var pods []*corev1.Pod
	for _, n := range []string{"g", "f", "e", "d", "c", "b", "a"} {
		pods = append(pods, statusPod(n, false, "", true, corev1.PodRunning))
	}
	res := ComputeStatus(sidecarSet("s", nil), Revision{Hash: "h"}, pods, metav1.Now())
	c := apimeta.FindStatusCondition(res.Status.Conditions, v1beta1.SidecarSetPodsInjected)
	if !strings.HasPrefix(c.Message, "7 selected pods") || !strings.HasSuffix(c.Message, "ns/a, ns/b, ns/c, ns/d, ns/e and 2 more") {
		t.Errorf("message %q: want the count and the first five by name", c.Message)
	}
}
