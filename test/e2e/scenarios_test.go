package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

const nodes = 30

// TestCluster walks one cluster through a user's day, in order: workloads,
// in-place restarts, a node failure, a clean restart and a kill -9.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	dataDir := filepath.Join(t.TempDir(), "cluster")
	port, etcdPort := freePort(t), freePort(t)
	up := startUp(t, dataDir, port, etcdPort, "--nodes", fmt.Sprint(nodes), "--manager-statefulset-stuck-after", "20s",
		"--manager-feature-gates", "StatefulSetAutoResizePVCGate=true")
	defer func() {
		if up != nil {
			_ = up.cmd.Process.Kill()
		}
	}()
	cs := up.client(t)
	ctx := context.Background()
	ns := "e2e"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "default ServiceAccount", func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})

	t.Run("nodes ready with leases", func(t *testing.T) { testNodes(t, cs) })
	t.Run("kubectl unchanged", func(t *testing.T) { testKubectl(t, up) })
	t.Run("secrets encrypted at rest", func(t *testing.T) { testSecretsEncrypted(t, cs, ns, dataDir, etcdPort) })
	t.Run("simulator confined to simulated objects", func(t *testing.T) { testNodeSimScope(t, cs, ns, dataDir) })
	t.Run("simulator heartbeats at their priority level", func(t *testing.T) { testNodeSimPriority(t, cs) })
	t.Run("deployment of 100", func(t *testing.T) { testDeployment(t, cs, ns) })
	t.Run("job completes", func(t *testing.T) { testJob(t, cs, ns) })
	t.Run("daemonset one per node", func(t *testing.T) { testDaemonSet(t, cs, ns) })
	t.Run("in-place image change", func(t *testing.T) { testInPlace(t, cs, ns) })
	t.Run("clonesets", func(t *testing.T) { testCloneSets(t, up, cs, ns) })
	t.Run("advanced statefulsets", func(t *testing.T) { testStatefulSets(t, up, cs, ns) })
	t.Run("node failure evicts", func(t *testing.T) { testNodeFailure(t, cs, ns, up) })
	t.Run("crashed component restarts", func(t *testing.T) { testComponentCrash(t, cs, ns, up) })
	if t.Failed() {
		return
	}

	t.Run("restart keeps objects", func(t *testing.T) {
		marker := configMap(ns, "before-restart")
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, marker, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		up.stop(t)
		for _, p := range []int{port, etcdPort} {
			if !portFree(p) {
				t.Fatalf("port %d still held after myriad up stopped", p)
			}
		}
		// Resume with two API servers behind the balancer.
		up = startUp(t, dataDir, port, etcdPort, "--nodes", fmt.Sprint(nodes), "--apiservers", "2", "--manager-statefulset-stuck-after", "20s")
		cs = up.client(t)
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "before-restart", metav1.GetOptions{}); err != nil {
			t.Fatalf("object lost across restart: %v", err)
		}
		if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "survivor", metav1.GetOptions{}); err != nil {
			t.Fatalf("deployment lost across restart: %v", err)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("kill -9 loses no acknowledged write", func(t *testing.T) {
		acked := make(chan string, 10000)
		stop := make(chan struct{})
		go func() {
			defer close(acked)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("acked-%d", i)
				if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, configMap(ns, name), metav1.CreateOptions{}); err == nil {
					acked <- name
				}
			}
		}()
		time.Sleep(3 * time.Second)
		if err := up.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-up.exited
		time.Sleep(time.Second)
		close(stop)
		var names []string
		for n := range acked {
			names = append(names, n)
		}
		if len(names) < 10 {
			t.Fatalf("only %d writes acknowledged before kill; the test proves nothing", len(names))
		}
		// No orphans: every child exits with its supervisor and frees its port.
		eventually(t, 15*time.Second, "children exit after kill -9", func() error {
			for _, p := range []int{port, etcdPort, etcdPort + 1} {
				if !portFree(p) {
					return fmt.Errorf("port %d still held", p)
				}
			}
			if out, _ := myriadPgrep(dataDir); out != "" {
				return fmt.Errorf("processes still running: %s", out)
			}
			return nil
		})
		up = startUp(t, dataDir, port, etcdPort, "--nodes", fmt.Sprint(nodes), "--manager-statefulset-stuck-after", "20s")
		cs = up.client(t)
		for _, n := range names {
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{}); err != nil {
				t.Fatalf("acknowledged write %s lost after kill -9 (%d acknowledged): %v", n, len(names), err)
			}
		}
		t.Logf("%d acknowledged writes all present after kill -9", len(names))
	})
	if up != nil {
		up.stop(t)
		up = nil
	}
}

func testNodes(t *testing.T, cs kubernetes.Interface) {
	ctx := context.Background()
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != nodes {
		t.Fatalf("%d nodes, want %d", len(list.Items), nodes)
	}
	cidrs := map[string]bool{}
	for _, n := range list.Items {
		if !isReady(&n) {
			t.Errorf("node %s not Ready", n.Name)
		}
		if n.Spec.PodCIDR == "" || cidrs[n.Spec.PodCIDR] {
			t.Errorf("node %s podCIDR %q missing or duplicate", n.Name, n.Spec.PodCIDR)
		}
		cidrs[n.Spec.PodCIDR] = true
	}
	lease, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, list.Items[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node lease: %v", err)
	}
	first := lease.Spec.RenewTime.Time
	eventually(t, 30*time.Second, "lease renewed", func() error {
		l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, lease.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !l.Spec.RenewTime.Time.After(first) {
			return fmt.Errorf("renewTime still %s", first)
		}
		return nil
	})
}

func testDeployment(t *testing.T, cs kubernetes.Interface, ns string) {
	ctx := context.Background()
	d := deployment(ns, "web", 100)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cs, ns, "app=web", 100, 3*time.Minute)

	// The deployment controller is still writing status when the pods turn
	// Running, so the scale read can be stale by the time it is written
	// back: re-read and retry on Conflict, as any client must.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 10
		_, err = cs.AppsV1().Deployments(ns).UpdateScale(ctx, "web", scale, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "scaled down to 10 pods", func() error {
		return countPods(cs, ns, "app=web", 10)
	})

	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "garbage collector removes ReplicaSets and pods", func() error {
		rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(rs.Items) != 0 {
			return fmt.Errorf("%d ReplicaSets left", len(rs.Items))
		}
		return countPods(cs, ns, "app=web", 0)
	})
}

func testJob(t *testing.T, cs kubernetes.Interface, ns string) {
	ctx := context.Background()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: ns},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](4), Parallelism: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"nodes.myriad.dev/run-duration": "1s"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "work", Image: "busybox:1.36"}}},
			},
		},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "job Complete", func() error {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				if j.Status.Succeeded != 4 {
					return fmt.Errorf("complete with %d succeeded", j.Status.Succeeded)
				}
				return nil
			}
		}
		return fmt.Errorf("succeeded=%d active=%d", j.Status.Succeeded, j.Status.Active)
	})
}

func testDaemonSet(t *testing.T, cs kubernetes.Interface, ns string) {
	ctx := context.Background()
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cs, ns, "app=agent", nodes, 2*time.Minute)
	pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	perNode := map[string]int{}
	for _, p := range pods.Items {
		perNode[p.Spec.NodeName]++
	}
	if len(perNode) != nodes {
		t.Fatalf("daemon pods on %d nodes, want %d: %v", len(perNode), nodes, perNode)
	}
	if err := cs.AppsV1().DaemonSets(ns).Delete(ctx, "agent", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func testInPlace(t *testing.T, cs kubernetes.Interface, ns string) {
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "inplace", Namespace: ns, Labels: map[string]string{"app": "inplace"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "main", Image: "nginx:1.27"}, {Name: "sidecar", Image: "envoy:1.30"},
		}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cs, ns, "app=inplace", 1, time.Minute)
	before, _ := cs.CoreV1().Pods(ns).Get(ctx, "inplace", metav1.GetOptions{})
	patch := []byte(`{"spec":{"containers":[{"name":"main","image":"nginx:1.28"}]}}`)
	if _, err := cs.CoreV1().Pods(ns).Patch(ctx, "inplace", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "main container restarted with the new image", func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "inplace", metav1.GetOptions{})
		if err != nil {
			return err
		}
		main, side := status(p, "main"), status(p, "sidecar")
		if main == nil || main.Image != "nginx:1.28" || main.RestartCount != 1 {
			return fmt.Errorf("main status %+v", main)
		}
		if main.ImageID == status(before, "main").ImageID || main.ContainerID == status(before, "main").ContainerID {
			return fmt.Errorf("imageID/containerID unchanged")
		}
		if side.RestartCount != 0 || side.ContainerID != status(before, "sidecar").ContainerID {
			return fmt.Errorf("sidecar was restarted too: %+v", side)
		}
		if p.UID != before.UID || p.Status.PodIP != before.Status.PodIP || p.Spec.NodeName != before.Spec.NodeName {
			return fmt.Errorf("pod identity changed")
		}
		return nil
	})
}

func testNodeFailure(t *testing.T, cs kubernetes.Interface, ns string, up *upProcess) {
	ctx := context.Background()
	d := deployment(ns, "survivor", 6)
	// Evict two seconds after the node is unreachable, not the default five minutes.
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		d.Spec.Template.Spec.Tolerations = append(d.Spec.Template.Spec.Tolerations, corev1.Toleration{
			Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](2)})
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cs, ns, "app=survivor", 6, 2*time.Minute)
	pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=survivor"})
	victim := pods.Items[0]
	node := victim.Spec.NodeName
	out, err := myriad("nodes", "fail", "--kubeconfig", filepath.Join(up.dataDir, "kubeconfig"), node)
	if err != nil {
		t.Fatalf("myriad nodes fail: %v: %s", err, out)
	}
	eventually(t, 90*time.Second, "failed node goes NotReady", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if isReady(n) {
			return fmt.Errorf("still Ready")
		}
		return nil
	})
	eventually(t, 90*time.Second, "pod on the failed node is evicted and replaced", func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
		if err == nil && p.DeletionTimestamp == nil {
			return fmt.Errorf("pod %s on %s not evicted", victim.Name, node)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return runningElsewhere(cs, ns, "app=survivor", 6, node)
	})
	// Other nodes were untouched: no false NotReady.
	list, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	for _, n := range list.Items {
		if n.Name != node && !isReady(&n) {
			t.Errorf("healthy node %s went NotReady", n.Name)
		}
	}
	if out, err := myriad("nodes", "recover", "--kubeconfig", filepath.Join(up.dataDir, "kubeconfig"), node); err != nil {
		t.Fatalf("myriad nodes recover: %v: %s", err, out)
	}
	eventually(t, 90*time.Second, "recovered node Ready again", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !isReady(n) {
			return fmt.Errorf("not Ready")
		}
		return nil
	})
}

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: mustQuantity("100m"), corev1.ResourceMemory: mustQuantity("64Mi")}}}}},
			},
		},
	}
}

func configMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"k": "v"}}
}

func waitRunning(t *testing.T, cs kubernetes.Interface, ns, selector string, want int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d pods %s Running", want, selector), func() error {
		return runningElsewhere(cs, ns, selector, want, "")
	})
}

// runningElsewhere checks want pods of selector are Running and Ready with
// an IP, none of them on node notOn.
func runningElsewhere(cs kubernetes.Interface, ns, selector string, want int, notOn string) error {
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	running := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Spec.NodeName == notOn {
			continue
		}
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && podReady(&p) {
			running++
		}
	}
	if running != want {
		return fmt.Errorf("%d of %d pods Running and Ready (%d listed)", running, want, len(pods.Items))
	}
	return nil
}

func countPods(cs kubernetes.Interface, ns, selector string, want int) error {
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	if len(pods.Items) != want {
		return fmt.Errorf("%d pods, want %d", len(pods.Items), want)
	}
	return nil
}

func isReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func status(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// myriadPgrep lists processes still running for this data directory.
func myriadPgrep(dataDir string) (string, error) {
	out, err := execOutput("pgrep", "-af", strings.ReplaceAll(dataDir, ".", `\.`))
	if err != nil {
		return "", nil // pgrep exits 1 when nothing matches
	}
	return out, nil
}

// testComponentCrash kills the scheduler behind the supervisor's back: the
// supervisor says so, restarts it, and pods schedule again.
func testComponentCrash(t *testing.T, cs kubernetes.Interface, ns string, up *upProcess) {
	// Myriad's scheduler, `myriad up`'s default.
	out, err := execOutput("pgrep", "-f", " scheduler --kubeconfig .*"+regexp.QuoteMeta(up.dataDir))
	if err != nil || out == "" {
		t.Fatalf("find myriad-scheduler: %v %q", err, out)
	}
	pid, err := strconv.Atoi(strings.Fields(out)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "supervisor reports the restart", func() error {
		if !strings.Contains(up.out.String(), "myriad-scheduler: restarted and ready") {
			return fmt.Errorf("no restart reported yet")
		}
		return nil
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "after-crash", Namespace: ns, Labels: map[string]string{"app": "after-crash"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, cs, ns, "app=after-crash", 1, 90*time.Second)
}
