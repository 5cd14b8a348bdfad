package nodesim

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestNextRelistIsStrictlyAfterOnTheNodesPhase(t *testing.T) {
	e := podEnv{relistPhase: 300 * time.Millisecond}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ at, want time.Duration }{
		{0, 300 * time.Millisecond},
		{299 * time.Millisecond, 300 * time.Millisecond},
		{300 * time.Millisecond, 1300 * time.Millisecond},
		{900 * time.Millisecond, 1300 * time.Millisecond},
	} {
		if got := e.nextRelist(base.Add(tc.at)); !got.Equal(base.Add(tc.want)) {
			t.Errorf("after +%s: relist at +%s, want +%s", tc.at, got.Sub(base), tc.want)
		}
	}
	if relistPhase("n-1") == relistPhase("n-2") && relistPhase("n-2") == relistPhase("n-3") {
		t.Error("every node relists at the same instant")
	}
}

// OpenKruise's "in-place update two container images with priorities":
// redis's postStart hook sleeps 10 s, and nginx, changed only once redis
// is reported running, must stop more than 10 s (in whole seconds, as the
// API keeps times) after redis started. On a kubelet the report waits for
// a relist after the hook, and nginx's restart for the relist after that.
func TestHookAndRestartWaitForRelists(t *testing.T) {
	k, _ := probed(t, "", corev1.Container{Name: "redis", Image: "redis", Command: []string{"redis-server"},
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "10"}}}}})
	k.env.restarts, k.env.relistPhase = &restarts{}, 700*time.Millisecond
	k.env.now = k.env.now.Add(900 * time.Millisecond) // redis starts late in its second
	t0 := k.env.now
	after := k.step()
	hookEnd := t0.Add(10 * time.Second)
	reported := k.env.nextRelist(hookEnd)
	if want := reported.Sub(t0); after != want {
		t.Fatalf("during the hook: next look in %s, want %s (the relist after the hook)", after, want)
	}
	k.wait(after)
	r := k.container(0).State.Running
	if r == nil || !r.StartedAt.Time.Equal(t0) {
		t.Fatalf("after the relist: %+v; want running, started at %s", k.container(0).State, t0)
	}
	// The controller changes redis's image a moment after the report.
	k.env.now = k.env.now.Add(50 * time.Millisecond)
	k.pod.Spec.Containers[0].Image = "redis:2"
	wait := k.step()
	if k.container(0).Image != "redis" || wait <= 0 || wait > time.Second {
		t.Fatalf("restarted at once (%s, next look in %s); want it at the next relist", k.container(0).Image, wait)
	}
	k.wait(wait)
	last := k.container(0).LastTerminationState.Terminated
	if last == nil {
		t.Fatalf("not restarted at the relist: %+v", k.container(0))
	}
	// In whole seconds, as the API server keeps them.
	if stop, start := last.FinishedAt.Unix(), r.StartedAt.Unix(); stop <= start+10 {
		t.Errorf("stopped at %d, not more than 10 s after the start at %d", stop, start)
	}
}
