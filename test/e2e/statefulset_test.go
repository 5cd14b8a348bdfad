package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/statefulset"
)

// testStatefulSets runs the Advanced StatefulSet tests on TestCluster's
// cluster, whose manager reports pods stuck terminating after 20 s.
func testStatefulSets(t *testing.T, up *upProcess, cs kubernetes.Interface, ns string) {
	env := newCSEnv(t, up, cs, ns)
	// The CloneSet tests before these kill the manager, whose webhook
	// admits StatefulSets too; wait until it answers again.
	eventually(t, 2*time.Minute, "the workload webhook answers", func() error {
		return env.c.Create(context.Background(), newStatefulSet(ns, "sts-probe", 1), client.DryRunAll)
	})
	run := func(name string, f func(e *csEnv)) {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					out, _ := env.kubectl("", "get", "statefulsets.apps.kruise.io,pods,pvc", "-o", "wide", "-L", pub.LifecycleStateKey+","+pub.ControllerRevisionHashLabelKey)
					raw, _ := os.ReadFile(filepath.Join(up.dataDir, "logs", "myriad-manager.log"))
					lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
					t.Logf("objects:\n%s\nmyriad-manager.log, last lines:\n%s", out, strings.Join(lines[max(0, len(lines)-40):], "\n"))
				}
			})
			e := *env
			e.t = t
			f(&e)
		})
	}
	run("OpenKruise manifests apply unchanged, bad input named", testStatefulSetAdmission)
	run("ordered scale with stable names and claims, retention", testStatefulSetOrderedScale)
	run("parallel scale with ordinals.start and reserveOrdinals", testStatefulSetReserved)
	run("in-place update under partition and maxUnavailable", testStatefulSetInPlace)
	run("a pod stuck terminating holds nothing back", testStatefulSetStuck)
	run("preDelete hook holds a scaled-down pod", testStatefulSetPreDelete)
	run("claims grow with their templates on rolling update", testStatefulSetClaimsGrow)
}

func newStatefulSet(ns, name string, replicas int32) *v1beta1.StatefulSet {
	return &v1beta1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1beta1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}},
			},
		},
	}
}

func (e *csEnv) createSet(set *v1beta1.StatefulSet) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), set); err != nil {
		e.t.Fatalf("create StatefulSet %s: %v", set.Name, err)
	}
	e.t.Cleanup(func() { _ = e.c.Delete(context.Background(), set) })
}

func (e *csEnv) modifySet(name string, f func(*v1beta1.StatefulSet)) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "update StatefulSet "+name, func() error {
		set := &v1beta1.StatefulSet{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, set); err != nil {
			return err
		}
		f(set)
		return e.c.Update(context.Background(), set)
	})
}

// setSettled waits until the set has observed its spec and runs exactly
// the pods named by ordinals, updated of them at the update revision, all
// Ready; it returns the pods by name.
func (e *csEnv) setSettled(name string, ordinals []int, updated int32, timeout time.Duration) map[string]corev1.Pod {
	e.t.Helper()
	var byName map[string]corev1.Pod
	want := make([]string, len(ordinals))
	for i, o := range ordinals {
		want[i] = fmt.Sprintf("%s-%d", name, o)
	}
	sort.Strings(want)
	eventually(e.t, timeout, fmt.Sprintf("StatefulSet %s: pods %v, %d updated, all ready", name, want, updated), func() error {
		set := &v1beta1.StatefulSet{}
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, set); err != nil {
			return err
		}
		st := set.Status
		n := int32(len(ordinals))
		if st.ObservedGeneration != set.Generation || st.Replicas != n || st.ReadyReplicas != n || st.UpdatedReplicas != updated {
			return fmt.Errorf("status %+v", st)
		}
		byName = map[string]corev1.Pod{}
		var got []string
		for _, p := range e.pods(name) {
			if !podReady(&p) {
				return fmt.Errorf("pod %s not ready", p.Name)
			}
			byName[p.Name] = p
			got = append(got, p.Name)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("pods %v", got)
		}
		return nil
	})
	return byName
}

const advancedStatefulSetManifest = `apiVersion: apps.kruise.io/%s
kind: StatefulSet
metadata:
  name: %s
spec:
  replicas: 2
  serviceName: %s
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      readinessGates:
      - conditionType: InPlaceUpdateReady
      containers:
      - name: main
        image: nginx:1.25
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      podUpdatePolicy: InPlaceIfPossible
      maxUnavailable: 50%%
%s`

func testStatefulSetAdmission(e *csEnv) {
	for _, v := range []string{"v1alpha1", "v1beta1"} {
		name := "sts-manifest-" + v
		if out, err := e.kubectl(fmt.Sprintf(advancedStatefulSetManifest, v, name, name, name, name, ""), "apply", "-f", "-"); err != nil {
			e.t.Fatalf("apps.kruise.io/%s manifest refused: %v\n%s", v, err, out)
		}
		e.t.Cleanup(func() { _, _ = e.kubectl("", "delete", "statefulsets.apps.kruise.io", name, "--wait=false") })
		e.setSettled(name, []int{0, 1}, 2, 2*time.Minute)
	}
	cases := []struct{ extra, field string }{
		{"  reserveOrdinals: [\"3-1\"]\n", "spec.reserveOrdinals[0]"},
		{"  reserveOrdinals: [\"x\"]\n", "spec.reserveOrdinals[0]"},
	}
	for _, c := range cases {
		out, err := e.kubectl(fmt.Sprintf(advancedStatefulSetManifest, "v1beta1", "bad", "bad", "bad", "bad", c.extra), "apply", "-f", "-")
		if err == nil {
			_, _ = e.kubectl("", "delete", "statefulsets.apps.kruise.io", "bad")
			e.t.Errorf("%q accepted", c.extra)
			continue
		}
		if !strings.Contains(out, c.field) {
			e.t.Errorf("%q refused without naming %s:\n%s", c.extra, c.field, out)
		}
	}
}

// podOrder records, from a watch, the order in which pods of app first
// appeared and the pods that were not Ready when a later one appeared.
type podOrder struct {
	mu      sync.Mutex
	created []string
	early   []string // pods created while a lower ordinal was not Ready
	stop    context.CancelFunc
	done    chan struct{}
}

func (e *csEnv) watchOrder(app string) *podOrder {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := e.cs.CoreV1().Pods(e.ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		e.t.Fatal(err)
	}
	o := &podOrder{stop: cancel, done: make(chan struct{})}
	ready := map[string]bool{}
	go func() {
		defer close(o.done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			o.mu.Lock()
			switch {
			case ev.Type == watch.Added:
				for _, prev := range o.created {
					if !ready[prev] {
						o.early = append(o.early, p.Name+" before "+prev+" was Ready")
					}
				}
				o.created = append(o.created, p.Name)
			case ev.Type == watch.Modified:
				ready[p.Name] = podReady(p)
			case ev.Type == watch.Deleted:
				delete(ready, p.Name)
			}
			o.mu.Unlock()
		}
	}()
	return o
}

func (o *podOrder) finish() (created, early []string) {
	o.stop()
	<-o.done
	return o.created, o.early
}

func (e *csEnv) claims(app string) map[string]*corev1.PersistentVolumeClaim {
	e.t.Helper()
	list, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*corev1.PersistentVolumeClaim{}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out
}

func dataClaim() []corev1.PersistentVolumeClaim {
	return []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
}

// testStatefulSetOrderedScale: OrderedReady creates db-0, db-1, db-2 one at
// a time, each after the previous is Ready, with claim data-db-N each;
// scaling down removes the highest first and, under whenScaled Delete,
// their claims; a recreated pod gets its claim back; deleting the set
// under whenDeleted Delete removes the rest.
func testStatefulSetOrderedScale(e *csEnv) {
	set := newStatefulSet(e.ns, "sts-ordered", 3)
	set.Spec.VolumeClaimTemplates = dataClaim()
	set.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	set.Spec.PersistentVolumeClaimRetentionPolicy = &v1beta1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: v1beta1.DeletePersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  v1beta1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	order := e.watchOrder("sts-ordered")
	e.createSet(set)
	pods := e.setSettled("sts-ordered", []int{0, 1, 2}, 3, 2*time.Minute)
	created, early := order.finish()
	if !slices.Equal(created, []string{"sts-ordered-0", "sts-ordered-1", "sts-ordered-2"}) || len(early) > 0 {
		e.t.Errorf("OrderedReady created %v (out of order: %v)", created, early)
	}
	for name, p := range pods {
		if p.Spec.Hostname != name || p.Spec.Subdomain != "sts-ordered" || p.Labels[appsv1.StatefulSetPodNameLabel] != name {
			e.t.Errorf("pod %s: hostname %q subdomain %q pod-name label %q", name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels[appsv1.StatefulSetPodNameLabel])
		}
		if c := e.claims("sts-ordered")["data-"+name]; c == nil {
			e.t.Errorf("no claim data-%s", name)
		}
	}
	// A deleted pod comes back under its name, with its claim.
	kept := e.claims("sts-ordered")["data-sts-ordered-1"].UID
	if err := e.cs.CoreV1().Pods(e.ns).Delete(context.Background(), "sts-ordered-1", metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, time.Minute, "ordered-1 recreated", func() error {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(context.Background(), "sts-ordered-1", metav1.GetOptions{})
		if err != nil || p.UID == pods["sts-ordered-1"].UID || !podReady(p) {
			return fmt.Errorf("not yet: %v", err)
		}
		return nil
	})
	if c := e.claims("sts-ordered")["data-sts-ordered-1"]; c == nil || c.UID != kept {
		e.t.Errorf("recreated ordered-1 did not get its claim back")
	}
	e.modifySet("sts-ordered", func(s *v1beta1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	e.setSettled("sts-ordered", []int{0}, 1, 2*time.Minute)
	eventually(e.t, time.Minute, "claims of scaled-down pods deleted", func() error {
		got := e.claims("sts-ordered")
		if len(got) != 1 || got["data-sts-ordered-0"] == nil {
			return fmt.Errorf("claims %v", keys(got))
		}
		return nil
	})
	if err := e.c.Delete(context.Background(), set); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, time.Minute, "claims deleted with the set", func() error {
		if got := e.claims("sts-ordered"); len(got) > 0 {
			return fmt.Errorf("claims %v", keys(got))
		}
		return nil
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testStatefulSetReserved: ordinals from 5 with 6 and 8-9 reserved run
// pods 5, 7 and 10; reserving 7 moves its pod to 11.
func testStatefulSetReserved(e *csEnv) {
	set := newStatefulSet(e.ns, "sts-reserved", 3)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.Ordinals = &v1beta1.StatefulSetOrdinals{Start: 5}
	set.Spec.ReserveOrdinals = []intstr.IntOrString{intstr.FromInt32(6), intstr.FromString("8-9")}
	e.createSet(set)
	e.setSettled("sts-reserved", []int{5, 7, 10}, 3, time.Minute)
	e.modifySet("sts-reserved", func(s *v1beta1.StatefulSet) {
		s.Spec.ReserveOrdinals = append(s.Spec.ReserveOrdinals, intstr.FromInt32(7))
	})
	e.setSettled("sts-reserved", []int{5, 10, 11}, 3, time.Minute)
}

// testStatefulSetInPlace: an image change under InPlaceIfPossible with
// partition 2 of 5 and maxUnavailable 2 updates only ordinals 2-4, in
// place (same UIDs), never more than 2 unavailable; partition 0 finishes.
func testStatefulSetInPlace(e *csEnv) {
	set := newStatefulSet(e.ns, "sts-inplace", 5)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.UpdateStrategy = v1beta1.StatefulSetUpdateStrategy{
		Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &v1beta1.RollingUpdateStatefulSetStrategy{
			Partition:       ptr.To[int32](2),
			MaxUnavailable:  ptr.To(intstr.FromInt32(2)),
			PodUpdatePolicy: v1beta1.InPlaceIfPossiblePodUpdateStrategyType,
		},
	}
	e.createSet(set)
	before := e.setSettled("sts-inplace", []int{0, 1, 2, 3, 4}, 5, time.Minute)
	watch := e.watchAvailability("sts-inplace", 5)
	e.modifySet("sts-inplace", func(s *v1beta1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "db:2" })
	after := e.setSettled("sts-inplace", []int{0, 1, 2, 3, 4}, 3, 2*time.Minute)
	for name, p := range after {
		want := "db:2"
		if name == "sts-inplace-0" || name == "sts-inplace-1" {
			want = "db:1"
		}
		if img := p.Spec.Containers[0].Image; img != want {
			e.t.Errorf("%s runs %s, want %s (partition 2)", name, img, want)
		}
		if p.UID != before[name].UID {
			e.t.Errorf("%s was recreated, not updated in place", name)
		}
	}
	// A pod recreated below the partition comes back at the current
	// revision, and must become Ready (its gate opened) like any other.
	if err := e.cs.CoreV1().Pods(e.ns).Delete(context.Background(), "sts-inplace-0", metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, time.Minute, "inplace-0 recreated at the current revision and Ready", func() error {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(context.Background(), "sts-inplace-0", metav1.GetOptions{})
		if err != nil || p.UID == before["sts-inplace-0"].UID || !podReady(p) || p.Spec.Containers[0].Image != "db:1" {
			return fmt.Errorf("not yet (%v)", err)
		}
		before["sts-inplace-0"] = *p
		return nil
	})
	e.modifySet("sts-inplace", func(s *v1beta1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
	after = e.setSettled("sts-inplace", []int{0, 1, 2, 3, 4}, 5, 2*time.Minute)
	if maxUnavail, _ := watch.finish(); maxUnavail > 2 {
		e.t.Errorf("%d pods unavailable at once, maxUnavailable is 2", maxUnavail)
	}
	for name, p := range after {
		if p.UID != before[name].UID {
			e.t.Errorf("%s was recreated, not updated in place", name)
		}
	}
}

// testStatefulSetStuck: a pod that never finishes terminating (held by a
// finalizer) is reported after the stuck-after time, and OrderedReady
// scaling goes on past it; releasing it brings it back and clears the
// report.
func testStatefulSetStuck(e *csEnv) {
	ctx := context.Background()
	e.createSet(newStatefulSet(e.ns, "sts-stuck", 3))
	e.setSettled("sts-stuck", []int{0, 1, 2}, 3, 2*time.Minute)
	const hold = "e2e.myriad.dev/hold"
	patch := fmt.Sprintf(`{"metadata":{"finalizers":[%q]}}`, hold)
	if _, err := e.cs.CoreV1().Pods(e.ns).Patch(ctx, "sts-stuck-1", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
	release := func() {
		_, _ = e.cs.CoreV1().Pods(e.ns).Patch(ctx, "sts-stuck-1", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	}
	e.t.Cleanup(release)
	if err := e.cs.CoreV1().Pods(e.ns).Delete(ctx, "sts-stuck-1", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		e.t.Fatal(err)
	}
	e.modifySet("sts-stuck", func(s *v1beta1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](4) })
	condition := func() (*appsv1.StatefulSetCondition, error) {
		set := &v1beta1.StatefulSet{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "sts-stuck"}, set); err != nil {
			return nil, err
		}
		for i := range set.Status.Conditions {
			if set.Status.Conditions[i].Type == statefulset.PodsStuckTerminating {
				return &set.Status.Conditions[i], nil
			}
		}
		return nil, nil
	}
	eventually(e.t, 2*time.Minute, "stuck-1 reported and stuck-3 created past it", func() error {
		cond, err := condition()
		if err != nil {
			return err
		}
		if cond == nil || cond.Status != corev1.ConditionTrue || !strings.Contains(cond.Message, "sts-stuck-1") {
			return fmt.Errorf("condition %+v", cond)
		}
		p, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, "sts-stuck-3", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !podReady(p) {
			return fmt.Errorf("stuck-3 not ready")
		}
		return nil
	})
	release()
	e.setSettled("sts-stuck", []int{0, 1, 2, 3}, 4, 2*time.Minute)
	eventually(e.t, time.Minute, "condition cleared", func() error {
		cond, err := condition()
		if err != nil {
			return err
		}
		if cond != nil && cond.Status != corev1.ConditionFalse {
			return fmt.Errorf("condition %+v", cond)
		}
		return nil
	})
}

// testStatefulSetPreDelete: with a preDelete hook, a scaled-down pod waits
// in PreparingDelete until the hook owner removes its label.
func testStatefulSetPreDelete(e *csEnv) {
	ctx := context.Background()
	set := newStatefulSet(e.ns, "sts-hooked", 2)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{LabelsHandler: map[string]string{"e2e/drain": "true"}}}
	set.Spec.Template.Labels["e2e/drain"] = "true"
	e.createSet(set)
	e.setSettled("sts-hooked", []int{0, 1}, 2, time.Minute)
	e.modifySet("sts-hooked", func(s *v1beta1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	eventually(e.t, time.Minute, "hooked-1 held in PreparingDelete", func() error {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, "sts-hooked-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s := p.Labels[pub.LifecycleStateKey]; s != string(pub.LifecycleStatePreparingDelete) || p.DeletionTimestamp != nil {
			return fmt.Errorf("state %q, deleting %v", s, p.DeletionTimestamp != nil)
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	if _, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, "sts-hooked-1", metav1.GetOptions{}); err != nil {
		e.t.Fatalf("held pod gone while the hook holds it: %v", err)
	}
	if _, err := e.cs.CoreV1().Pods(e.ns).Patch(ctx, "sts-hooked-1", types.MergePatchType, []byte(`{"metadata":{"labels":{"e2e/drain":null}}}`), metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, time.Minute, "released pod deleted", func() error {
		_, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, "sts-hooked-1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("hooked-1 still there: %v", err)
	})
}
