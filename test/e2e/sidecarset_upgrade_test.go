package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// meshManifest is an OpenKruise v1beta1 SidecarSet with a cold sidecar
// (proxy) and a hot-upgrade one (mesh), rolled two pods at a time with
// %s as the partition.
const meshManifest = `apiVersion: apps.kruise.io/v1beta1
kind: SidecarSet
metadata:
  name: e2e-mesh
spec:
  selector:
    matchLabels: {app: mesh}
  containers:
  - name: proxy
    image: proxy:%s
    command: [%s]
  - name: mesh
    image: mesh:%s
    upgradeStrategy: {upgradeType: HotUpgrade, hotUpgradeEmptyImage: mesh-empty:1.0}
  updateStrategy:
    type: RollingUpdate
    maxUnavailable: 2
    partition: %d
`

// TestSidecarSetUpgrade rolls a SidecarSet's image change out to running
// pods in place: a partition holds pods back, never more than
// maxUnavailable pods lack a ready, current sidecar (watched throughout),
// every pod keeps its UID, the hot-upgrade pair swaps to the new image and
// puts the old container back on the empty image; a change of more than
// images is reported on the SidecarSet and on each pod, not rolled out.
func TestSidecarSetUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	cs, kc := sidecarCluster(t, "sidecarupgrade", []string{"get", "sidecarsets", "-o", "yaml"})
	ctx := context.Background()
	apply := func(version, command string, partition int) {
		t.Helper()
		if out, err := kc(fmt.Sprintf(meshManifest, version, command, version, partition), "apply", "-f", "-"); err != nil {
			t.Fatalf("apply SidecarSet: %v\n%s", err, out)
		}
	}
	const ns, replicas = "default", 6
	apply("1.0", "proxy", 2)
	eventually(t, time.Minute, "injection active", func() error {
		p, err := cs.CoreV1().Pods(ns).Create(ctx, appPod("probe", "mesh"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if got := containerNames(p); got != "proxy,mesh-1,mesh-2,main" {
			return fmt.Errorf("containers %s", got)
		}
		return nil
	})
	uids := map[string]types.UID{}
	for i := range replicas {
		p := createAppPod(t, cs, ns, fmt.Sprint("mesh-", i), "mesh")
		uids[p.Name] = p.UID
	}
	status := func() string {
		out, _ := kc("", "get", "sidecarset", "e2e-mesh", "-o", "jsonpath={.status.observedGeneration}/{.status.matchedPods}/{.status.updatedPods}/{.status.updatedReadyPods}/{.status.readyPods}")
		return out
	}
	gen := func() string {
		out, _ := kc("", "get", "sidecarset", "e2e-mesh", "-o", "jsonpath={.metadata.generation}")
		return out
	}
	waitStatus := func(updated int) {
		t.Helper()
		eventually(t, 2*time.Minute, fmt.Sprintf("%d of %d pods updated and ready", updated, replicas), func() error {
			want := fmt.Sprintf("%s/%d/%d/%d/%d", gen(), replicas, updated, updated, replicas)
			if got := status(); got != want {
				return fmt.Errorf("status generation/matched/updated/updatedReady/ready %s, want %s", got, want)
			}
			return nil
		})
	}
	waitStatus(replicas) // injected at the latest revision

	w := watchSidecarAvailability(t, cs.CoreV1().Pods(ns), "app=mesh")
	apply("2.0", "proxy", 2)
	waitStatus(replicas - 2)
	time.Sleep(3 * time.Second) // the partition must hold, not just be slow
	waitStatus(replicas - 2)
	apply("2.0", "proxy", 0)
	waitStatus(replicas)
	if n := w.stop(); n > 2 {
		t.Errorf("up to %d pods without a ready, current sidecar at once; maxUnavailable is 2", n)
	}

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=mesh"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.UID != uids[p.Name] {
			t.Errorf("pod %s was recreated (UID %s, was %s)", p.Name, p.UID, uids[p.Name])
		}
		images := map[string]string{}
		for _, c := range p.Spec.Containers {
			images[c.Name] = c.Image
		}
		if images["proxy"] != "proxy:2.0" || images["main"] != "app:1.0" {
			t.Errorf("pod %s runs %v: want proxy:2.0 and the app untouched", p.Name, images)
		}
		// The pair swapped: mesh-2 works on the new image, mesh-1 is back
		// on the empty image.
		if images["mesh-2"] != "mesh:2.0" || images["mesh-1"] != "mesh-empty:1.0" {
			t.Errorf("pod %s hot-upgrade pair %s / %s: want mesh-1 empty, mesh-2 on mesh:2.0", p.Name, images["mesh-1"], images["mesh-2"])
		}
		if !strings.Contains(p.Annotations["kruise.io/sidecarset-working-hotupgrade-container"], `"mesh":"mesh-2"`) {
			t.Errorf("pod %s working container annotation %q", p.Name, p.Annotations["kruise.io/sidecarset-working-hotupgrade-container"])
		}
	}

	// A change of more than images cannot be made in place: nothing rolls,
	// the SidecarSet and every pod say so.
	apply("3.0", "proxy2", 0)
	eventually(t, time.Minute, "InPlaceUpgradable False", func() error {
		out, _ := kc("", "get", "sidecarset", "e2e-mesh", "-o", `jsonpath={.status.conditions[?(@.type=="InPlaceUpgradable")].status}/{.status.conditions[?(@.type=="InPlaceUpgradable")].message}`)
		if !strings.HasPrefix(out, "False/6 pods run a revision") {
			return fmt.Errorf("condition %q", out)
		}
		return nil
	})
	eventually(t, time.Minute, "pods marked not upgradable", func() error {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=mesh"})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			ok := false
			for _, c := range p.Status.Conditions {
				ok = ok || (c.Type == "SidecarSetUpgradable" && c.Status == corev1.ConditionFalse)
			}
			if !ok {
				return fmt.Errorf("pod %s has no SidecarSetUpgradable=False condition", p.Name)
			}
			for _, c := range p.Spec.Containers {
				if c.Name == "proxy" && c.Image != "proxy:2.0" {
					return fmt.Errorf("pod %s proxy moved to %s by a change that is not image-only", p.Name, c.Image)
				}
			}
		}
		return nil
	})
}

// sidecarWatch records the most pods at once that are not Ready or whose
// proxy the runtime does not yet run as the spec says.
type sidecarWatch struct {
	mu      sync.Mutex
	pods    map[string]*corev1.Pod
	maxDown int
	cancel  func()
	done    chan struct{}
}

type podWatcher interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

func watchSidecarAvailability(t *testing.T, pods podWatcher, selector string) *sidecarWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	wi, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	w := &sidecarWatch{pods: map[string]*corev1.Pod{}, cancel: cancel, done: make(chan struct{})}
	for i := range list.Items {
		w.pods[list.Items[i].Name] = &list.Items[i]
	}
	w.observe()
	go func() {
		defer close(w.done)
		for ev := range wi.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				w.mu.Lock()
				w.pods[p.Name] = p
				w.mu.Unlock()
				w.observe()
			}
		}
	}()
	return w
}

func (w *sidecarWatch) observe() {
	w.mu.Lock()
	defer w.mu.Unlock()
	down := 0
	for _, p := range w.pods {
		if !sidecarServing(p) {
			down++
		}
	}
	w.maxDown = max(w.maxDown, down)
}

// sidecarServing: the pod is Ready and its proxy runs, ready, the image
// its spec names.
func sidecarServing(p *corev1.Pod) bool {
	ready := false
	for _, c := range p.Status.Conditions {
		ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
	}
	spec := ""
	for _, c := range p.Spec.Containers {
		if c.Name == "proxy" {
			spec = c.Image
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "proxy" {
			return ready && cs.Ready && cs.Image == spec
		}
	}
	return false
}

func (w *sidecarWatch) stop() int {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxDown
}
