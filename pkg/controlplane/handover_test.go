package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// The lines client-go's leader election writes, as each component logs
// them, name exactly their own Lease.
func TestAcquiredLineMatchesOnlyItsLease(t *testing.T) {
	for _, c := range []struct {
		line, lock string
		want       bool
	}{
		{`I1205 05:47:47.448355   17765 leaderelection.go:272] "Successfully acquired lease" lock="kube-system/kube-controller-manager"`, "kube-system/kube-controller-manager", true},
		{`I1205 05:47:48.536587   17780 leaderelection.go:272] "Successfully acquired lease" logger="leaderelection" lock="kube-system/myriad-manager"`, "kube-system/myriad-manager", true},
		{`{"ts":1,"msg":"Successfully acquired lease","lock":"kube-system/myriad-scheduler"}`, "kube-system/myriad-scheduler", true},
		{`I1205 leaderelection.go:272] "Successfully acquired lease" lock="kube-system/kube-scheduler-2"`, "kube-system/kube-scheduler", false},
		{`I1205 leaderelection.go:257] "Attempting to acquire leader lease..." lock="kube-system/kube-scheduler"`, "kube-system/kube-scheduler", false},
		{`I1205 main.go:1] lock="kube-system/kube-scheduler" Successfully acquired lease`, "kube-system/kube-scheduler", false},
	} {
		if got := acquiredLine([]byte(c.line), c.lock); got != c.want {
			t.Errorf("acquiredLine(%q, %s) = %v, want %v", c.line, c.lock, got, c.want)
		}
	}
}

// A read of the Lease names the process only if it belongs to the
// incarnation that logged the acquisition and came soon after the line.
func TestLearnedTrustsOnlyAPromptReadOfTheSameIncarnation(t *testing.T) {
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To("host_a")}
	if got := learned(spec, 3, 3, 50*time.Millisecond); got != "host_a" {
		t.Errorf("prompt read: %q", got)
	}
	if got := learned(spec, 3, 4, 50*time.Millisecond); got != "" {
		t.Errorf("read after the incarnation ended: %q, want nothing", got)
	}
	if got := learned(spec, 3, 3, learnWithin+time.Second); got != "" {
		t.Errorf("late read: %q, want nothing", got)
	}
}

// Releasing writes what client-go's own release writes, and only for the
// holder named.
func TestReleasedOnlyForTheHolder(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To("host_a"), LeaseDurationSeconds: ptr.To(int32(15)), LeaseTransitions: ptr.To(int32(4))}
	got, ok := released(spec, "host_a", now)
	if !ok || ptr.Deref(got.HolderIdentity, "x") != "" || *got.LeaseDurationSeconds != 1 || *got.LeaseTransitions != 4 || !got.RenewTime.Time.Equal(now) {
		t.Fatalf("released = %+v, %v", got, ok)
	}
	for _, id := range []string{"host_b", ""} {
		if _, ok := released(spec, id, now); ok {
			t.Errorf("released the Lease of host_a for %q", id)
		}
	}
}

func lease(holder string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-scheduler"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(int32(15))}}
}

func holder(t *testing.T, cs *fake.Clientset) string {
	t.Helper()
	l, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

const acquired = `I1205 leaderelection.go:272] "Successfully acquired lease" lock="kube-system/kube-scheduler"`

// The whole handover: the process logs its acquisition, dies, and its
// Lease is free; a process that never said it leads, a Lease someone else
// took meanwhile, or a handover turned off leave the Lease alone.
func TestLeaseHandover(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	newHandover := func(holderNow string) (*LeaseHandover, *fake.Clientset) {
		cs := fake.NewClientset(lease(holderNow))
		h := NewLeaseHandover(cs.CoordinationV1(), "kube-system", "kube-scheduler", t.Logf)
		h.Clock = clk
		return h, cs
	}

	h, cs := newHandover("host_a")
	h.Line([]byte(acquired))
	h.learning.Wait()
	if got := h.Identity(); got != "host_a" {
		t.Errorf("a leader's Identity = %q, want the Lease's holder host_a", got)
	}
	h.Exited()
	if got := h.Identity(); got != "" {
		t.Errorf("after its exit Identity = %q, want unknown", got)
	}
	if got := holder(t, cs); got != "" {
		t.Errorf("after the leader died the Lease is held by %q, want released", got)
	}

	h, cs = newHandover("host_a")
	h.Line([]byte(`I1205 main.go:1] "Attempting to acquire leader lease..." lock="kube-system/kube-scheduler"`))
	h.Exited()
	if got := holder(t, cs); got != "host_a" {
		t.Errorf("a standby that never led released the Lease (holder %q)", got)
	}

	h, cs = newHandover("host_a")
	h.Line([]byte(acquired))
	h.learning.Wait()
	if _, err := cs.CoordinationV1().Leases("kube-system").Update(context.Background(), lease("host_b"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Exited()
	if got := holder(t, cs); got != "host_b" {
		t.Errorf("the new leader's Lease was released (holder %q)", got)
	}

	h, cs = newHandover("host_a")
	h.SetEnabled(false)
	h.Line([]byte(acquired))
	h.Exited()
	if got := holder(t, cs); got != "host_a" {
		t.Errorf("a handover turned off released the Lease (holder %q)", got)
	}

	// The next incarnation starts unknown: its exit without a new
	// acquisition releases nothing.
	h, cs = newHandover("host_a")
	h.Line([]byte(acquired))
	h.Exited()
	if _, err := cs.CoordinationV1().Leases("kube-system").Update(context.Background(), lease("host_c"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Exited()
	if got := holder(t, cs); got != "host_c" {
		t.Errorf("a second exit released the Lease of %q", got)
	}
}

// The read that learns the leader is retried: under --ha the connection
// `up` holds may lead to an API server that just died, and its first
// request fails though the other servers answer. The release is retried
// likewise, and an announcing handover says who leads.
func TestLeaseHandoverRetriesAFailedRead(t *testing.T) {
	cs := fake.NewClientset(lease("host_a"))
	failures := 2
	cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, errors.New("http2: client connection lost")
		}
		return false, nil, nil
	})
	var said []string
	h := NewLeaseHandover(cs.CoordinationV1(), "kube-system", "kube-scheduler", func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) })
	h.Announce = true
	h.Line([]byte(acquired))
	h.learning.Wait()
	failures = 1
	h.Exited()
	if got := holder(t, cs); got != "" {
		t.Errorf("after failed reads the Lease is held by %q, want released", got)
	}
	if len(said) != 2 || !strings.HasPrefix(said[0], "leads (Lease kube-system/kube-scheduler, as host_a)") {
		t.Errorf("said %q, want the leader announced, then the release", said)
	}
}
