package daemonset

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/flowcontrol"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/expectations"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// passEnv runs passes against a fake clientset: what the controller writes
// to pods, without an API server.
type passEnv struct {
	t    *testing.T
	clk  *clocktesting.FakeClock
	kube *fake.Clientset
	r    *Reconciler
	ds   *v1beta1.DaemonSet
	revs *revisions
}

func newPassEnv(t *testing.T, mod func(*v1beta1.DaemonSet)) *passEnv {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	kube := fake.NewClientset()
	// The fake does not generate names or UIDs; the API server would.
	seq := 0
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			seq++
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, seq)
			p.UID = types.UID(p.Name + "-uid")
		}
		return false, nil, nil
	})
	ds := &v1beta1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", UID: "ds-uid"},
		Spec: v1beta1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"role": "worker"},
					Containers:   []corev1.Container{{Name: "agent", Image: "agent:2"}},
				},
			},
		},
	}
	if mod != nil {
		mod(ds)
	}
	old := ds.Spec.Template.DeepCopy()
	old.Spec.Containers[0].Image = "agent:1"
	return &passEnv{t: t, clk: clk, kube: kube, ds: ds,
		r: &Reconciler{kube: kube, events: events.NewFakeRecorder(10), clock: clk,
			updater: &inplace.Updater{Pods: kube.CoreV1(), Clock: clk}, exp: expectations.New(clk, expectations.DefaultTimeout),
			failedBackoff: flowcontrol.NewFakeBackOff(time.Second, 15*time.Minute, clk)},
		revs: &revisions{update: "new", templates: map[string]*corev1.PodTemplateSpec{"new": &ds.Spec.Template, "old": old}},
	}
}

func worker(name string, labels map[string]string) corev1.Node {
	if labels == nil {
		labels = map[string]string{"role": "worker"}
	}
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// existing stores a ready pod of revision rev on node and returns it.
func (e *passEnv) existing(name, node, rev string, finalizers ...string) *corev1.Pod {
	p := e.r.newPassOrFail(e.t, e.ds, nil, nil, e.revs).newPod(node)
	p.Name, p.UID, p.Finalizers = name, types.UID(name+"-uid"), finalizers
	p.Labels[pub.ControllerRevisionHashLabelKey] = rev
	p.Spec.Containers[0].Image = e.revs.templates[rev].Spec.Containers[0].Image
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		{Type: pub.InPlaceUpdateReady, Status: corev1.ConditionTrue},
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", Image: p.Spec.Containers[0].Image, ImageID: "id-" + rev, Ready: true}}
	created, err := e.kube.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return created
}

func (r *Reconciler) newPassOrFail(t *testing.T, ds *v1beta1.DaemonSet, nodes []corev1.Node, pods []*corev1.Pod, revs *revisions) *pass {
	t.Helper()
	ps, err := r.newPass(ds, nodes, pods, revs)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// run runs one pass over nodes and every pod in the fake.
func (e *passEnv) run(nodes ...corev1.Node) []corev1.Pod {
	e.t.Helper()
	list, err := e.kube.CoreV1().Pods(e.ds.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var pods []*corev1.Pod
	for i := range list.Items {
		pods = append(pods, &list.Items[i])
	}
	ps := e.r.newPassOrFail(e.t, e.ds, nodes, pods, e.revs)
	ps.run(context.Background())
	if err := ps.err(); err != nil {
		e.t.Fatal(err)
	}
	after, err := e.kube.CoreV1().Pods(e.ds.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return after.Items
}

func TestPassCreatesPinnedDaemonPod(t *testing.T) {
	e := newPassEnv(t, nil)
	pods := e.run(worker("n1", nil), worker("db", map[string]string{"role": "db"}))
	if len(pods) != 1 {
		t.Fatalf("created %d pods, want one for the one matching node", len(pods))
	}
	p := pods[0]
	if targetNode(&p) != "n1" || p.Labels[PodLabel] == "" || p.Labels[pub.ControllerRevisionHashLabelKey] != "new" ||
		!metav1.IsControlledBy(&p, e.ds) || !inplace.HasReadinessGate(&p) {
		t.Errorf("pod %s: node %q labels %v owners %v gates %v", p.Name, targetNode(&p), p.Labels, p.OwnerReferences, p.Spec.ReadinessGates)
	}
	if !slices.ContainsFunc(p.Spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == corev1.TaintNodeUnschedulable }) {
		t.Errorf("no daemon tolerations: %v", p.Spec.Tolerations)
	}
}

// A pod that must go while the preDelete hook holds it moves to
// PreparingDelete; it is deleted once the hook owner releases it.
func TestPassPreDeleteHoldsThenDeletes(t *testing.T) {
	e := newPassEnv(t, func(ds *v1beta1.DaemonSet) {
		ds.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{FinalizersHandler: []string{"example.com/drain"}}}
	})
	e.existing("agent-a", "db", "new", "example.com/drain")
	db := worker("db", map[string]string{"role": "db"}) // no longer matches the nodeSelector
	pods := e.run(db)
	if len(pods) != 1 || pods[0].Labels[pub.LifecycleStateKey] != string(pub.LifecycleStatePreparingDelete) {
		t.Fatalf("pods %v, want agent-a held in PreparingDelete", pods)
	}
	released := pods[0].DeepCopy()
	released.Finalizers = nil
	if _, err := e.kube.CoreV1().Pods(released.Namespace).Update(context.Background(), released, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if pods := e.run(db); len(pods) != 0 {
		t.Errorf("released pod not deleted: %v", pods[0].Name)
	}
}

// InPlaceIfPossible: an image change keeps the pod (same UID), with the new
// image and revision, out of endpoints until the runtime reports it.
func TestPassInPlaceKeepsPod(t *testing.T) {
	e := newPassEnv(t, func(ds *v1beta1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &v1beta1.RollingUpdateDaemonSet{Type: v1beta1.InplaceRollingUpdateType}
	})
	before := e.existing("agent-a", "n1", "old")
	pods := e.run(worker("n1", nil))
	if len(pods) != 1 {
		t.Fatalf("%d pods after an in-place update", len(pods))
	}
	p := pods[0]
	if p.UID != before.UID || p.Spec.Containers[0].Image != "agent:2" || p.Labels[pub.ControllerRevisionHashLabelKey] != "new" {
		t.Errorf("pod %s uid %s image %s revision %s", p.Name, p.UID, p.Spec.Containers[0].Image, p.Labels[pub.ControllerRevisionHashLabelKey])
	}
	if g := inplace.GateCondition(&p); g == nil || g.Status != corev1.ConditionFalse {
		t.Errorf("InPlaceUpdateReady %v, want False while the runtime restarts the container", g)
	}
	// The other strategy recreates instead.
	e = newPassEnv(t, nil)
	e.existing("agent-b", "n1", "old")
	if _, err := e.kube.CoreV1().Pods("kube-system").Get(context.Background(), "agent-b", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	e.run(worker("n1", nil))
	if _, err := e.kube.CoreV1().Pods("kube-system").Get(context.Background(), "agent-b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Standard update kept the old pod: %v", err)
	}
}

func TestExpectationsWaitForOwnWrites(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	exp := expectations.New(clk, expectations.DefaultTimeout)
	key := types.NamespacedName{Namespace: "ns", Name: "agent"}
	exp.ExpectCreate(key, "agent-x")
	exp.ExpectWrite(key, "agent-y", "10")
	y := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "agent-y", ResourceVersion: "9"}}
	if ok, wait := exp.Satisfied(key, []*corev1.Pod{y}); ok || wait <= 0 {
		t.Fatalf("satisfied before the cache showed the create and the write")
	}
	x := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "agent-x"}}
	y.ResourceVersion = "11"
	if ok, _ := exp.Satisfied(key, []*corev1.Pod{x, y}); !ok {
		t.Errorf("not satisfied once the cache caught up")
	}
	exp.ExpectCreate(key, "agent-lost")
	clk.Step(expectations.DefaultTimeout + time.Second)
	if ok, _ := exp.Satisfied(key, nil); !ok {
		t.Errorf("a lost create still blocks after the timeout")
	}
}

// A pod that keeps failing is replaced, but each time later (backoff),
// never in a tight loop.
func TestPassFailedPodsBackOff(t *testing.T) {
	e := newPassEnv(t, nil)
	n1 := worker("n1", nil)
	fail := func(name string) {
		p, err := e.kube.CoreV1().Pods("kube-system").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodFailed
		if _, err := e.kube.CoreV1().Pods("kube-system").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.existing("agent-a", "n1", "new")
	fail("agent-a")
	pods := e.run(n1)
	if len(pods) != 1 || pods[0].Name == "agent-a" {
		t.Fatalf("failed pod not replaced: %v", pods)
	}
	// The replacement fails at once: it stays until the backoff passes.
	replacement := pods[0].Name
	fail(replacement)
	if pods := e.run(n1); len(pods) != 1 || pods[0].Name != replacement {
		t.Fatalf("replaced again within the backoff: %v", pods)
	}
	e.clk.Step(3 * time.Second)
	if pods := e.run(n1); len(pods) != 1 || pods[0].Name == replacement {
		t.Errorf("not replaced after the backoff: %v", pods)
	}
}
