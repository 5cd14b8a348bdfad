package nodesim

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestPodsRunWithUniqueIPsInNodeCIDR(t *testing.T) {
	// A pod from an earlier run already holds .2 on n-0: it must not be reused.
	prior := podOn("prior", "n-0")
	prior.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.128.0.2", StartTime: &metav1.Time{Time: t0}}
	h := start(t, Config{Count: 2, NamePrefix: "n-"}, prior)
	cidr := netip.MustParsePrefix(h.node("n-0").Spec.PodCIDR)

	names := []string{"a", "b", "c", "d", "e"}
	for _, n := range names {
		h.createPod(podOn(n, "n-0", "app", "sidecar"))
	}
	hostNet := podOn("hostnet", "n-0")
	hostNet.Spec.HostNetwork = true
	h.createPod(hostNet)
	h.createPod(podOn("elsewhere", "other-node"))

	seen := map[string]string{"10.128.0.2": "prior"}
	for _, n := range names {
		p := h.waitPod(n, "running", running)
		ip := netip.MustParseAddr(p.Status.PodIP)
		if !cidr.Contains(ip) || ip.As4()[3] < 2 {
			t.Errorf("pod %s IP %s outside %s or reserved", n, ip, cidr)
		}
		if other, dup := seen[p.Status.PodIP]; dup {
			t.Errorf("pods %s and %s share IP %s", n, other, ip)
		}
		seen[p.Status.PodIP] = n
		if p.Status.HostIP != h.s.nodes[0].ip.String() || len(p.Status.HostIPs) != 1 || len(p.Status.PodIPs) != 1 {
			t.Errorf("pod %s host IPs %v / pod IPs %v", n, p.Status.HostIPs, p.Status.PodIPs)
		}
		for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			if cond(p, c) != corev1.ConditionTrue {
				t.Errorf("pod %s condition %s = %q", n, c, cond(p, c))
			}
		}
		if p.Status.StartTime == nil || p.Status.QOSClass != corev1.PodQOSBestEffort || len(p.Status.ContainerStatuses) != 2 {
			t.Errorf("pod %s status incomplete: %+v", n, p.Status)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if !cs.Ready || cs.Started == nil || !*cs.Started || cs.State.Running == nil ||
				!strings.HasPrefix(cs.ContainerID, "containerd://") ||
				cs.ImageID != (*ImageCatalog)(nil).ImageID(cs.Image) || !strings.HasPrefix(cs.ImageID, "docker.io/library/"+cs.Name+"@sha256:") {
				t.Errorf("pod %s container %s: %+v", n, cs.Name, cs)
			}
		}
	}
	if p := h.waitPod("hostnet", "running", running); p.Status.PodIP != p.Status.HostIP {
		t.Errorf("hostNetwork pod IP %s, want host IP %s", p.Status.PodIP, p.Status.HostIP)
	}
	if p := h.pod("elsewhere"); p.Status.Phase != corev1.PodPending || p.Status.HostIP != "" {
		t.Errorf("pod on a node that is not ours was touched: %+v", p.Status)
	}

	// A freed address is handed out again.
	freed := h.pod("a").Status.PodIP
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("a's IP freed", func() bool {
		h.s.nodes[0].ips.mu.Lock()
		defer h.s.nodes[0].ips.mu.Unlock()
		_, held := h.s.nodes[0].ips.byPod["uid-a"]
		return !held
	})
	h.createPod(podOn("f", "n-0"))
	if p := h.waitPod("f", "running", running); p.Status.PodIP != freed {
		t.Errorf("new pod got %s, want the freed %s", p.Status.PodIP, freed)
	}
}

func TestReadinessGateHoldsReady(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	p := podOn("gated", "n-0")
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	h.createPod(p)
	p = h.waitPod("gated", "running", running)
	if cond(p, corev1.ContainersReady) != corev1.ConditionTrue || cond(p, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("before the gate: ContainersReady=%s Ready=%s", cond(p, corev1.ContainersReady), cond(p, corev1.PodReady))
	}
	// Another controller opens the gate.
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue})
	if _, err := h.client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod("gated", "ready", func(p *corev1.Pod) bool { return cond(p, corev1.PodReady) == corev1.ConditionTrue })
}

func TestInitContainersCompleteBeforeMain(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-", InitDuration: 300 * time.Millisecond})
	p := podOn("init", "n-0", "app")
	p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox"}, {Name: "migrate", Image: "example.com/tools/migrate:v2"}}
	h.createPod(p)

	p = h.waitPod("init", "initializing", func(p *corev1.Pod) bool { return len(p.Status.InitContainerStatuses) == 2 })
	if p.Status.Phase != corev1.PodPending || cond(p, corev1.PodInitialized) != corev1.ConditionFalse {
		t.Fatalf("while initializing: phase %s, Initialized=%s", p.Status.Phase, cond(p, corev1.PodInitialized))
	}
	if p.Status.InitContainerStatuses[0].State.Running == nil || p.Status.ContainerStatuses[0].State.Waiting == nil {
		t.Fatalf("want first init container running and app waiting: %+v", p.Status)
	}

	if took := h.stepUntil("init done", 50*time.Millisecond, 2*time.Second, h.podIs("init", running)); took < 300*time.Millisecond {
		t.Fatalf("main containers started after %s, before init containers ran 300ms", took)
	}
	p = h.pod("init")
	mainStart := p.Status.ContainerStatuses[0].State.Running.StartedAt
	for _, cs := range p.Status.InitContainerStatuses {
		term := cs.State.Terminated
		if term == nil || term.ExitCode != 0 || term.Reason != "Completed" || term.FinishedAt.After(mainStart.Time) {
			t.Errorf("init container %s: %+v", cs.Name, cs.State)
		}
	}
	if got := p.Status.InitContainerStatuses[1].ImageID; !strings.HasPrefix(got, "example.com/tools/migrate@sha256:") {
		t.Errorf("imageID %s", got)
	}
	if cond(p, corev1.PodInitialized) != corev1.ConditionTrue || cond(p, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("after init: %+v", p.Status.Conditions)
	}
}

func TestJobPodsFinish(t *testing.T) {
	for _, tc := range []struct {
		name        string
		policy      corev1.RestartPolicy
		annotations map[string]string
		runFor      time.Duration
		phase       corev1.PodPhase
		exitCode    int32
		reason      string
	}{
		{"succeeds after default duration", corev1.RestartPolicyNever, nil, 2 * time.Second, corev1.PodSucceeded, 0, "Completed"},
		{"run-duration annotation", corev1.RestartPolicyOnFailure, map[string]string{RunDurationAnnotation: "5s"}, 5 * time.Second, corev1.PodSucceeded, 0, "Completed"},
		{"exit-code annotation fails", corev1.RestartPolicyNever, map[string]string{ExitCodeAnnotation: "3"}, 2 * time.Second, corev1.PodFailed, 3, "Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Config{Count: 1, NamePrefix: "n-"})
			p := podOn("job", "n-0")
			p.Spec.RestartPolicy = tc.policy
			p.Annotations = tc.annotations
			h.createPod(p)
			h.waitPod("job", "running", running)
			took := h.stepUntil("job finished", 100*time.Millisecond, tc.runFor+5*time.Second, h.podIs("job", isTerminal))
			if took < tc.runFor || took > tc.runFor+time.Second {
				t.Fatalf("job ran %s of fake time, want %s", took, tc.runFor)
			}
			p = h.pod("job")
			term := p.Status.ContainerStatuses[0].State.Terminated
			if p.Status.Phase != tc.phase || term == nil || term.ExitCode != tc.exitCode || term.Reason != tc.reason {
				t.Fatalf("phase %s, state %+v", p.Status.Phase, p.Status.ContainerStatuses[0].State)
			}
			if cond(p, corev1.PodReady) != corev1.ConditionFalse {
				t.Errorf("finished pod still Ready")
			}
		})
	}
}

func TestInPlaceImageUpdateRestartsOnlyThatContainer(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	h.createPod(podOn("web", "n-0", "app", "proxy"))
	before := h.waitPod("web", "running", running)

	upd := before.DeepCopy()
	upd.Spec.Containers[0].Image = "app:2.0"
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The restart waits for the node's next relist, at most a second.
	restarted := func(p *corev1.Pod) bool { return p.Status.ContainerStatuses[0].Image == "app:2.0" }
	if waited := h.stepUntil("restarted", 100*time.Millisecond, 2*time.Second, h.podIs("web", restarted)); waited > time.Second {
		t.Errorf("restart took %s of the node's time, more than one relist period", waited)
	}
	after := h.pod("web")

	app, oldApp := after.Status.ContainerStatuses[0], before.Status.ContainerStatuses[0]
	if app.RestartCount != 1 || app.ImageID == oldApp.ImageID || app.ContainerID == oldApp.ContainerID || app.State.Running == nil {
		t.Errorf("app after update: %+v", app)
	}
	if last := app.LastTerminationState.Terminated; last == nil || last.ExitCode != 137 || last.ContainerID != oldApp.ContainerID {
		t.Errorf("app lastState: %+v", app.LastTerminationState)
	}
	if proxy := after.Status.ContainerStatuses[1]; proxy.RestartCount != 0 || proxy.ContainerID != before.Status.ContainerStatuses[1].ContainerID {
		t.Errorf("proxy was restarted too: %+v", proxy)
	}
	if after.UID != before.UID || after.Status.PodIP != before.Status.PodIP || after.Spec.NodeName != "n-0" {
		t.Errorf("pod identity changed: uid %s→%s ip %s→%s", before.UID, after.UID, before.Status.PodIP, after.Status.PodIP)
	}
	if cond(after, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("pod not Ready after the restart")
	}
}

func TestDeletionHonoursGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace int64
		stop  string
		after time.Duration
	}{
		{"immediate by default", 30, "", 0},
		{"stop duration within grace", 30, "5s", 5 * time.Second},
		{"grace caps stop duration", 10, "1m", 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Config{Count: 1, NamePrefix: "n-"})
			p := podOn("victim", "n-0")
			if tc.stop != "" {
				p.Annotations = map[string]string{StopDurationAnnotation: tc.stop}
			}
			h.createPod(p)
			p = h.waitPod("victim", "running", running)

			var (
				mu          sync.Mutex
				deleted     *metav1.DeleteOptions
				finalStatus *corev1.PodStatus
			)
			h.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				mu.Lock()
				defer mu.Unlock()
				o := a.(k8stesting.DeleteAction).GetDeleteOptions()
				deleted = &o
				got, err := h.client.Tracker().Get(a.GetResource(), "default", "victim")
				if err == nil {
					finalStatus = &got.(*corev1.Pod).Status
				}
				return false, nil, nil
			})
			// What the API server does on a graceful delete.
			now := metav1.NewTime(h.clock.Now())
			del := metav1.NewTime(now.Add(time.Duration(tc.grace) * time.Second))
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &del, &tc.grace
			if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			took := h.stepUntil("pod deleted", 250*time.Millisecond, tc.after+5*time.Second, func() bool {
				_, err := h.client.CoreV1().Pods("default").Get(context.Background(), "victim", metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			})
			if took < tc.after || took > tc.after+time.Second {
				t.Fatalf("containers stopped after %s, want %s", took, tc.after)
			}
			mu.Lock()
			defer mu.Unlock()
			if deleted == nil || deleted.GracePeriodSeconds == nil || *deleted.GracePeriodSeconds != 0 ||
				deleted.Preconditions == nil || *deleted.Preconditions.UID != p.UID {
				t.Fatalf("delete options %+v, want grace 0 and UID precondition", deleted)
			}
			if finalStatus == nil || finalStatus.Phase != corev1.PodSucceeded || finalStatus.ContainerStatuses[0].State.Terminated == nil {
				t.Fatalf("final status before delete: %+v", finalStatus)
			}
		})
	}
}

func TestIPAllocator(t *testing.T) {
	p := newPodIPs(netip.MustParsePrefix("10.0.5.0/24"))
	seen := map[netip.Addr]bool{}
	for i := range 253 {
		ip, err := p.allocate(testUID(i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if o := ip.As4()[3]; o < 2 || o == 255 || seen[ip] {
			t.Fatalf("allocation %d: bad or duplicate %s", i, ip)
		}
		seen[ip] = true
	}
	if _, err := p.allocate("one-too-many"); err == nil {
		t.Fatal("want exhaustion error")
	}
	again, _ := p.allocate(testUID(7))
	p.release(testUID(7))
	if reused, _ := p.allocate("new"); reused != again {
		t.Fatalf("freed %s, got %s", again, reused)
	}
	if p.claim("x", netip.MustParseAddr("10.0.6.9")) {
		t.Fatal("claimed an address outside the node's /24")
	}
}
