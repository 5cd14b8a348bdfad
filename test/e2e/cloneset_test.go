package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/manager"
)

// csEnv is what the CloneSet tests share: the cluster, a typed client for
// CloneSets and the namespace.
type csEnv struct {
	t  *testing.T
	up *upProcess
	cs kubernetes.Interface
	c  client.Client
	ns string
}

// newCSEnv builds the clients the workload tests share.
func newCSEnv(t *testing.T, up *upProcess, cs kubernetes.Interface, ns string) *csEnv {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(up.dataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard()) // the client logs nothing the test reads
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &csEnv{up: up, cs: cs, c: c, ns: ns}
}

func testCloneSets(t *testing.T, up *upProcess, cs kubernetes.Interface, ns string) {
	e := newCSEnv(t, up, cs, ns)
	run := func(name string, f func(e *csEnv)) {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					raw, _ := os.ReadFile(filepath.Join(up.dataDir, "logs", "myriad-manager.log"))
					lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
					t.Logf("myriad-manager.log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
					out, _ := e.kubectl("", "get", "clonesets,pods", "-o", "wide", "-L", pub.LifecycleStateKey+","+pub.ControllerRevisionHashLabelKey)
					t.Logf("objects:\n%s", out)
				}
			})
			e := *e
			e.t = t
			f(&e)
		})
	}
	run("rejected at admission naming the field", testCloneSetAdmission)
	run("openkruise defaults and the Progressing condition", testCloneSetOpenKruiseDefaults)
	run("scale with podsToDelete and kubectl scale", testCloneSetScale)
	run("in-place rollout keeps pods and availability", testCloneSetInPlace)
	run("a label read into the environment restarts the container in place", testCloneSetEnvFromLabel)
	run("recreate rollout with surge", testCloneSetRecreate)
	run("partition, pause and rollback", testCloneSetPartition)
	run("preDelete hook holds deletion", testCloneSetPreDelete)
	run("inPlaceUpdate hook holds the update", testCloneSetInPlaceHook)
	run("a PVC per pod from volumeClaimTemplates", testCloneSetClaims)
	run("manager killed mid-rollout", testCloneSetManagerKilled)
	run("standby manager takes over", testCloneSetStandby)
}

func newCloneSet(ns, name string, replicas int32, typ v1alpha1.CloneSetUpdateStrategyType) *v1alpha1.CloneSet {
	return &v1alpha1.CloneSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.CloneSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "nginx:1.25"}}},
			},
			UpdateStrategy: v1alpha1.CloneSetUpdateStrategy{Type: typ},
		},
	}
}

func (e *csEnv) create(cs *v1alpha1.CloneSet) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), cs); err != nil {
		e.t.Fatalf("create CloneSet %s: %v", cs.Name, err)
	}
	e.t.Cleanup(func() { _ = e.c.Delete(context.Background(), cs) })
}

// modify re-reads the CloneSet, applies f and updates it, retrying conflicts
// with the controller's status writes.
func (e *csEnv) modify(name string, f func(*v1alpha1.CloneSet)) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "update CloneSet "+name, func() error {
		cs := &v1alpha1.CloneSet{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, cs); err != nil {
			return err
		}
		f(cs)
		return e.c.Update(context.Background(), cs)
	})
}

func (e *csEnv) get(name string) *v1alpha1.CloneSet {
	e.t.Helper()
	cs := &v1alpha1.CloneSet{}
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, cs); err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func (e *csEnv) pods(name string) []corev1.Pod {
	e.t.Helper()
	list, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// settled waits until the CloneSet has observed its spec and has want pods,
// updated of them at the update revision, all Running and Ready.
func (e *csEnv) settled(name string, want, updated int32, timeout time.Duration) *v1alpha1.CloneSet {
	e.t.Helper()
	var cs *v1alpha1.CloneSet
	eventually(e.t, timeout, fmt.Sprintf("CloneSet %s: %d pods, %d updated, all ready", name, want, updated), func() error {
		cs = &v1alpha1.CloneSet{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, cs); err != nil {
			return err
		}
		st := cs.Status
		if st.ObservedGeneration != cs.Generation || st.Replicas != want || st.ReadyReplicas != want || st.AvailableReplicas != want || st.UpdatedReplicas != updated || st.UpdatedReadyReplicas != updated {
			return fmt.Errorf("status %+v", st)
		}
		if n := len(e.pods(name)); n != int(want) {
			return fmt.Errorf("%d live pods", n)
		}
		return runningElsewhere(e.cs, e.ns, "app="+name, int(want), "")
	})
	return cs
}

func uids(pods []corev1.Pod) map[string]types.UID {
	out := map[string]types.UID{}
	for _, p := range pods {
		out[p.Name] = p.UID
	}
	return out
}

func setImage(image string) func(*v1alpha1.CloneSet) {
	return func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Image = image }
}

// availabilityWatch watches a CloneSet's pods from before a rollout to its
// end and records the most pods ever unavailable (not Ready, terminating or
// with InPlaceUpdateReady False, or missing below replicas) and the most
// pods that ever existed at once, not counting terminating ones.
type availabilityWatch struct {
	mu                  sync.Mutex
	pods                map[string]*corev1.Pod
	maxUnavail, maxPods int
	stop                func()
	done                chan struct{}
}

func (e *csEnv) watchAvailability(name string, replicas int) *availabilityWatch {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := e.cs.CoreV1().Pods(e.ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + name, ResourceVersion: list.ResourceVersion})
	if err != nil {
		e.t.Fatal(err)
	}
	a := &availabilityWatch{pods: map[string]*corev1.Pod{}, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		a.pods[list.Items[i].Name] = &list.Items[i]
	}
	a.observe(replicas)
	go func() {
		defer close(a.done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			a.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(a.pods, p.Name)
			} else {
				a.pods[p.Name] = p
			}
			a.mu.Unlock()
			a.observe(replicas)
		}
	}()
	return a
}

func (a *availabilityWatch) observe(replicas int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	avail, live := 0, 0
	for _, p := range a.pods {
		if p.DeletionTimestamp == nil {
			live++
		}
		gateOK := true
		for _, c := range p.Status.Conditions {
			if c.Type == pub.InPlaceUpdateReady && c.Status == corev1.ConditionFalse {
				gateOK = false
			}
		}
		if p.DeletionTimestamp == nil && podReady(p) && gateOK {
			avail++
		}
	}
	a.maxUnavail = max(a.maxUnavail, replicas-avail)
	a.maxPods = max(a.maxPods, live)
}

func (a *availabilityWatch) finish() (maxUnavail, maxPods int) {
	a.stop()
	<-a.done
	return a.maxUnavail, a.maxPods
}

// kubectlApply applies a manifest with the upstream kubectl and returns its
// combined output.
func (e *csEnv) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(e.up.dataDir, "kubeconfig"), "-n", e.ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const cloneSetManifest = `apiVersion: apps.kruise.io/v1alpha1
kind: CloneSet
metadata:
  name: %s
spec:
  replicas: %d
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - name: main
        image: nginx:1.25
  updateStrategy:
    type: %s
%s`

func testCloneSetAdmission(e *csEnv) {
	cases := []struct {
		name, manifest, want string
	}{
		{"selector not matching", strings.Replace(fmt.Sprintf(cloneSetManifest, "bad-sel", 2, "bad-sel", "bad-sel", "ReCreate", ""), "labels: {app: bad-sel}", "labels: {app: other}", 1),
			"spec.template.metadata.labels"},
		{"negative replicas", fmt.Sprintf(cloneSetManifest, "bad-rep", -1, "bad-rep", "bad-rep", "ReCreate", ""), "spec.replicas"},
		{"partition above replicas", fmt.Sprintf(cloneSetManifest, "bad-part", 2, "bad-part", "bad-part", "ReCreate", "    partition: 5\n"), "spec.updateStrategy.partition"},
		{"unknown update type", fmt.Sprintf(cloneSetManifest, "bad-type", 2, "bad-type", "bad-type", "Rolling", ""), "spec.updateStrategy.type"},
	}
	for _, tc := range cases {
		out, err := e.kubectl(tc.manifest, "apply", "--server-side", "-f", "-")
		if err == nil || !strings.Contains(out, tc.want) {
			e.t.Errorf("%s: kubectl apply: err=%v, output %q does not name %s", tc.name, err, out, tc.want)
		}
	}
	// InPlaceOnly with a change that cannot be made in place. The valid
	// manifest goes through a plain client-side apply, as OpenKruise users'
	// manifests do.
	if out, err := e.kubectl(fmt.Sprintf(cloneSetManifest, "only", 2, "only", "only", "InPlaceOnly", ""), "apply", "-f", "-"); err != nil {
		e.t.Fatalf("valid InPlaceOnly CloneSet rejected: %v\n%s", err, out)
	}
	e.t.Cleanup(func() { _, _ = e.kubectl("", "delete", "cloneset", "only", "--wait=false") })
	out, err := e.kubectl("", "patch", "cloneset", "only", "--type", "merge", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"nginx:1.25","env":[{"name":"A","value":"1"}]}]}}}}`)
	if err == nil || !strings.Contains(out, "spec.template.spec.containers[0].env") {
		e.t.Errorf("InPlaceOnly env change: err=%v, output %q does not name the env field", err, out)
	}
	// Nothing half-applied: the rejected ones do not exist.
	for _, n := range []string{"bad-sel", "bad-rep", "bad-part", "bad-type"} {
		if out, err := e.kubectl("", "get", "cloneset", n); err == nil {
			e.t.Errorf("rejected CloneSet %s exists: %s", n, out)
		}
	}
}

func testCloneSetScale(e *csEnv) {
	e.create(newCloneSet(e.ns, "scale", 6, v1alpha1.RecreateCloneSetUpdateStrategyType))
	e.settled("scale", 6, 6, 90*time.Second)
	pods := e.pods("scale")
	for _, p := range pods {
		if p.Labels[v1alpha1.CloneSetInstanceID] == "" || p.Labels[pub.ControllerRevisionHashLabelKey] == "" || p.Name != "scale-"+p.Labels[v1alpha1.CloneSetInstanceID] {
			e.t.Fatalf("pod %s lacks OpenKruise's labels: %v", p.Name, p.Labels)
		}
	}
	victim := pods[2].Name
	e.modify("scale", func(cs *v1alpha1.CloneSet) {
		cs.Spec.Replicas = ptr.To(int32(4))
		cs.Spec.ScaleStrategy.PodsToDelete = []string{victim}
	})
	e.settled("scale", 4, 4, 90*time.Second)
	if _, ok := uids(e.pods("scale"))[victim]; ok {
		e.t.Fatalf("scale-down to 4 kept %s, named in podsToDelete", victim)
	}
	// With replicas unchanged, a pod in podsToDelete is replaced.
	before := uids(e.pods("scale"))
	replaced := e.pods("scale")[0].Name
	e.modify("scale", func(cs *v1alpha1.CloneSet) { cs.Spec.ScaleStrategy.PodsToDelete = []string{replaced} })
	eventually(e.t, 90*time.Second, "pod in podsToDelete replaced", func() error {
		now := uids(e.pods("scale"))
		if _, ok := now[replaced]; ok {
			return fmt.Errorf("%s still there", replaced)
		}
		kept := 0
		for n, u := range before {
			if now[n] == u {
				kept++
			}
		}
		if len(now) != 4 || kept != 3 {
			return fmt.Errorf("%d pods, %d of the others kept", len(now), kept)
		}
		return nil
	})
	// The scale subresource: kubectl scale, as HPA uses it.
	if out, err := e.kubectl("", "scale", "cloneset", "scale", "--replicas", "2"); err != nil {
		e.t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	cs := e.settled("scale", 2, 2, 90*time.Second)
	if cs.Status.LabelSelector != "app=scale" {
		e.t.Fatalf("status.labelSelector = %q", cs.Status.LabelSelector)
	}
}

func testCloneSetInPlace(e *csEnv) {
	const replicas, maxUnavailable = 8, 2
	cs := newCloneSet(e.ns, "inplace-cs", replicas, v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType)
	cs.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromInt32(maxUnavailable))
	cs.Spec.UpdateStrategy.MaxSurge = ptr.To(intstr.FromInt32(3)) // must not be used for in-place (kruise#2369)
	e.create(cs)
	e.settled("inplace-cs", replicas, replicas, 90*time.Second)
	before := uids(e.pods("inplace-cs"))
	w := e.watchAvailability("inplace-cs", replicas)
	e.modify("inplace-cs", setImage("nginx:1.26"))
	after := e.settled("inplace-cs", replicas, replicas, 2*time.Minute)
	maxUnavail, maxPods := w.finish()
	if maxUnavail > maxUnavailable {
		e.t.Errorf("up to %d pods unavailable during the rollout, maxUnavailable is %d", maxUnavail, maxUnavailable)
	}
	if maxPods > replicas {
		e.t.Errorf("%d pods existed at once: an in-place update must not surge", maxPods)
	}
	for _, p := range e.pods("inplace-cs") {
		if before[p.Name] != p.UID {
			e.t.Errorf("pod %s was recreated, not updated in place", p.Name)
		}
		st := status(&p, "main")
		if st == nil || st.Image != "nginx:1.26" || st.RestartCount != 1 {
			e.t.Errorf("pod %s: container status %+v, want nginx:1.26 restarted once", p.Name, st)
		}
		if p.Labels[pub.ControllerRevisionHashLabelKey] != after.Status.UpdateRevision {
			e.t.Errorf("pod %s at revision %s, want %s", p.Name, p.Labels[pub.ControllerRevisionHashLabelKey], after.Status.UpdateRevision)
		}
		if p.Annotations[pub.InPlaceUpdateStateKey] == "" {
			e.t.Errorf("pod %s has no %s annotation", p.Name, pub.InPlaceUpdateStateKey)
		}
	}
	if after.Status.CurrentRevision != after.Status.UpdateRevision {
		e.t.Errorf("currentRevision %s, want the update revision %s", after.Status.CurrentRevision, after.Status.UpdateRevision)
	}
}

func testCloneSetRecreate(e *csEnv) {
	const replicas = 6
	cs := newCloneSet(e.ns, "recreate", replicas, v1alpha1.RecreateCloneSetUpdateStrategyType)
	cs.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromInt32(0))
	cs.Spec.UpdateStrategy.MaxSurge = ptr.To(intstr.FromInt32(2))
	e.create(cs)
	e.settled("recreate", replicas, replicas, 90*time.Second)
	before := uids(e.pods("recreate"))
	w := e.watchAvailability("recreate", replicas)
	e.modify("recreate", setImage("nginx:1.26"))
	e.settled("recreate", replicas, replicas, 3*time.Minute)
	maxUnavail, maxPods := w.finish()
	if maxUnavail > 0 {
		e.t.Errorf("up to %d pods unavailable with maxUnavailable 0", maxUnavail)
	}
	if maxPods > replicas+2 {
		e.t.Errorf("%d pods at once, above replicas+maxSurge = %d", maxPods, replicas+2)
	}
	for _, p := range e.pods("recreate") {
		if _, old := before[p.Name]; old {
			e.t.Errorf("pod %s survived a ReCreate rollout", p.Name)
		}
	}
}

func testCloneSetPartition(e *csEnv) {
	const replicas = 5
	cs := newCloneSet(e.ns, "part", replicas, v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType)
	cs.Spec.UpdateStrategy.Partition = ptr.To(intstr.FromInt32(3))
	e.create(cs)
	first := e.settled("part", replicas, replicas, 90*time.Second).Status.UpdateRevision
	e.modify("part", setImage("nginx:1.26"))
	got := e.settled("part", replicas, 2, 2*time.Minute)
	if got.Status.ExpectedUpdatedReplicas != 2 {
		e.t.Errorf("expectedUpdatedReplicas %d, want 2", got.Status.ExpectedUpdatedReplicas)
	}
	// A scale-up below the partition makes a pod at the current revision;
	// it must become Ready like any other (its gate opened).
	e.modify("part", func(cs *v1alpha1.CloneSet) {
		cs.Spec.Replicas = ptr.To[int32](replicas + 1)
		cs.Spec.UpdateStrategy.Partition = ptr.To(intstr.FromInt32(4))
	})
	e.settled("part", replicas+1, 2, 2*time.Minute)
	e.modify("part", func(cs *v1alpha1.CloneSet) {
		cs.Spec.Replicas = ptr.To[int32](replicas)
		cs.Spec.UpdateStrategy.Partition = ptr.To(intstr.FromInt32(3))
	})
	e.settled("part", replicas, 2, 2*time.Minute)
	// Paused: a new image goes nowhere.
	e.modify("part", func(cs *v1alpha1.CloneSet) {
		cs.Spec.UpdateStrategy.Paused = true
		cs.Spec.UpdateStrategy.Partition = nil
		cs.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	})
	e.settled("part", replicas, 0, time.Minute)
	time.Sleep(3 * time.Second)
	if n := e.get("part").Status.UpdatedReplicas; n != 0 {
		e.t.Fatalf("%d pods updated while paused", n)
	}
	e.modify("part", func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Paused = false })
	e.settled("part", replicas, replicas, 2*time.Minute)
	// Rollback to the first template: its revision is reused and every
	// pod returns to it, gate True.
	e.modify("part", setImage("nginx:1.25"))
	back := e.settled("part", replicas, replicas, 2*time.Minute)
	if back.Status.UpdateRevision != first {
		e.t.Errorf("rollback made revision %s, want the first one %s reused", back.Status.UpdateRevision, first)
	}
	for _, p := range e.pods("part") {
		for _, c := range p.Status.Conditions {
			if c.Type == pub.InPlaceUpdateReady && c.Status != corev1.ConditionTrue {
				e.t.Errorf("pod %s: InPlaceUpdateReady %s after rollback", p.Name, c.Status)
			}
		}
		if st := status(&p, "main"); st == nil || st.Image != "nginx:1.25" {
			e.t.Errorf("pod %s runs %+v after rollback", p.Name, st)
		}
	}
}

func testCloneSetPreDelete(e *csEnv) {
	cs := newCloneSet(e.ns, "hooked", 3, v1alpha1.RecreateCloneSetUpdateStrategyType)
	cs.Spec.Template.Labels["example.com/hold"] = "true"
	cs.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{LabelsHandler: map[string]string{"example.com/hold": "true"}, MarkPodNotReady: true}}
	e.create(cs)
	e.settled("hooked", 3, 3, 90*time.Second)
	condition := func(p corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
		for _, c := range p.Status.Conditions {
			if c.Type == t {
				return c.Status
			}
		}
		return ""
	}
	e.modify("hooked", func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To(int32(2)) })
	var held string
	eventually(e.t, time.Minute, "a pod held in PreparingDelete", func() error {
		for _, p := range e.pods("hooked") {
			if p.Labels[pub.LifecycleStateKey] == string(pub.LifecycleStatePreparingDelete) {
				held = p.Name
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	// markPodNotReady: the held pod leaves endpoints (KruisePodReady and
	// so Ready False), the others stay in.
	eventually(e.t, 30*time.Second, "held pod not ready, the others ready", func() error {
		for _, p := range e.pods("hooked") {
			want := corev1.ConditionTrue
			if p.Name == held {
				want = corev1.ConditionFalse
			}
			if k, r := condition(p, pub.KruisePodReadyConditionType), condition(p, corev1.PodReady); k != want || r != want {
				return fmt.Errorf("pod %s: KruisePodReady %q Ready %q, want %s", p.Name, k, r, want)
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	if len(e.pods("hooked")) != 3 {
		e.t.Fatalf("the held pod was deleted before the hook was released")
	}
	patch := []byte(`{"metadata":{"labels":{"example.com/hold":null}}}`)
	if _, err := e.cs.CoreV1().Pods(e.ns).Patch(context.Background(), held, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			out, _ := e.kubectl("", "get", "pod", held, "-o", "yaml")
			e.t.Logf("held pod:\n%s", out)
		}
	})
	eventually(e.t, time.Minute, "released pod deleted", func() error {
		if _, ok := uids(e.pods("hooked"))[held]; ok {
			return fmt.Errorf("%s still there", held)
		}
		return nil
	})
	e.settled("hooked", 2, 2, time.Minute)
}

// testCloneSetManagerKilled kills the manager with SIGKILL in the middle of
// a rollout; the supervisor restarts it and the rollout finishes with
// exactly replicas pods, none created twice.
func testCloneSetManagerKilled(e *csEnv) {
	const replicas = 12
	cs := newCloneSet(e.ns, "killed", replicas, v1alpha1.RecreateCloneSetUpdateStrategyType)
	cs.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromInt32(2))
	// Simulated pods turn Ready within a second, so without minReadySeconds
	// the six batches can finish between two polls and the kill would land
	// after the rollout. Five seconds per batch keeps it under way for ~30 s.
	// (settled waits for availability: pods still inside minReadySeconds
	// count as unavailable and would all be replaced at once, as in
	// OpenKruise.)
	cs.Spec.MinReadySeconds = 5
	e.create(cs)
	e.settled("killed", replicas, replicas, 2*time.Minute)
	w := e.watchAvailability("killed", replicas)
	e.modify("killed", setImage("nginx:1.26"))
	eventually(e.t, time.Minute, "rollout under way", func() error {
		cs := e.get("killed")
		if n := cs.Status.UpdatedReplicas; cs.Status.ObservedGeneration != cs.Generation || n == 0 || n == replicas {
			return fmt.Errorf("generation %d, status %+v", cs.Generation, cs.Status)
		}
		return nil
	})
	out, err := execOutput("pgrep", "-f", "myriad manager .*"+regexp.QuoteMeta(e.up.dataDir))
	if err != nil || out == "" {
		e.t.Fatalf("find myriad manager: %v %q", err, out)
	}
	pid, err := strconv.Atoi(strings.Fields(out)[0])
	if err != nil {
		e.t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, time.Minute, "supervisor restarts the manager", func() error {
		if !strings.Contains(e.up.out.String(), "myriad-manager: restarted and ready") {
			return fmt.Errorf("no restart reported yet")
		}
		return nil
	})
	e.settled("killed", replicas, replicas, 3*time.Minute)
	maxUnavail, maxPods := w.finish()
	if maxUnavail > 2 || maxPods > replicas {
		e.t.Errorf("across the kill: up to %d unavailable (max 2), %d pods at once (max %d)", maxUnavail, maxPods, replicas)
	}
	if n := len(e.pods("killed")); n != replicas {
		e.t.Errorf("%d pods after the rollout, want %d", n, replicas)
	}
}

// testCloneSetStandby runs a second manager beside the one `myriad up`
// supervises: it stays a warm standby, takes the leader Lease within
// seconds of the leader hanging, and reconciles.
func testCloneSetStandby(e *csEnv) {
	ctx := context.Background()
	probe := freePort(e.t)
	e.create(newCloneSet(e.ns, "failover", 2, v1alpha1.RecreateCloneSetUpdateStrategyType))
	e.settled("failover", 2, 2, time.Minute)
	standby := exec.Command(binary, "manager", "--kubeconfig", filepath.Join(e.up.dataDir, "kubeconfigs", "manager.kubeconfig"),
		"--metrics-bind-address", "0", "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probe), "--webhook-bind-address", "")
	standbyLog := &strings.Builder{}
	standby.Stdout, standby.Stderr = standbyLog, standbyLog
	if err := standby.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("standby manager output:\n%s", standbyLog.String())
		}
	})
	e.t.Cleanup(func() { _ = standby.Process.Signal(syscall.SIGTERM); _ = standby.Wait() })
	leader := func() string {
		l, err := e.cs.CoordinationV1().Leases("kube-system").Get(ctx, manager.LeaderElectionID, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	first := leader()
	eventually(e.t, time.Minute, "standby ready", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
	if first == "" || leader() != first {
		e.t.Fatalf("leader changed to %q when the standby started (was %q)", leader(), first)
	}
	out, err := execOutput("pgrep", "-f", "myriad manager .*"+regexp.QuoteMeta(e.up.dataDir))
	if err != nil {
		e.t.Fatalf("find the supervised manager: %v", err)
	}
	// SIGSTOP, not SIGKILL: a hung leader stops renewing but stays alive,
	// so the supervisor does not start a third instance that could win the
	// race for the Lease. Resumed, it finds itself deposed and exits; the
	// supervisor then restarts it as a standby.
	hung := 0
	for _, f := range strings.Fields(out) {
		pid, _ := strconv.Atoi(f)
		if pid > 0 && pid != standby.Process.Pid && syscall.Kill(pid, syscall.SIGSTOP) == nil {
			hung = pid
			break
		}
	}
	if hung == 0 {
		e.t.Fatalf("no supervised manager among %q", out)
	}
	e.t.Cleanup(func() { _ = syscall.Kill(hung, syscall.SIGCONT) })
	began := time.Now()
	// Only the standby can take the Lease: the hung leader is alive, so the
	// supervisor starts no replacement.
	eventually(e.t, time.Minute, "the standby takes the Lease", func() error {
		if l := leader(); l == first || l == "" {
			return fmt.Errorf("holder still %q", l)
		}
		return nil
	})
	e.t.Logf("standby took over %.1fs after the leader hung", time.Since(began).Seconds())
	// The hung process also serves the webhook, so CloneSet writes are
	// refused until it resumes; the scale subresource is not validated and
	// shows the new leader at work.
	if out, err := e.kubectl("", "scale", "cloneset", "failover", "--replicas", "4"); err != nil {
		e.t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	e.settled("failover", 4, 4, time.Minute)
}

// testCloneSetClaims checks volumeClaimTemplates: one PVC per pod, named
// <template>-<cloneset>-<instance id> and mounted by it; scaling down
// deletes the PVCs of the removed pods. (No volume provisioner runs here,
// so the pods stay Pending; only the objects are checked.)
func testCloneSetClaims(e *csEnv) {
	ctx := context.Background()
	cs := newCloneSet(e.ns, "claims", 3, v1alpha1.RecreateCloneSetUpdateStrategyType)
	cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	cs.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	e.create(cs)
	claimsOf := func() (map[string]bool, error) {
		list, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=claims"})
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, c := range list.Items {
			if c.DeletionTimestamp == nil {
				out[c.Name] = true
			}
		}
		return out, nil
	}
	check := func(want int) error {
		pods := e.pods("claims")
		claims, err := claimsOf()
		if err != nil {
			return err
		}
		if len(pods) != want || len(claims) != want {
			return fmt.Errorf("%d pods and %d PVCs, want %d of each", len(pods), len(claims), want)
		}
		for _, p := range pods {
			name := "data-claims-" + p.Labels[v1alpha1.CloneSetInstanceID]
			if !claims[name] {
				return fmt.Errorf("pod %s has no PVC %s", p.Name, name)
			}
			mounted := false
			for _, v := range p.Spec.Volumes {
				mounted = mounted || (v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name)
			}
			if !mounted {
				return fmt.Errorf("pod %s does not use PVC %s", p.Name, name)
			}
		}
		return nil
	}
	eventually(e.t, time.Minute, "a PVC per pod", func() error { return check(3) })
	e.modify("claims", func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To(int32(1)) })
	eventually(e.t, time.Minute, "PVCs of removed pods deleted", func() error { return check(1) })
}

// testCloneSetInPlaceHook checks the inPlaceUpdate hook: pods wait in
// PreparingUpdate on the old image while the hook holds them, a released
// pod is updated and waits in Updated, and returns to Normal once the hook
// owner re-arms it.
func testCloneSetInPlaceHook(e *csEnv) {
	ctx := context.Background()
	const hold = "example.com/serving"
	cs := newCloneSet(e.ns, "ip-hook", 3, v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType)
	cs.Spec.Template.Labels[hold] = "true"
	cs.Spec.UpdateStrategy.MaxUnavailable = ptr.To(intstr.FromString("100%"))
	cs.Spec.Lifecycle = &pub.Lifecycle{InPlaceUpdate: &pub.LifecycleHook{LabelsHandler: map[string]string{hold: "true"}}}
	e.create(cs)
	e.settled("ip-hook", 3, 3, 90*time.Second)
	e.modify("ip-hook", setImage("nginx:1.26"))
	states := func() map[string]string {
		out := map[string]string{}
		for _, p := range e.pods("ip-hook") {
			out[p.Name] = p.Labels[pub.LifecycleStateKey] + "/" + p.Spec.Containers[0].Image
		}
		return out
	}
	eventually(e.t, time.Minute, "every pod held in PreparingUpdate on the old image", func() error {
		for n, s := range states() {
			if s != string(pub.LifecycleStatePreparingUpdate)+"/nginx:1.25" {
				return fmt.Errorf("%s is %s", n, s)
			}
		}
		return nil
	})
	label := func(pod, value string) {
		e.t.Helper()
		v := "null"
		if value != "" {
			v = strconv.Quote(value)
		}
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, hold, v))
		if _, err := e.cs.CoreV1().Pods(e.ns).Patch(ctx, pod, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	released := e.pods("ip-hook")[0].Name
	label(released, "")
	eventually(e.t, time.Minute, "the released pod updated and waiting in Updated", func() error {
		if s := states()[released]; s != string(pub.LifecycleStateUpdated)+"/nginx:1.26" {
			return fmt.Errorf("%s is %s", released, s)
		}
		return nil
	})
	for n, s := range states() {
		if n != released && s != string(pub.LifecycleStatePreparingUpdate)+"/nginx:1.25" {
			e.t.Errorf("held pod %s moved on to %s", n, s)
		}
	}
	label(released, "true")
	eventually(e.t, time.Minute, "the re-armed pod back to Normal", func() error {
		if s := states()[released]; s != string(pub.LifecycleStateNormal)+"/nginx:1.26" {
			return fmt.Errorf("%s is %s", released, s)
		}
		return nil
	})
}
