package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// pidOf finds the one process whose command line matches pattern.
func pidOf(t *testing.T, pattern string) int {
	t.Helper()
	out, err := execOutput("pgrep", "-f", pattern)
	if err != nil || out == "" {
		t.Fatalf("find %q: %v %q", pattern, err, out)
	}
	pid, err := strconv.Atoi(strings.Fields(out)[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// barePods creates n pods named prefix-i in a tenant's namespace.
func barePods(cs kubernetes.Interface, ns, prefix string, n int) error {
	for i := range n {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Labels: map[string]string{"fault": prefix}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", p.Name, err)
		}
	}
	return nil
}

// allRunning waits until a tenant's pods labelled fault=prefix are n and
// all Running.
func allRunning(t *testing.T, cs kubernetes.Interface, ns, prefix string, n int, within time.Duration, what string) {
	t.Helper()
	eventually(t, within, what, func() error {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "fault=" + prefix})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if len(pods.Items) != n || running != n {
			return fmt.Errorf("%d pods, %d Running, want %d", len(pods.Items), running, n)
		}
		return nil
	})
}

// testTenantAPIServerHung: alpha's API server hangs (SIGSTOP, which no
// connection notices) while the syncer has plenty of alpha's work (one
// event per worker and more to replay into alpha); beta's new pods still
// run, and alpha catches up once it answers again.
func testTenantAPIServerHung(t *testing.T, dataDir string, super, alpha, beta kubernetes.Interface) {
	ctx := context.Background()
	superNs := tenancy.SuperNamespace("alpha", "shop")
	pods, err := super.CoreV1().Pods(superNs).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("alpha's pods on the cluster: %v (%d)", err, len(pods.Items))
	}
	target := pods.Items[0]

	pid := pidOf(t, "kube-apiserver .*"+regexp.QuoteMeta(dataDir)+"/tenants/alpha/")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()

	// 96 events about one of alpha's pods: more replays into alpha than
	// the syncer has workers (64 under myriad up).
	for i := range 96 {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("hung-%d", i), Namespace: superNs},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: superNs, Name: target.Name, UID: target.UID},
			Reason:         "Probe", Message: fmt.Sprintf("event %d while alpha hangs", i), Type: corev1.EventTypeNormal,
			Source: corev1.EventSource{Component: "e2e"}, FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
		}
		if _, err := super.CoreV1().Events(superNs).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second) // the syncer's workers have taken alpha's replays
	if err := barePods(beta, "shop", "hung", 4); err != nil {
		t.Fatal(err)
	}
	// Well inside the syncer's 30 s per-sync timeout: workers stuck on
	// alpha until then would fail this.
	allRunning(t, beta, "shop", "hung", 4, 25*time.Second, "beta's pods Running while alpha's API server hangs")

	resume()
	eventually(t, 2*time.Minute, "alpha answers again and gets its events", func() error {
		evs, err := alpha.CoreV1().Events("shop").List(ctx, metav1.ListOptions{FieldSelector: "reason=Probe"})
		if err != nil {
			return err
		}
		if len(evs.Items) != 96 {
			return fmt.Errorf("%d of 96 events replayed", len(evs.Items))
		}
		return nil
	})
	if err := beta.CoreV1().Pods("shop").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "fault=hung"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "beta's extra pods gone from the cluster", func() error {
		if n := countLabelled(t, super, "pods", tenancy.LabelTenant+"=beta,fault=hung"); n != 0 {
			return fmt.Errorf("%d left", n)
		}
		return nil
	})
}

// testSyncerKilledMidBurst kills the syncer with SIGKILL while it is
// placing a burst of beta's pods: after the supervisor restarts it, every
// pod runs, and the cluster holds exactly one copy of each, of the right
// incarnation.
func testSyncerKilledMidBurst(t *testing.T, up *upProcess, dataDir string, super, beta kubernetes.Interface) {
	ctx := context.Background()
	const n = 40
	superNs := tenancy.SuperNamespace("beta", "shop")
	created := make(chan error, 1)
	go func() { created <- barePods(beta, "shop", "burst", n) }()
	eventually(t, time.Minute, "the burst under way on the cluster", func() error {
		if c := countLabelled(t, super, "pods", tenancy.LabelTenant+"=beta,fault=burst"); c < 5 {
			return fmt.Errorf("%d of beta's burst placed", c)
		}
		return nil
	})
	before := strings.Count(up.out.String(), "myriad-syncer: restarted and ready")
	if err := syscall.Kill(pidOf(t, "myriad syncer .*"+regexp.QuoteMeta(dataDir)), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the supervisor restarts the syncer", func() error {
		if strings.Count(up.out.String(), "myriad-syncer: restarted and ready") == before {
			return fmt.Errorf("no restart reported yet")
		}
		return nil
	})
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	allRunning(t, beta, "shop", "burst", n, 2*time.Minute, "the whole burst Running after the syncer's restart")
	time.Sleep(5 * time.Second) // a syncer that would place twice has done so by now

	tenantPods, err := beta.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "fault=burst"})
	if err != nil {
		t.Fatal(err)
	}
	uid := map[string]string{}
	for _, p := range tenantPods.Items {
		uid[p.Name] = string(p.UID)
	}
	copies, err := super.CoreV1().Pods(superNs).List(ctx, metav1.ListOptions{LabelSelector: "fault=burst"})
	if err != nil {
		t.Fatal(err)
	}
	if len(copies.Items) != n {
		t.Errorf("the cluster holds %d copies of the burst's %d pods", len(copies.Items), n)
	}
	for _, c := range copies.Items {
		if want, ok := uid[c.Name]; !ok || c.Annotations[tenancy.AnnotationUID] != want {
			t.Errorf("copy %s is of no live tenant pod (uid %q, tenant pods %v)", c.Name, c.Annotations[tenancy.AnnotationUID], ok)
		}
	}
	if err := beta.CoreV1().Pods("shop").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "fault=burst"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the burst gone from the cluster", func() error {
		if c := countLabelled(t, super, "pods", tenancy.LabelTenant+"=beta,fault=burst"); c != 0 {
			return fmt.Errorf("%d left", c)
		}
		return nil
	})
}
