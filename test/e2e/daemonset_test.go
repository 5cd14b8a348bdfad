package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/manager"
)

// dsEnv is what the Advanced DaemonSet tests share.
type dsEnv struct {
	t *testing.T
	// root is TestDaemonSet's own: what must outlive one subtest (an
	// added node) is cleaned up with it.
	root *testing.T
	up   *upProcess
	cs   kubernetes.Interface
	c    client.Client
	ns   string
}

// TestDaemonSet runs a cluster of its own: the tests taint, cordon, label
// and add nodes, which would disturb the other tests' workloads.
func TestDaemonSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	dataDir := filepath.Join(t.TempDir(), "cluster")
	up := startUp(t, dataDir, freePort(t), freePort(t), "--nodes", "4")
	defer up.stop(t)
	cs := up.client(t)
	ctx := context.Background()
	ns := "agents"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "default ServiceAccount", func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &dsEnv{root: t, up: up, cs: cs, c: c, ns: ns}
	run := func(name string, f func(e *dsEnv)) {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					raw, _ := os.ReadFile(filepath.Join(dataDir, "logs", "myriad-manager.log"))
					lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
					t.Logf("myriad-manager.log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
					out, _ := e.kubectl("", "get", "daemonsets.apps.kruise.io,pods,nodes", "-o", "wide")
					t.Logf("objects:\n%s", out)
				}
			})
			e := *e
			e.t = t
			f(&e)
		})
	}
	run("admission names the field", testDaemonSetAdmission)
	run("a pod on every eligible node, new nodes too", testDaemonSetPlacement)
	run("phased in-place rollout by node label", testDaemonSetPhasedRollout)
	run("surge keeps every node covered", testDaemonSetSurge)
}

func (e *dsEnv) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(e.up.dataDir, "kubeconfig"), "-n", e.ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// agentManifest is an OpenKruise v1alpha1 manifest, applied unchanged.
const agentManifest = `apiVersion: apps.kruise.io/v1alpha1
kind: DaemonSet
metadata:
  name: %s
spec:
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - name: agent
        image: agent:1
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
%s`

func (e *dsEnv) apply(name, rollingUpdate string) {
	e.t.Helper()
	m := fmt.Sprintf(agentManifest, name, name, name, "      "+strings.ReplaceAll(strings.TrimSpace(rollingUpdate), "\n", "\n      ")+"\n")
	if out, err := e.kubectl(m, "apply", "-f", "-"); err != nil {
		e.t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

func (e *dsEnv) modify(name string, f func(*v1beta1.DaemonSet)) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "update DaemonSet "+name, func() error {
		ds := &v1beta1.DaemonSet{}
		if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name}, ds); err != nil {
			return err
		}
		f(ds)
		return e.c.Update(context.Background(), ds)
	})
}

// podsByNode maps each node to the image of its one live pod; a node with
// two live pods is an error.
func (e *dsEnv) podsByNode(name string) (map[string]corev1.Pod, error) {
	list, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return nil, err
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if _, dup := out[p.Spec.NodeName]; dup {
			return nil, fmt.Errorf("node %s runs two pods", p.Spec.NodeName)
		}
		out[p.Spec.NodeName] = p
	}
	return out, nil
}

// settled waits until exactly nodes run one ready pod each with image.
func (e *dsEnv) settled(name string, nodes []string, image string, timeout time.Duration) map[string]corev1.Pod {
	e.t.Helper()
	var pods map[string]corev1.Pod
	want := strings.Join(nodes, ",")
	eventually(e.t, timeout, fmt.Sprintf("%s on %s with %s", name, want, image), func() error {
		var err error
		if pods, err = e.podsByNode(name); err != nil {
			return err
		}
		var got []string
		for n, p := range pods {
			// The runtime must report the image too: a pod whose spec just
			// changed can still carry the Ready condition of its old run
			// until its node has seen the change.
			st := status(&p, p.Spec.Containers[0].Name)
			if p.Spec.Containers[0].Image != image || st == nil || st.Image != image || !podReady(&p) {
				return fmt.Errorf("pod %s on %s: image %s ready %v", p.Name, n, p.Spec.Containers[0].Image, podReady(&p))
			}
			got = append(got, n)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != want {
			return fmt.Errorf("pods on %v", got)
		}
		return nil
	})
	return pods
}

func node(i int) string { return fmt.Sprintf("myriad-node-%d", i) }

func testDaemonSetAdmission(e *dsEnv) {
	for _, tc := range []struct{ rollingUpdate, want string }{
		{"rollingUpdateType: InPlaceIfPossible\nmaxSurge: 1\nmaxUnavailable: 0", "spec.updateStrategy.rollingUpdate.maxSurge"},
		{"rollingUpdateType: Rolling", "spec.updateStrategy.rollingUpdate.rollingUpdateType"},
		{"selector: {matchExpressions: [{key: wave, operator: Near}]}", "spec.updateStrategy.rollingUpdate.selector"},
		{"maxUnavailable: 0\nmaxSurge: 0", "spec.updateStrategy.rollingUpdate.maxUnavailable"},
		{"partition: -1", "spec.updateStrategy.rollingUpdate.partition"},
	} {
		m := fmt.Sprintf(agentManifest, "bad", "bad", "bad", "      "+strings.ReplaceAll(tc.rollingUpdate, "\n", "\n      ")+"\n")
		out, err := e.kubectl(m, "apply", "-f", "-")
		if err == nil || !strings.Contains(out, tc.want) {
			e.t.Errorf("%q: accepted or wrong field (err %v):\n%s", tc.rollingUpdate, err, out)
		}
	}
	m := strings.Replace(fmt.Sprintf(agentManifest, "bad", "bad", "bad", "      maxUnavailable: 1\n"), "labels: {app: bad}", "labels: {app: other}", 1)
	if out, err := e.kubectl(m, "apply", "-f", "-"); err == nil || !strings.Contains(out, "spec.template.metadata.labels") {
		e.t.Errorf("selector not matching the template: accepted or wrong field (err %v):\n%s", err, out)
	}
}

// Upstream placement: a cordoned node keeps its agent (daemon pods
// tolerate node.kubernetes.io/unschedulable), a node with an untolerated
// NoSchedule taint gets none, an untolerated NoExecute taint evicts it, and
// a node that joins later gets one.
func testDaemonSetPlacement(e *dsEnv) {
	ctx := context.Background()
	taint := func(n string, effect corev1.TaintEffect, add bool) {
		eventually(e.t, 30*time.Second, "taint "+n, func() error {
			nd, err := e.cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			nd.Spec.Taints = slicesDeleteTaint(nd.Spec.Taints, "e2e.myriad.dev/dedicated")
			if add {
				nd.Spec.Taints = append(nd.Spec.Taints, corev1.Taint{Key: "e2e.myriad.dev/dedicated", Value: "db", Effect: effect})
			}
			_, err = e.cs.CoreV1().Nodes().Update(ctx, nd, metav1.UpdateOptions{})
			return err
		})
	}
	if out, err := e.kubectl("", "cordon", node(2)); err != nil {
		e.t.Fatalf("cordon: %v\n%s", err, out)
	}
	taint(node(3), corev1.TaintEffectNoSchedule, true)
	e.apply("placed", "maxUnavailable: 1")
	e.settled("placed", []string{node(0), node(1), node(2)}, "agent:1", 2*time.Minute)

	// A node added later: a second simulator process, as a user adding
	// capacity would run it.
	cmd := exec.Command(binary, "nodes", "--kubeconfig", filepath.Join(e.up.dataDir, "kubeconfig"), "--count", "1", "--start-index", "4")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.root.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	e.settled("placed", []string{node(0), node(1), node(2), node(4)}, "agent:1", 2*time.Minute)

	taint(node(1), corev1.TaintEffectNoExecute, true)
	e.settled("placed", []string{node(0), node(2), node(4)}, "agent:1", time.Minute)
	ds := &v1beta1.DaemonSet{}
	// The status follows once the controller's cache has seen the eviction.
	eventually(e.t, 30*time.Second, "status after the eviction", func() error {
		if err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: "placed"}, ds); err != nil {
			return err
		}
		if s := ds.Status; s.DesiredNumberScheduled != 3 || s.CurrentNumberScheduled != 3 || s.NumberMisscheduled != 0 {
			return fmt.Errorf("desired %d current %d misscheduled %d, want 3, 3 and 0", s.DesiredNumberScheduled, s.CurrentNumberScheduled, s.NumberMisscheduled)
		}
		return nil
	})
	// Leave the cluster as found for the rollouts; node 4 stays.
	taint(node(1), "", false)
	taint(node(3), "", false)
	if out, err := e.kubectl("", "uncordon", node(2)); err != nil {
		e.t.Fatalf("uncordon: %v\n%s", err, out)
	}
	if err := e.c.Delete(ctx, ds); err != nil {
		e.t.Fatal(err)
	}
}

func slicesDeleteTaint(ts []corev1.Taint, key string) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range ts {
		if t.Key != key {
			out = append(out, t)
		}
	}
	return out
}

// nodeWatch follows a DaemonSet's pods continuously and records the most
// nodes ever without a ready, in-place-ready pod, and the most pods any
// node ever had.
type nodeWatch struct {
	mu             sync.Mutex
	pods           map[string]*corev1.Pod
	nodes          []string
	maxUncovered   int
	maxPodsPerNode int
	stop           func()
	done           chan struct{}
}

func (e *dsEnv) watchNodes(name string, nodes []string) *nodeWatch {
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
	nw := &nodeWatch{pods: map[string]*corev1.Pod{}, nodes: nodes, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		nw.pods[list.Items[i].Name] = &list.Items[i]
	}
	nw.observe()
	go func() {
		defer close(nw.done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			nw.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(nw.pods, p.Name)
			} else {
				nw.pods[p.Name] = p
			}
			nw.mu.Unlock()
			nw.observe()
		}
	}()
	return nw
}

func (nw *nodeWatch) observe() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	covered, perNode := map[string]bool{}, map[string]int{}
	for _, p := range nw.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		perNode[p.Spec.NodeName]++
		gateOK := true
		for _, c := range p.Status.Conditions {
			if c.Type == pub.InPlaceUpdateReady && c.Status == corev1.ConditionFalse {
				gateOK = false
			}
		}
		if podReady(p) && gateOK {
			covered[p.Spec.NodeName] = true
		}
	}
	uncovered := 0
	for _, n := range nw.nodes {
		if !covered[n] {
			uncovered++
		}
		nw.maxPodsPerNode = max(nw.maxPodsPerNode, perNode[n])
	}
	nw.maxUncovered = max(nw.maxUncovered, uncovered)
}

func (nw *nodeWatch) finish() (maxUncovered, maxPodsPerNode int) {
	nw.stop()
	<-nw.done
	return nw.maxUncovered, nw.maxPodsPerNode
}

// The node-agent release: a new image to the nodes labelled wave=1, then
// paused while the selector widens, then resumed, then everywhere; in
// place, so every pod keeps its UID, and never more than maxUnavailable
// nodes without a ready agent.
func testDaemonSetPhasedRollout(e *dsEnv) {
	ctx := context.Background()
	all := []string{node(0), node(1), node(2), node(3), node(4)}
	for i, wave := range []string{"1", "2", "2", "3", "3"} {
		if out, err := e.kubectl("", "label", "node", all[i], "--overwrite", "e2e.myriad.dev/wave="+wave); err != nil {
			e.t.Fatalf("label: %v\n%s", err, out)
		}
	}
	e.apply("agent", "rollingUpdateType: InPlaceIfPossible\nmaxUnavailable: 1")
	before := e.settled("agent", all, "agent:1", 2*time.Minute)
	nw := e.watchNodes("agent", all)
	image := func(img string) func(*v1beta1.DaemonSet) {
		return func(ds *v1beta1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = img }
	}
	waves := func(ws ...string) func(*v1beta1.DaemonSet) {
		return func(ds *v1beta1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "e2e.myriad.dev/wave", Operator: metav1.LabelSelectorOpIn, Values: ws}}}
		}
	}
	images := func() map[string]string {
		pods, err := e.podsByNode("agent")
		if err != nil {
			e.t.Fatal(err)
		}
		out := map[string]string{}
		for n, p := range pods {
			out[n] = p.Spec.Containers[0].Image
		}
		return out
	}
	wantImages := func(what string, want map[string]string) {
		eventually(e.t, 2*time.Minute, what, func() error {
			got := images()
			for n, img := range want {
				if got[n] != img {
					return fmt.Errorf("node %s runs %s, want %s (all: %v)", n, got[n], img, got)
				}
			}
			return nil
		})
	}

	e.modify("agent", func(ds *v1beta1.DaemonSet) { image("agent:2")(ds); waves("1")(ds) })
	wantImages("wave 1 updated", map[string]string{node(0): "agent:2", node(1): "agent:1", node(2): "agent:1", node(3): "agent:1", node(4): "agent:1"})

	// Pause, then widen to wave 2: nothing moves until resumed.
	e.modify("agent", func(ds *v1beta1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate.Paused = ptrTrue() })
	e.modify("agent", waves("1", "2"))
	time.Sleep(5 * time.Second)
	if got := images(); got[node(1)] != "agent:1" || got[node(2)] != "agent:1" {
		e.t.Errorf("paused rollout moved: %v", got)
	}
	e.modify("agent", func(ds *v1beta1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate.Paused = nil })
	wantImages("wave 2 updated after resume", map[string]string{node(1): "agent:2", node(2): "agent:2", node(3): "agent:1", node(4): "agent:1"})

	e.modify("agent", func(ds *v1beta1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate.Selector = nil })
	after := e.settled("agent", all, "agent:2", 2*time.Minute)
	maxUncovered, maxPods := nw.finish()
	for n, p := range after {
		if before[n].UID != p.UID {
			e.t.Errorf("node %s: pod %s replaced by %s; an image change must be made in place", n, before[n].Name, p.Name)
		}
	}
	if maxUncovered > 1 || maxPods > 1 {
		e.t.Errorf("at worst %d nodes without a ready agent (maxUnavailable 1) and %d pods on a node", maxUncovered, maxPods)
	}
	ds := &v1beta1.DaemonSet{}
	if err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: "agent"}, ds); err != nil {
		e.t.Fatal(err)
	}
	if s := ds.Status; s.UpdatedNumberScheduled != 5 || s.NumberAvailable != 5 || s.UpdateRevision == "" || s.DaemonSetHash != s.UpdateRevision {
		e.t.Errorf("status %+v", s)
	}
	// The same object read as v1alpha1, OpenKruise's older version: no
	// conversion webhook, nothing lost, the hash under v1alpha1's name.
	alpha := &v1alpha1.DaemonSet{}
	if err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: "agent"}, alpha); err != nil {
		e.t.Fatal(err)
	}
	if alpha.Status.DaemonSetHash != ds.Status.UpdateRevision || alpha.Spec.UpdateStrategy.RollingUpdate == nil ||
		alpha.Spec.UpdateStrategy.RollingUpdate.Type != v1alpha1.InplaceRollingUpdateType || alpha.Status.UpdatedNumberScheduled != 5 {
		e.t.Errorf("read as v1alpha1: spec %+v status %+v", alpha.Spec.UpdateStrategy, alpha.Status)
	}
	e.t.Logf("phased rollout over 5 nodes: at most %d node without a ready agent", maxUncovered)
}

// Standard with maxSurge: the new pod starts next to the old one, which
// goes only when the new one is ready, so no node is ever without a ready
// agent.
func testDaemonSetSurge(e *dsEnv) {
	all := []string{node(0), node(1), node(2), node(3), node(4)}
	e.apply("surge", "rollingUpdateType: Standard\nmaxSurge: 2\nmaxUnavailable: 0")
	before := e.settled("surge", all, "agent:1", 2*time.Minute)
	nw := e.watchNodes("surge", all)
	e.modify("surge", func(ds *v1beta1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	after := e.settled("surge", all, "agent:2", 3*time.Minute)
	maxUncovered, maxPods := nw.finish()
	if maxUncovered != 0 {
		e.t.Errorf("%d nodes were without a ready agent during a surge rollout", maxUncovered)
	}
	if maxPods != 2 {
		e.t.Errorf("at most %d pods on a node; a surge rollout runs the new next to the old", maxPods)
	}
	for n, p := range after {
		if before[n].UID == p.UID {
			e.t.Errorf("node %s kept pod %s through a Standard rollout", n, p.Name)
		}
	}
}

func ptrTrue() *bool { b := true; return &b }
