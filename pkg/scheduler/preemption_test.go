package scheduler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// podWith returns a pending pod of this scheduler with a priority and a
// cpu request; boundTo places it on a node as if it ran there already.
func podWith(name string, prio int32, cpu string) *v1.Pod {
	p := pendingPod(name, prio, time.Now())
	p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = resource.MustParse(cpu)
	return p
}

func boundTo(p *v1.Pod, node string) *v1.Pod {
	p.Spec.NodeName = node
	now := metav1.Now()
	p.Status.StartTime = &now
	p.Status.Phase = v1.PodRunning
	return p
}

func (c *cluster) exists(t *testing.T, name string) bool {
	t.Helper()
	_, err := c.cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// deleted returns the delete actions' pod names.
func (c *cluster) deleted() []string {
	var out []string
	for _, a := range c.cs.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			out = append(out, a.(k8stesting.DeleteAction).GetName())
		}
	}
	return out
}

func TestHighPriorityPodPreemptsAndIsBound(t *testing.T) {
	c := newCluster(t, node("n1", "4"),
		boundTo(podWith("low", 1, "2"), "n1"),
		boundTo(podWith("mid", 5, "2"), "n1"))
	var (
		mu           sync.Mutex
		victimBefore *v1.Pod
	)
	c.cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		// What the victim looked like when it was deleted.
		obj, err := c.cs.Tracker().Get(podsGVR, "default", a.(k8stesting.DeleteAction).GetName())
		if err == nil {
			mu.Lock()
			victimBefore = obj.(*v1.Pod).DeepCopy()
			mu.Unlock()
		}
		return false, nil, nil
	})
	s := c.start(t, false)
	c.create(t, podWith("high", 10, "2"))

	eventually(t, "preemptor bound to n1", func() bool { return c.pod(t, "high").Spec.NodeName == "n1" })
	if got := c.deleted(); len(got) != 1 || got[0] != "low" {
		t.Fatalf("deleted %v, want only the lowest-priority pod [low]", got)
	}
	if !c.exists(t, "mid") {
		t.Fatal("mid was not needed as a victim and must stay")
	}
	mu.Lock()
	before := victimBefore
	mu.Unlock()
	var dt *v1.PodCondition
	for i, cond := range before.Status.Conditions {
		if cond.Type == v1.DisruptionTarget {
			dt = &before.Status.Conditions[i]
		}
	}
	if dt == nil || dt.Status != v1.ConditionTrue || dt.Reason != v1.PodReasonPreemptionByScheduler ||
		dt.Message != "myriad: preempting to accommodate a higher priority pod" {
		t.Fatalf("victim conditions before deletion %+v, want DisruptionTarget/PreemptionByScheduler", before.Status.Conditions)
	}
	if got := c.pod(t, "high").Status.NominatedNodeName; got != "n1" {
		t.Fatalf("preemptor nominatedNodeName %q, want n1", got)
	}
	eventually(t, "Preempted event on the victim", func() bool {
		evs, err := c.cs.EventsV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == "Preempted" && e.Regarding.Name == "low" && e.Related != nil && e.Related.Name == "high" &&
				e.Note == "Preempted by pod uid-high on node n1" {
				return true
			}
		}
		return false
	})
	if st := s.Core().Stats(); st.Preemptions != 1 || st.Victims != 1 {
		t.Fatalf("core stats %+v, want one preemption with one victim", st)
	}
}

func TestPodThatMayNotPreemptSaysWhy(t *testing.T) {
	never := v1.PreemptNever
	for _, tt := range []struct {
		name    string
		disable bool
		pod     *v1.Pod
		suffix  string
	}{
		{"preemptionPolicy Never", false, func() *v1.Pod {
			p := podWith("high", 10, "2")
			p.Spec.PreemptionPolicy = &never
			return p
		}(), " preemption: not eligible due to preemptionPolicy=Never."},
		{"preemption disabled", true, podWith("high", 10, "2"), "Insufficient cpu."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, node("n1", "2"), boundTo(podWith("low", 1, "2"), "n1"))
			cfg := Config{Core: core.DefaultConfig(), Binders: 2, DisablePreemption: tt.disable}
			s, err := New(c.cs, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() { cancel(); <-done }()
			c.create(t, tt.pod)
			eventually(t, "PodScheduled=False", func() bool {
				for _, pc := range c.pod(t, "high").Status.Conditions {
					if pc.Type == v1.PodScheduled && strings.HasSuffix(pc.Message, tt.suffix) {
						return true
					}
				}
				return false
			})
			if got := c.deleted(); len(got) != 0 {
				t.Fatalf("deleted %v, want nothing", got)
			}
		})
	}
}

// A victim that cannot be deleted (here: forbidden) must not leave the
// preemptor waiting for a deletion that never comes: its reservation is
// dropped and it is retried after backoff.
func TestFailedEvictionDropsNominationAndRetries(t *testing.T) {
	c := newCluster(t, node("n1", "2"), boundTo(podWith("low", 1, "2"), "n1"))
	c.cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(podsGVR.GroupResource(), a.(k8stesting.DeleteAction).GetName(), nil)
	})
	s := c.start(t, false)
	high := podWith("high", 10, "2")
	c.create(t, high)
	eventually(t, "a second preemption attempt after backoff", func() bool { return s.Core().Stats().Preemptions >= 2 })
	eventually(t, "nomination dropped", func() bool { return s.Core().NominatedNode(high) == "" })
	if !c.exists(t, "low") {
		t.Fatal("the victim could not be deleted and must still exist")
	}
}

// A nominated pod's status survives the scheduler: a new leader (or a
// restart) reads status.nominatedNodeName and keeps the room reserved, so a
// pod of lower priority cannot take it while the victims terminate.
func TestNominationFromStatusReservesRoomAfterRestart(t *testing.T) {
	pre := podWith("pre", 10, "3")
	pre.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/hold"}} // keep it pending
	pre.Status.NominatedNodeName = "n1"
	c := newCluster(t, node("n1", "4"), pre)
	s := c.start(t, false)
	eventually(t, "nomination read from status", func() bool { return s.Core().NominatedNode(pre) == "n1" })

	c.create(t, podWith("low", 1, "2"))
	eventually(t, "low-priority pod kept off the reserved room", func() bool {
		for _, pc := range c.pod(t, "low").Status.Conditions {
			if pc.Type == v1.PodScheduled && strings.HasPrefix(pc.Message, "0/1 nodes are available: 1 Insufficient cpu.") {
				return true
			}
		}
		return false
	})
	if c.pod(t, "low").Spec.NodeName != "" {
		t.Fatal("low-priority pod took the reserved room")
	}
	// The nominated pod goes away: the room is free again.
	if err := c.cs.CoreV1().Pods("default").Delete(context.Background(), "pre", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "low-priority pod bound once the nomination is gone", func() bool { return c.pod(t, "low").Spec.NodeName == "n1" })
}
