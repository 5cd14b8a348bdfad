package nodesim

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	k8stesting "k8s.io/client-go/testing"
)

func TestPodStatusPatchCarriesOnlyChangesAndTheUID(t *testing.T) {
	old := corev1.PodStatus{Phase: corev1.PodPending, HostIP: "10.0.0.1", Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	}}
	if p, err := podStatusPatch("uid-1", &old, old.DeepCopy(), nil); err != nil || p != nil {
		t.Fatalf("unchanged status: patch %s, err %v; want none", p, err)
	}

	upd := old.DeepCopy()
	upd.Phase = corev1.PodRunning
	upd.Conditions = append(upd.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	patch, err := podStatusPatch("uid-1", &old, upd, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"uid":"uid-1"`, `"phase":"Running"`, `"type":"Ready"`} {
		if !strings.Contains(string(patch), want) {
			t.Errorf("patch %s lacks %s", patch, want)
		}
	}
	// Unchanged fields and conditions stay out (PodScheduled appears only
	// in the list-order directive).
	if strings.Contains(string(patch), "10.0.0.1") || strings.Count(string(patch), `"status":"True"`) != 1 {
		t.Errorf("patch %s repeats unchanged fields", patch)
	}

	// Applied to what the server holds meanwhile (another writer added a
	// readiness-gate condition), the patch keeps that condition.
	server := corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "uid-1"}, Status: *old.DeepCopy()}
	server.Status.Conditions = append(server.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue})
	raw, _ := json.Marshal(server)
	merged, err := strategicpatch.StrategicMergePatch(raw, patch, corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(merged, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodRunning || cond(&got, "example.com/lb") != corev1.ConditionTrue || cond(&got, corev1.PodReady) != corev1.ConditionTrue {
		t.Fatalf("merged status %+v", got.Status)
	}
}

// TestConcurrentStatusWritersDoNotConflict has another client write each
// pod's status just before nodesim's first write to it lands, as the
// CloneSet controller does during an in-place rollout. Against a server
// that enforces resourceVersion on updates (the fake does not, so a
// reactor does), an Update of the whole status fails with a Conflict once
// per pod; a patch cannot conflict and keeps the other writer's condition.
func TestConcurrentStatusWritersDoNotConflict(t *testing.T) {
	const pods = 20
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	var (
		mu        sync.Mutex
		interfere = map[string]bool{}
		conflicts int
		writes    = map[string]int{}
	)
	h.client.PrependReactor("*", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "status" || (a.GetVerb() != "update" && a.GetVerb() != "patch") {
			return false, nil, nil
		}
		var (
			name   string
			update *corev1.Pod
		)
		switch a := a.(type) {
		case k8stesting.UpdateAction:
			update = a.GetObject().(*corev1.Pod)
			name = update.Name
		case k8stesting.PatchAction:
			name = a.GetName()
		}
		mu.Lock()
		defer mu.Unlock()
		writes[a.GetVerb()]++
		gvr := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
		if !interfere[name] {
			interfere[name] = true
			obj, err := h.client.Tracker().Get(gvr, "default", name)
			if err != nil {
				return true, nil, err
			}
			p := obj.(*corev1.Pod).DeepCopy()
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionFalse})
			if err := h.client.Tracker().Update(gvr, p, "default"); err != nil {
				return true, nil, err
			}
		}
		// The fake keeps no resourceVersion on objects, so stand in for the
		// server's check: an update built from a copy that predates the
		// other writer's condition is one the server refuses.
		if update != nil && cond(update, "example.com/lb") == "" {
			conflicts++
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), name, fmt.Errorf("the object has been modified"))
		}
		return false, nil, nil
	})
	for i := range pods {
		h.createPod(podOn(fmt.Sprint("web-", i), "n-0"))
	}
	for i := range pods {
		p := h.waitPod(fmt.Sprint("web-", i), "running", running)
		if cond(p, "example.com/lb") != corev1.ConditionFalse {
			t.Errorf("pod %s lost the other writer's condition: %+v", p.Name, p.Status.Conditions)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("status writes %v, conflicts %d, for %d pods each written once concurrently by another client", writes, conflicts, pods)
	if conflicts != 0 || writes["update"] != 0 {
		t.Fatalf("%d conflicts and %d whole-status updates; want patches only", conflicts, writes["update"])
	}
}

// TestRefusedPodWriteAffectsOnlyThatPod: a 403 on one pod's status (an
// admission policy, say) is retried for that pod; the other pods run and
// the nodes keep renewing their Leases.
func TestRefusedPodWriteAffectsOnlyThatPod(t *testing.T) {
	h := start(t, Config{Count: 2, NamePrefix: "n-", HeartbeatInterval: time.Second})
	var (
		mu      sync.Mutex
		refused int
	)
	h.client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() != "denied" {
			return false, nil, nil
		}
		mu.Lock()
		refused++
		mu.Unlock()
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "denied", fmt.Errorf("denied by policy"))
	})
	h.createPod(podOn("denied", "n-0"))
	h.eventually("the refused write", func() bool { mu.Lock(); defer mu.Unlock(); return refused > 0 })
	h.createPod(podOn("fine", "n-0"))
	h.waitPod("fine", "running", running)

	before := len(h.renewals())
	h.step(3*time.Second, 100*time.Millisecond)
	if after := len(h.renewals()); after < before+4 {
		t.Fatalf("leases renewed %d times in 3s of 2 nodes after the refusal; heartbeats stalled", after-before)
	}
	if p := h.pod("denied"); p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" {
		t.Fatalf("refused pod's status changed: %+v", p.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if refused < 2 {
		t.Fatalf("the refused pod was tried %d times; want retries", refused)
	}
}

// TestStaleCopyIsNotActedOn: after its own write, nodesim waits for the
// watch to bring that write back rather than compute the same transition
// again from the older copy (which would start containers twice).
func TestStaleCopyIsNotActedOn(t *testing.T) {
	s := &sim{}
	p := podOn("web", "n-0")
	s.written.Store(p.UID, uint64(10))
	for rv, want := range map[string]bool{"9": true, "10": false, "11": false, "": false, "opaque": false} {
		p.ResourceVersion = rv
		if got := s.stale(p); got != want {
			t.Errorf("copy at resourceVersion %q after our write at 10: stale=%t, want %t", rv, got, want)
		}
	}
	if other := podOn("other", "n-0"); s.stale(other) {
		t.Error("a pod never written is stale")
	}
}
