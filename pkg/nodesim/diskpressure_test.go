package nodesim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOverLimitAsTheKubelet(t *testing.T) {
	limited := func(limits ...string) *corev1.Pod {
		p := podOn("p", "n-0", "a", "b")
		for i, l := range limits {
			if l != "" {
				p.Spec.Containers[i].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(l)}
			}
		}
		return p
	}
	wrote := func(a, b float64) []float64 { return []float64{a, b} }
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		a, b float64
		want string
	}{
		{"no limits", limited(), 5 << 30, 5 << 30, ""},
		{"within", limited("1Gi", "1Gi"), 900 << 20, 900 << 20, ""},
		{"the pod's sum", limited("1Gi", "1Gi"), 1200 << 20, 900 << 20, "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. "},
		{"one container", limited("1Gi", "1Gi"), 1200 << 20, 100 << 20, `Container a exceeded its local ephemeral storage limit "1Gi". `},
		{"unlimited containers count toward the pod's sum", limited("", "1Gi"), 2 << 30, 0, "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. "},
	} {
		if got := overLimit(tc.pod, wrote(tc.a, tc.b)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestImageGarbageCollectionFreesLeastRecentlyUsedFirst(t *testing.T) {
	var s imageStore
	const mi = 1 << 20
	s.have("old", []string{"old:1"}, 300*mi, t0)
	s.have("used", []string{"used:1"}, 500*mi, t0)
	s.have("recent", []string{"recent:1"}, 200*mi, t0.Add(time.Minute))
	s.have("young", []string{"young:1"}, 400*mi, t0.Add(9*time.Minute))
	s.pull("pulling", []string{"pulling:1"}, 100*mi, time.Minute, t0.Add(10*time.Minute), true)
	now := t0.Add(10 * time.Minute)
	inUse := func(id string) bool { return id == "used" }

	// 250Mi wanted: the least recently used image (300Mi) is enough.
	if freed := s.collect(inUse, 250*mi, imageMinimumGCAge, now); freed != 300*mi {
		t.Fatalf("freed %v bytes, want 300Mi", freed)
	}
	// All that can go: "recent"; not the image in use, the one pulled a
	// minute ago, or the one still being pulled.
	if freed := s.collect(inUse, math.Inf(1), imageMinimumGCAge, now); freed != 200*mi {
		t.Fatalf("freed %v bytes, want 200Mi", freed)
	}
	if m := s.mark(now.Add(time.Minute)); m.pulled != 3 || m.deleted != 2 {
		t.Fatalf("after collection: %+v, want 3 images left and 2 deleted", m)
	}
	if got := s.bytes(); got != 1000*mi {
		t.Fatalf("%v bytes held, want 1000Mi", got)
	}
	// Once no container uses it, the image that was in use goes last: it
	// was used more recently than the young one was pulled.
	later := now.Add(5 * time.Minute)
	if freed := s.collect(func(string) bool { return false }, 1, imageMinimumGCAge, later); freed != 400*mi {
		t.Fatalf("freed %v bytes, want the young image's 400Mi", freed)
	}
}

// diskNode is a one-node config whose disk is small enough to fill: 10Gi
// of system and capacity of ephemeral storage, no pre-pulled images.
func diskNode(capacity string) Config {
	return Config{Count: 1, NamePrefix: "n-", Images: NoImages, Capacity: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("10"),
		corev1.ResourceEphemeralStorage: resource.MustParse(capacity)}}
}

// A pod that writes more and more gets the node into DiskPressure and is
// evicted as the kubelet evicts it; the pod beside it keeps running.
func TestDiskPressureEvictsTheLargestWriter(t *testing.T) {
	h := start(t, diskNode("40Gi"))
	hog := podOn("hog", "n-0")
	hog.Annotations = map[string]string{"nodes.myriad.dev/disk-usage": "ramp 0 30Gi 10m"}
	h.createPod(hog)
	h.createPod(podOn("quiet", "n-0"))
	h.waitPod("hog", "running", running)
	h.waitPod("quiet", "running", running)

	// 40Gi less 10Gi of system and a 6Gi threshold: the ramp (3Gi a
	// minute) passes 24Gi after 8 minutes.
	took := h.stepUntil("hog evicted", 5*time.Second, 12*time.Minute, h.podIs("hog", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed }))
	if took < 7*time.Minute {
		t.Errorf("evicted after %s, before the disk was full", took)
	}
	p := h.pod("hog")
	if p.Status.Reason != "Evicted" || !strings.HasPrefix(p.Status.Message, "The node was low on resource: ephemeral-storage. Threshold quantity: 6Gi, available: ") ||
		!strings.Contains(p.Status.Message, "Container app was using ") || !strings.HasSuffix(p.Status.Message, ", request is 0, has larger consumption of ephemeral-storage. ") {
		t.Fatalf("evicted status: reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	if q := h.pod("quiet"); q.Status.Phase != corev1.PodRunning {
		t.Errorf("quiet pod %s, want Running", q.Status.Phase)
	}
	h.step(11*time.Second, 500*time.Millisecond)
	if c := nodeCondition(h.node("n-0"), corev1.NodeDiskPressure); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "KubeletHasDiskPressure" {
		t.Fatalf("node condition after the eviction: %+v", c)
	}
	h.step(5*time.Minute+20*time.Second, 5*time.Second)
	if c := nodeCondition(h.node("n-0"), corev1.NodeDiskPressure); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "KubeletHasNoDiskPressure" {
		t.Fatalf("node condition 5 minutes later: %+v", c)
	}
}

// A pod that writes past its containers' ephemeral-storage limits is
// evicted with no pressure on the node.
func TestPodOverItsStorageLimitIsEvicted(t *testing.T) {
	h := start(t, Config{Count: 1, NamePrefix: "n-"})
	p := podOn("writer", "n-0")
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}
	p.Annotations = map[string]string{"nodes.myriad.dev/disk-usage": "ramp 0 2Gi 2m"}
	h.createPod(p)
	h.waitPod("writer", "running", running)
	took := h.stepUntil("writer evicted", 5*time.Second, 3*time.Minute, h.podIs("writer", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed }))
	if took < time.Minute {
		t.Errorf("evicted after %s, before it passed its limit", took)
	}
	if got := h.pod("writer"); got.Status.Reason != "Evicted" || got.Status.Message != "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. " {
		t.Fatalf("evicted status: reason %q message %q", got.Status.Reason, got.Status.Message)
	}
	if c := nodeCondition(h.node("n-0"), corev1.NodeDiskPressure); c == nil || c.Status != corev1.ConditionFalse {
		t.Fatalf("a 1Ti node under pressure: %+v", c)
	}
}

// Under the realistic profile pulled images fill the disk too; when it
// runs low the kubelet first deletes the images no container uses, and
// a pod is evicted only if that is not enough.
func TestDiskPressureDeletesUnusedImagesBeforeEvicting(t *testing.T) {
	cfg := diskNode("12.5Gi") // 10Gi of system; DiskPressure past 10.625Gi used
	var err error
	if cfg.Profile, err = NamedProfile(ProfileRealistic); err != nil {
		t.Fatal(err)
	}
	h := start(t, cfg)
	h.createPod(podOn("old", "n-0")) // pulls app:1.0, 200Mi
	h.stepUntil("old running", time.Second, time.Minute, h.podIs("old", running))
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "old", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w := podOn("writer", "n-0", "web") // pulls web:1.0, 200Mi
	w.Annotations = map[string]string{"nodes.myriad.dev/disk-usage": "ramp 0 400Mi 4m"}
	h.createPod(w)
	h.stepUntil("writer running", time.Second, time.Minute, h.podIs("writer", running))
	h.stepUntil("both pulled images in status.images", time.Second, 30*time.Second, func() bool { return len(h.node("n-0").Status.Images) == 2 })
	// 400Mi of images and 240Mi written: DiskPressure, and deleting
	// app:1.0 is enough (the writer ends at 600Mi).
	h.stepUntil("disk pressure", 5*time.Second, 4*time.Minute, func() bool {
		c := nodeCondition(h.node("n-0"), corev1.NodeDiskPressure)
		return c != nil && c.Status == corev1.ConditionTrue
	})
	h.stepUntil("app:1.0 deleted", 5*time.Second, time.Minute, func() bool {
		images := h.node("n-0").Status.Images
		return len(images) == 1 && strings.HasPrefix(images[0].Names[len(images[0].Names)-1], "docker.io/library/web:1.0")
	})
	h.step(4*time.Minute, 5*time.Second)
	if p := h.pod("writer"); p.Status.Phase != corev1.PodRunning {
		t.Fatalf("writer %s (%s), want Running: deleting the unused image freed enough", p.Status.Phase, p.Status.Message)
	}
}
