package broadcastjob

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func node(name string, mut ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
	for _, m := range mut {
		m(n)
	}
	return n
}

func nodes(n int) []*corev1.Node {
	var out []*corev1.Node
	for i := range n {
		out = append(out, node(fmt.Sprintf("n%02d", i)))
	}
	return out
}

func newJob(mut ...func(*v1beta1.BroadcastJob)) *v1beta1.BroadcastJob {
	j := &v1beta1.BroadcastJob{ObjectMeta: metav1.ObjectMeta{Name: "bcj", Namespace: "default", UID: "uid-1"}}
	j.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
	for _, m := range mut {
		m(j)
	}
	return j
}

// pod is the job's pod on a node in a phase.
func pod(j *v1beta1.BroadcastJob, nodeName string, phase corev1.PodPhase) *corev1.Pod {
	p := NewPod(j, nodeName)
	p.UID = types.UID("pod-" + p.Name)
	p.Status.Phase = phase
	return p
}

func names(ns []string) string { return fmt.Sprint(ns) }

func podNames(ps []*corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, PodNode(p))
	}
	return out
}

func TestDecideEligibleNodes(t *testing.T) {
	big := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}
	cases := []struct {
		name  string
		job   func(*v1beta1.BroadcastJob)
		nodes []*corev1.Node
		want  []string
	}{
		{name: "every node", nodes: nodes(3), want: []string{"n00", "n01", "n02"}},
		{name: "nodeSelector",
			job:   func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} },
			nodes: []*corev1.Node{node("a", func(n *corev1.Node) { n.Labels["disk"] = "ssd" }), node("b")},
			want:  []string{"a"}},
		{name: "required affinity",
			job: func(j *v1beta1.BroadcastJob) {
				j.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"b"}}}}}}}}
			},
			nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			want:  []string{"a", "c"}},
		{name: "untolerated NoSchedule taint and cordon exclude, PreferNoSchedule does not",
			nodes: []*corev1.Node{
				node("tainted", func(n *corev1.Node) {
					n.Spec.Taints = []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}}
				}),
				node("cordoned", func(n *corev1.Node) { n.Spec.Unschedulable = true }),
				node("soft", func(n *corev1.Node) {
					n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}}
				}),
			},
			want: []string{"soft"}},
		{name: "tolerated taint",
			job: func(j *v1beta1.BroadcastJob) {
				j.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}
			},
			nodes: []*corev1.Node{node("tainted", func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}}
			})},
			want: []string{"tainted"}},
		{name: "pod larger than the node",
			job: func(j *v1beta1.BroadcastJob) { j.Spec.Template.Spec.Containers[0].Resources.Requests = big },
			nodes: []*corev1.Node{node("small"), node("large", func(n *corev1.Node) {
				n.Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("16")
			})},
			want: []string{"large"}},
		{name: "deleting node", nodes: []*corev1.Node{node("gone", func(n *corev1.Node) { n.DeletionTimestamp = &metav1.Time{Time: t0} })}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJob()
			if c.job != nil {
				c.job(j)
			}
			p := Decide(j, c.nodes, nil, t0)
			if names(p.Create) != names(c.want) || p.Status.Desired != int32(len(c.want)) {
				t.Errorf("create %v desired %d, want %v", p.Create, p.Status.Desired, c.want)
			}
			if p.Status.Phase != v1beta1.PhaseRunning && len(c.want) > 0 {
				t.Errorf("phase %q", p.Status.Phase)
			}
		})
	}
}

func TestDecideParallelism(t *testing.T) {
	cases := []struct {
		par     intstr.IntOrString
		running int
		want    int
	}{
		{intstr.FromInt32(3), 0, 3},
		{intstr.FromInt32(3), 2, 1},
		{intstr.FromInt32(3), 4, 0},
		{intstr.FromString("25%"), 0, 3}, // 25% of 10, rounded up
		{intstr.FromString("100%"), 5, 5},
	}
	for _, c := range cases {
		j := newJob(func(j *v1beta1.BroadcastJob) { j.Spec.Parallelism = ptr.To(c.par) })
		ns := nodes(10)
		var pods []*corev1.Pod
		for i := range c.running {
			pods = append(pods, pod(j, ns[i].Name, corev1.PodRunning))
		}
		p := Decide(j, ns, pods, t0)
		if len(p.Create) != c.want || int(p.Status.Active) != c.running {
			t.Errorf("parallelism %s with %d running: create %d active %d, want %d", c.par.String(), c.running, len(p.Create), p.Status.Active, c.want)
		}
	}
}

func TestDecideCompletion(t *testing.T) {
	j := newJob()
	ns := nodes(3)
	pods := []*corev1.Pod{pod(j, "n00", corev1.PodSucceeded), pod(j, "n01", corev1.PodSucceeded), pod(j, "n02", corev1.PodRunning)}
	p := Decide(j, ns, pods, t0)
	if finished(&p.Status) || p.Status.Active != 1 || p.Status.Succeeded != 2 || len(p.Create) != 0 {
		t.Fatalf("one pod still running: %+v", p.Status)
	}
	pods[2].Status.Phase = corev1.PodSucceeded
	p = Decide(j, ns, pods, t0.Add(time.Minute))
	if p.Status.Phase != v1beta1.PhaseCompleted || !finished(&p.Status) || p.Status.Succeeded != 3 || p.Status.Desired != 3 ||
		p.Status.CompletionTime == nil || !p.Status.CompletionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("all succeeded: %+v", p.Status)
	}

	// A node added after completion gets nothing; added while the job ran,
	// it gets its pod and holds completion back (kruise#1199).
	j.Status = p.Status
	if p := Decide(j, append(ns, node("n99")), pods, t0.Add(2*time.Minute)); len(p.Create) != 0 {
		t.Errorf("a completed job created %v", p.Create)
	}
	j.Status = v1beta1.BroadcastJobStatus{}
	p = Decide(j, append(ns, node("n99")), pods, t0)
	if names(p.Create) != "[n99]" || finished(&p.Status) {
		t.Errorf("new node while active: create %v finished %v", p.Create, finished(&p.Status))
	}

	// Never: keeps running when all pods are done.
	never := newJob(func(j *v1beta1.BroadcastJob) { j.Spec.CompletionPolicy.Type = v1beta1.Never })
	done := []*corev1.Pod{pod(never, "n00", corev1.PodSucceeded)}
	p = Decide(never, ns[:1], done, t0)
	if finished(&p.Status) || p.Status.Phase != v1beta1.PhaseRunning {
		t.Errorf("Never finished: %+v", p.Status)
	}
	if p := Decide(never, append(ns[:1:1], node("late")), done, t0); names(p.Create) != "[late]" {
		t.Errorf("Never with a new node: create %v", p.Create)
	}
}

// Counts come from the pods, whatever the status said before (kruise#2414).
func TestDecideCountsFromPods(t *testing.T) {
	j := newJob(func(j *v1beta1.BroadcastJob) {
		j.Spec.FailurePolicy.Type = v1beta1.FailurePolicyTypeContinue
		j.Status = v1beta1.BroadcastJobStatus{Active: 40, Succeeded: 90, Failed: 7, Desired: 100}
	})
	ns := nodes(4)
	terminating := pod(j, "n03", corev1.PodSucceeded)
	terminating.DeletionTimestamp = &metav1.Time{Time: t0}
	pods := []*corev1.Pod{pod(j, "n00", corev1.PodSucceeded), pod(j, "n01", corev1.PodFailed), pod(j, "n02", corev1.PodPending), terminating}
	p := Decide(j, ns, pods, t0)
	got := [4]int32{p.Status.Active, p.Status.Succeeded, p.Status.Failed, p.Status.Desired}
	if got != [4]int32{1, 1, 1, 4} {
		t.Errorf("active, succeeded, failed, desired = %v, want [1 1 1 4]", got)
	}
	if len(p.Create) != 0 {
		t.Errorf("created %v while n03's pod is still terminating", p.Create)
	}
}

func TestDecideFailurePolicy(t *testing.T) {
	ns := nodes(3)
	mk := func(policy v1beta1.FailurePolicyType) (*v1beta1.BroadcastJob, []*corev1.Pod) {
		j := newJob(func(j *v1beta1.BroadcastJob) { j.Spec.FailurePolicy.Type = policy })
		return j, []*corev1.Pod{pod(j, "n00", corev1.PodFailed), pod(j, "n01", corev1.PodRunning)}
	}

	for _, policy := range []v1beta1.FailurePolicyType{"", v1beta1.FailurePolicyTypeFailFast} {
		j, pods := mk(policy)
		p := Decide(j, ns, pods, t0)
		if p.Status.Phase != v1beta1.PhaseFailed || !finished(&p.Status) || len(p.Create) != 0 || p.Status.Active != 0 || p.Status.Failed != 1 ||
			names(podNames(p.Delete)) != "[n01]" || p.EventReason != "PodFailed" {
			t.Errorf("FailFast (%q): phase %q create %v delete %v", policy, p.Status.Phase, p.Create, podNames(p.Delete))
		}
	}

	j, pods := mk(v1beta1.FailurePolicyTypeContinue)
	p := Decide(j, ns, pods, t0)
	if finished(&p.Status) || names(p.Create) != "[n02]" || len(p.Delete) != 0 {
		t.Errorf("Continue: %+v create %v", p.Status, p.Create)
	}
	pods[1].Status.Phase = corev1.PodSucceeded
	pods = append(pods, pod(j, "n02", corev1.PodSucceeded))
	if p := Decide(j, ns, pods, t0); p.Status.Phase != v1beta1.PhaseCompleted || p.Status.Failed != 1 {
		t.Errorf("Continue with every pod finished: %+v", p.Status)
	}

	j, pods = mk(v1beta1.FailurePolicyTypePause)
	p = Decide(j, ns, pods, t0)
	if !p.Pause || p.Status.Phase != v1beta1.PhasePaused || len(p.Create) != 0 || finished(&p.Status) {
		t.Errorf("Pause: pause %v phase %q create %v", p.Pause, p.Status.Phase, p.Create)
	}
	// The user looked at the failure and unpaused: the same failure does
	// not pause the job again, a new one does.
	j.Status = p.Status
	if p := Decide(j, ns, pods, t0); p.Pause || names(p.Create) != "[n02]" {
		t.Errorf("unpaused after a seen failure: pause %v create %v", p.Pause, p.Create)
	}
	pods[1].Status.Phase = corev1.PodFailed
	if p := Decide(j, ns, pods, t0); !p.Pause {
		t.Errorf("a second failure did not pause")
	}
}

func TestDecideRestartLimit(t *testing.T) {
	j := newJob(func(j *v1beta1.BroadcastJob) {
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		j.Spec.FailurePolicy = v1beta1.FailurePolicy{Type: v1beta1.FailurePolicyTypeFailFast, RestartLimit: 2}
	})
	p0 := pod(j, "n00", corev1.PodRunning)
	p0.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 2}}
	if p := Decide(j, nodes(1), []*corev1.Pod{p0}, t0); finished(&p.Status) || p.Status.Active != 1 {
		t.Fatalf("2 restarts within limit 2: %+v", p.Status)
	}
	p0.Status.ContainerStatuses[0].RestartCount = 3
	if p := Decide(j, nodes(1), []*corev1.Pod{p0}, t0); p.Status.Phase != v1beta1.PhaseFailed || p.Status.Failed != 1 {
		t.Fatalf("3 restarts over limit 2: %+v", p.Status)
	}
}

func TestDecideDeadlineAndTTL(t *testing.T) {
	j := newJob(func(j *v1beta1.BroadcastJob) {
		j.Spec.CompletionPolicy = v1beta1.CompletionPolicy{Type: v1beta1.Always, ActiveDeadlineSeconds: ptr.To[int64](60), TTLSecondsAfterFinished: ptr.To[int32](30)}
		j.Status.StartTime = &metav1.Time{Time: t0}
	})
	ns := nodes(2)
	pods := []*corev1.Pod{pod(j, "n00", corev1.PodRunning), pod(j, "n01", corev1.PodSucceeded)}
	p := Decide(j, ns, pods, t0.Add(20*time.Second))
	if finished(&p.Status) || p.RequeueAfter != 40*time.Second {
		t.Fatalf("before the deadline: finished %v requeue %v, want a requeue at the deadline (40s)", finished(&p.Status), p.RequeueAfter)
	}
	p = Decide(j, ns, pods, t0.Add(60*time.Second))
	if p.Status.Phase != v1beta1.PhaseFailed || p.EventReason != "DeadlineExceeded" || names(podNames(p.Delete)) != "[n00]" || p.RequeueAfter != 30*time.Second {
		t.Fatalf("at the deadline: phase %q reason %q delete %v requeue %v", p.Status.Phase, p.EventReason, podNames(p.Delete), p.RequeueAfter)
	}
	j.Status = p.Status
	if p := Decide(j, ns, nil, t0.Add(80*time.Second)); p.DeleteJob || p.RequeueAfter != 10*time.Second || p.Status.Failed != j.Status.Failed {
		t.Errorf("finished, TTL not yet due: delete %v requeue %v", p.DeleteJob, p.RequeueAfter)
	}
	if p := Decide(j, ns, nil, t0.Add(90*time.Second)); !p.DeleteJob {
		t.Errorf("TTL due: job not deleted")
	}
}

func TestDecideCleansUp(t *testing.T) {
	j := newJob()
	older := pod(j, "n00", corev1.PodRunning)
	older.CreationTimestamp = metav1.Time{Time: t0}
	dup := pod(j, "n00", corev1.PodRunning)
	dup.Name, dup.UID = "dup", "dup"
	dup.CreationTimestamp = metav1.Time{Time: t0.Add(time.Second)}
	orphan := pod(j, "vanished", corev1.PodPending)
	p := Decide(j, nodes(1), []*corev1.Pod{older, dup, orphan}, t0)
	var deleted []string
	for _, d := range p.Delete {
		deleted = append(deleted, d.Name)
	}
	if !reflect.DeepEqual(deleted, []string{orphan.Name, "dup"}) {
		t.Errorf("deleted %v, want the newer duplicate and the pod of the vanished node", deleted)
	}
}

func TestDecidePaused(t *testing.T) {
	j := newJob(func(j *v1beta1.BroadcastJob) { j.Spec.Paused = true })
	p := Decide(j, nodes(3), nil, t0)
	if len(p.Create) != 0 || p.Status.Phase != v1beta1.PhasePaused || p.Status.Desired != 3 {
		t.Errorf("paused: create %v phase %q", p.Create, p.Status.Phase)
	}
}

// The pod is pinned to its node on top of the template's own affinity:
// it matches that node only, and only if the template's terms do too.
func TestNewPodPinned(t *testing.T) {
	j := newJob(func(j *v1beta1.BroadcastJob) {
		j.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}},
			}}}}
	})
	p := NewPod(j, "n1")
	if PodNode(p) != "n1" || p.Labels[v1beta1.BroadcastJobControllerUIDLabel] != "uid-1" || p.Labels[v1beta1.BroadcastJobNameLabel] != "bcj" {
		t.Fatalf("pod %s node %q labels %v", p.Name, PodNode(p), p.Labels)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "BroadcastJob" || ref.UID != "uid-1" {
		t.Fatalf("owner %v", ref)
	}
	zone := func(name, z string) *corev1.Node {
		return node(name, func(n *corev1.Node) { n.Labels["zone"] = z })
	}
	aff := nodeaffinity.GetRequiredNodeAffinity(p)
	for _, c := range []struct {
		n    *corev1.Node
		want bool
	}{{zone("n1", "a"), true}, {zone("n1", "b"), true}, {zone("n1", "c"), false}, {zone("n2", "a"), false}} {
		if got, _ := aff.Match(c.n); got != c.want {
			t.Errorf("node %s zone %s: match %v, want %v", c.n.Name, c.n.Labels["zone"], got, c.want)
		}
	}
	if j.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields != nil {
		t.Errorf("NewPod changed the job's template")
	}
	if PodName("bcj", "n1") == PodName("bcj", "n2") || PodName("bcj", "n1") != p.Name {
		t.Errorf("pod names are not per node")
	}
}

// A condition left False by an earlier writer is replaced, not repeated:
// conditions are a map by type in the CRD.
func TestDecideReplacesCondition(t *testing.T) {
	j := newJob(func(j *v1beta1.BroadcastJob) {
		j.Status.Conditions = []v1beta1.JobCondition{{Type: v1beta1.JobComplete, Status: corev1.ConditionFalse}}
	})
	p := Decide(j, nodes(1), []*corev1.Pod{pod(j, "n00", corev1.PodSucceeded)}, t0)
	if len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Status != corev1.ConditionTrue || p.Status.Phase != v1beta1.PhaseCompleted {
		t.Errorf("conditions %+v phase %q", p.Status.Conditions, p.Status.Phase)
	}
}
