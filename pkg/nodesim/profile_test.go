package nodesim

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// realisticKubelet is a pod on a node of the realistic profile, sharing
// store with other pods of the same node.
func realisticKubelet(t *testing.T, store *imageStore, catalog, name string, containers ...corev1.Container) *kubelet {
	t.Helper()
	k := newKubelet(t, catalog, containers...)
	k.pod.Name, k.pod.UID = name, types.UID("uid-"+name)
	p, err := NamedProfile(ProfileRealistic)
	if err != nil {
		t.Fatal(err)
	}
	k.env.profile, k.env.store = p, store
	return k
}

func TestRealisticProfileCreatesTheSandboxPullsThenStarts(t *testing.T) {
	k := realisticKubelet(t, &imageStore{}, "", "p", corev1.Container{Name: "app", Image: "app:1"})
	after := k.step()
	st := k.pod.Status
	if after != time.Second || st.Phase != corev1.PodPending || st.PodIP != "" || conditionTrue(&st, corev1.PodReadyToStartContainers) ||
		st.ContainerStatuses[0].State.Waiting == nil || st.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
		t.Fatalf("creating the sandbox: after %s, status %+v", after, st)
	}
	wantEvents(t, "sandbox", k.said())

	// 200Mi at 50MiB/s, then 300ms to start the container.
	after = k.wait(time.Second)
	st = k.pod.Status
	if after != 4300*time.Millisecond || st.PodIP == "" || !conditionTrue(&st, corev1.PodReadyToStartContainers) ||
		st.ContainerStatuses[0].State.Waiting == nil || st.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
		t.Fatalf("pulling: after %s, status %+v", after, st)
	}
	wantEvents(t, "pull", k.said(), `Normal Pulling: Pulling image "app:1"`)

	if after = k.wait(4 * time.Second); after != 300*time.Millisecond || k.container(0).State.Waiting == nil {
		t.Fatalf("starting the container: after %s, %+v", after, k.container(0).State)
	}
	wantEvents(t, "pulled, starting", k.said())
	k.wait(300 * time.Millisecond)
	if k.container(0).State.Running == nil || k.pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("running: %+v", k.pod.Status)
	}
	wantEvents(t, "started", k.said(), `Normal Pulled: Successfully pulled image "app:1" in 4s`, "Normal Created: Created container: app", "Normal Started: Started container app")
}

func TestImageOnTheNodeIsNotPulledAgain(t *testing.T) {
	store := &imageStore{}
	first := realisticKubelet(t, store, "", "first", corev1.Container{Name: "app", Image: "app:1"})
	first.step()
	first.wait(time.Second)
	first.wait(5 * time.Second)

	// A pod started later on the same node: sandbox, container start, no pull.
	second := realisticKubelet(t, store, "", "second", corev1.Container{Name: "app", Image: "app:1"})
	second.env.now = first.env.now
	second.step()
	if after := second.wait(time.Second); after != 300*time.Millisecond {
		t.Fatalf("the image is on the node: the container should only start, after %s", after)
	}
	second.wait(300 * time.Millisecond)
	if second.container(0).State.Running == nil {
		t.Fatalf("not running: %+v", second.container(0).State)
	}
	wantEvents(t, "second", second.said(), `Normal Pulled: Container image "app:1" already present on machine`,
		"Normal Created: Created container: app", "Normal Started: Started container app")
}

func TestPullsOfANodeAreSerialAndShared(t *testing.T) {
	store := &imageStore{}
	catalog := "images:\n- name: big:1\n  size: 500Mi\n- name: small:1\n  size: 50Mi\n"
	a := realisticKubelet(t, store, catalog, "a", corev1.Container{Name: "app", Image: "big:1"})
	b := realisticKubelet(t, store, catalog, "b", corev1.Container{Name: "app", Image: "small:1"})
	c := realisticKubelet(t, store, catalog, "c", corev1.Container{Name: "app", Image: "big:1"})
	for _, k := range []*kubelet{a, b, c} {
		k.step()
	}
	waits := map[string]time.Duration{}
	for _, k := range []*kubelet{a, b, c} {
		waits[k.pod.Name] = k.wait(time.Second)
	}
	// big:1 takes 10s; small:1 queues behind it (the kubelet pulls one
	// image at a time) and takes 1s; c shares a's pull of big:1.
	start := 300 * time.Millisecond
	if waits["a"] != 10*time.Second+start || waits["b"] != 11*time.Second+start || waits["c"] != 10*time.Second+start {
		t.Fatalf("waits %v, want a 10s, b 11s (queued), c 10s (shared), each and 300ms to start", waits)
	}
	c.wait(10*time.Second + 300*time.Millisecond)
	if c.container(0).State.Running == nil {
		t.Fatalf("c not running: %+v", c.container(0).State)
	}
	if got := c.said(); !strings.Contains(strings.Join(got, "\n"), `Successfully pulled image "big:1" in 10s`) {
		t.Errorf("events of the shared pull: %v", got)
	}

	parallel := &imageStore{}
	done1 := parallel.pull("x", []string{"x"}, 1, 10*time.Second, time.Unix(0, 0), false)
	done2 := parallel.pull("y", []string{"y"}, 1, time.Second, time.Unix(0, 0), false)
	if done1 != time.Unix(10, 0) || done2 != time.Unix(1, 0) {
		t.Errorf("parallel pulls end at %v and %v, want 10s and 1s", done1, done2)
	}
}

func TestInPlaceUpdatePullsOnlyTheNewImage(t *testing.T) {
	k := realisticKubelet(t, &imageStore{}, "images:\n- name: app:2\n  size: 100Mi\n", "p", corev1.Container{Name: "app", Image: "app:1"})
	k.step()
	k.wait(time.Second)
	k.wait(4*time.Second + 300*time.Millisecond)
	k.said()
	k.pod.Spec.Containers[0].Image = "app:2"
	// No new sandbox: 2s of pull, 300ms of start.
	if after := k.wait(time.Minute); after != 2300*time.Millisecond || k.container(0).State.Waiting == nil {
		t.Fatalf("in-place change: after %s, %+v", after, k.container(0).State)
	}
	k.wait(2300 * time.Millisecond)
	if cs := k.container(0); cs.State.Running == nil || cs.RestartCount != 1 || cs.Image != "app:2" {
		t.Fatalf("restarted in place: %+v", cs)
	}
}

func TestStatusImagesListPulledImages(t *testing.T) {
	c, err := ParseImageCatalog([]byte("images:\n- name: nginx:1.25\n  size: 2Gi\n"))
	if err != nil {
		t.Fatal(err)
	}
	store, base, t0 := &imageStore{}, nodeImages(MaxImages), time.Unix(100, 0)
	done := store.pull(c.ImageID("nginx:1.25"), c.StatusNames("nginx:1.25"), 2<<30, 40*time.Second, t0, true)
	if store.mark(t0).pulled != 0 || len(store.statusImages(base, t0, MaxImages)) != MaxImages || &store.statusImages(base, t0, MaxImages)[0] != &base[0] {
		t.Fatal("an image still pulling is listed")
	}
	got := store.statusImages(base, done, MaxImages)
	if store.mark(done).pulled != 1 || len(got) != MaxImages || got[0].SizeBytes != 2<<30 ||
		got[0].Names[1] != "docker.io/library/nginx:1.25" || !strings.HasPrefix(got[0].Names[0], "docker.io/library/nginx@sha256:") {
		t.Fatalf("status.images after the pull: %d images, first %+v", len(got), got[0])
	}
	if base[0].SizeBytes == 2<<30 {
		t.Fatal("the shared list was modified")
	}

	// A restarted simulator finds the image in a running container.
	again := &imageStore{}
	again.have(c.ImageID("nginx:1.25"), c.StatusNames("nginx:1.25"), 2<<30, done)
	if d := again.pull(c.ImageID("nginx:1.25"), nil, 2<<30, 40*time.Second, done.Add(time.Minute), true); !d.Equal(done.Add(time.Minute)) {
		t.Fatalf("an image found running is pulled again: done %v", d)
	}
}

func TestNamedProfiles(t *testing.T) {
	if _, err := NamedProfile("slow"); err == nil || !strings.Contains(err.Error(), "fast, realistic") {
		t.Fatalf("unknown profile: %v", err)
	}
	if p, _ := NamedProfile(ProfileFast); p != (Profile{}) {
		t.Fatalf("the fast profile takes time: %+v", p)
	}
	c := Config{Count: 1, Profile: Profile{SandboxStart: -time.Second}}
	c.Default()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Profile: sandbox start") {
		t.Fatalf("a negative sandbox start: %v", err)
	}
}

// On a running simulator: the realistic profile delays the start by the
// sandbox, the pull and the container start; the pulled image appears in
// the node's status.images at the next heartbeat; a second pod of the same
// image on that node starts without a pull.
func TestPulledImagesReachTheNodeStatus(t *testing.T) {
	p, _ := NamedProfile(ProfileRealistic)
	h := start(t, Config{Count: 1, NamePrefix: "n-", Profile: p})
	h.step(time.Second, 500*time.Millisecond) // registered
	h.client.ClearActions()
	h.createPod(podOn("first", "n-0", "app"))
	took := h.stepUntil("first running", 100*time.Millisecond, time.Minute, h.podIs("first", running))
	// 1s sandbox + 4s pull + 0.3s start; the API keeps times to the
	// second, so up to a second less.
	if took < 4300*time.Millisecond || took > 5500*time.Millisecond {
		t.Errorf("first pod ran after %s, want about 5.3s", took)
	}
	h.step(11*time.Second, 500*time.Millisecond)
	listed := false
	for _, st := range statusPatches(h)["n-0"] {
		for _, img := range st.Images {
			listed = listed || slices.Contains(img.Names, "docker.io/library/app:1.0")
		}
	}
	if !listed {
		t.Fatal("the pulled image is not in the node's status.images after a heartbeat")
	}
	h.createPod(podOn("second", "n-0", "app"))
	if took := h.stepUntil("second running", 100*time.Millisecond, time.Minute, h.podIs("second", running)); took > 1500*time.Millisecond {
		t.Errorf("second pod ran after %s: it should not pull an image the node holds", took)
	}
}
