package nodesim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness runs a sim against a fake clientset and a fake clock.
type harness struct {
	t      *testing.T
	s      *sim
	client *fake.Clientset
	clock  *clocktesting.FakeClock

	mu      sync.Mutex
	renewed []renewal // lease writes (create or update), at fake-clock time
}

type renewal struct {
	node string
	verb string
	at   time.Time
}

func start(t *testing.T, cfg Config, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{t: t, client: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(t0)}
	versionWrites(&h.client.Fake, h.client.Tracker())
	cfg.Clock = h.clock
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	// Like the API server, give new objects a UID (the fake leaves it empty).
	h.client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if m, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object); ok && m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%s-%s", a.GetResource().Resource, m.GetName())))
		}
		return false, nil, nil
	})
	h.client.PrependReactor("*", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		var name string
		switch a := a.(type) {
		case k8stesting.CreateAction:
			name = a.GetObject().(*coordinationv1.Lease).Name
		case k8stesting.UpdateAction:
			name = a.GetObject().(*coordinationv1.Lease).Name
		default:
			return false, nil, nil
		}
		h.mu.Lock()
		h.renewed = append(h.renewed, renewal{name, a.GetVerb(), h.clock.Now()})
		h.mu.Unlock()
		return false, nil, nil
	})
	s, err := newSim(h.client, cfg)
	if err != nil {
		t.Fatalf("newSim: %v", err)
	}
	h.s = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	h.eventually("pod workers started", s.podsStarted.Load)
	return h
}

// eventually polls cond in real time; the fake clock only moves on step.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// step advances the fake clock in small increments, letting every due
// heartbeat finish at each one.
func (h *harness) step(total, by time.Duration) {
	h.t.Helper()
	for d := time.Duration(0); d < total; d += by {
		h.clock.Step(by)
		// A fake-clock Step can land between the dispatcher reading Now and
		// arming its timer, leaving the timer late; poking makes it re-read
		// the clock, as the passage of real time would.
		h.eventually("heartbeats to settle", func() bool {
			if h.s.disp.idle() {
				return true
			}
			h.s.disp.poke()
			return false
		})
	}
}

func (h *harness) renewals() []renewal {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]renewal(nil), h.renewed...)
}

func (h *harness) node(name string) *corev1.Node {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatalf("get node %s: %v", name, err)
	}
	return n
}

func (h *harness) pod(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

func (h *harness) createPod(p *corev1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		h.t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

// waitPod waits until the stored pod satisfies cond.
func (h *harness) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	var p *corev1.Pod
	h.eventually(fmt.Sprintf("pod %s %s", name, what), func() bool {
		got, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		p = got
		return cond(got)
	})
	return p
}

func podOn(name, node string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, RestartPolicy: corev1.RestartPolicyAlways},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		}},
	}
	if len(containers) == 0 {
		containers = []string{"app"}
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: c + ":1.0"})
	}
	return p
}

func running(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }

func cond(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func testUID(i int) types.UID { return types.UID(fmt.Sprint("pod-", i)) }

// stepUntil advances the fake clock by `by` until cond holds and returns the
// fake time that took. Stepping in small increments (with a short real-time
// pause each) avoids the race between a Step and a timer that is about to
// be armed.
func (h *harness) stepUntil(what string, by, limit time.Duration, cond func() bool) time.Duration {
	h.t.Helper()
	begin := h.clock.Now()
	for {
		pause := time.Now().Add(20 * time.Millisecond)
		for time.Now().Before(pause) {
			if cond() {
				return h.clock.Since(begin)
			}
			time.Sleep(time.Millisecond)
		}
		if h.clock.Since(begin) >= limit {
			h.t.Fatalf("%s: not after %s of fake time", what, limit)
		}
		h.clock.Step(by)
	}
}

func (h *harness) podIs(name string, cond func(*corev1.Pod) bool) func() bool {
	return func() bool {
		p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && cond(p)
	}
}
