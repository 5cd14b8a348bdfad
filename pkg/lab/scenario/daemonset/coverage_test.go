package daemonset

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/lab"
)

// fleet plays a DaemonSet's agents as the simulated nodes and the
// controller change them, feeding the pod figures and the coverage as one
// pod watch would.
type fleet struct {
	t      *testing.T
	clk    *clocktesting.FakeClock
	pods   *lab.WorkloadPods
	cov    *lab.Coverage
	nodes  []string
	agents map[string]*corev1.Pod // by node
	gen    int64
	uids   int
}

func newFleet(t *testing.T, nodes int) *fleet {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	f := &fleet{t: t, clk: clk, pods: lab.NewWorkloadPods(container, clk), cov: lab.NewCoverage(clk, lab.PodNode), agents: map[string]*corev1.Pod{}}
	for i := range nodes {
		f.nodes = append(f.nodes, fmt.Sprintf("node-%03d", i))
	}
	return f
}

func (f *fleet) upsert(p *corev1.Pod) {
	f.pods.Upsert(p)
	f.cov.OnUpdate(nil, p)
}

// agent is a new agent on node running image, Ready or not.
func (f *fleet) agent(node, image string, ready bool) *corev1.Pod {
	f.uids++
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-" + node, UID: types.UID(fmt.Sprintf("uid-%d", f.uids))},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: container, Image: image}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: container, Image: image}}},
	}
	setReady(p, ready)
	return p
}

func setReady(p *corev1.Pod, ready bool) {
	s := corev1.ConditionFalse
	if ready {
		s = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: s}}
}

// begin starts a phase whose write raises the generation.
func (f *fleet) begin(image string) time.Time {
	f.gen++
	f.cov.Begin(f.nodes)
	return f.pods.Begin(image, len(f.nodes), f.gen)
}

// finish says what the DaemonSet's status would once the agents agree.
func (f *fleet) finish() {
	n := int32(len(f.nodes))
	f.pods.ObserveStatus(lab.WorkloadStatus{Generation: f.gen, ObservedGeneration: f.gen, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, UpdatedReady: n})
}

// create puts a ready agent on every node, a second apart per batch.
func (f *fleet) create(image string, batch int) {
	for i, node := range f.nodes {
		if i%batch == 0 {
			f.clk.Step(time.Second)
		}
		p := f.agent(node, image, false)
		f.upsert(p)
		p = p.DeepCopy()
		setReady(p, true)
		f.upsert(p)
		f.agents[node] = p
	}
}

// inPlace changes batch nodes' agents at a time as the controller does in
// place: gate False (the pod leaves Ready), image patched, the container
// restarted, Ready again; the pods keep their UIDs.
func (f *fleet) inPlace(image string, batch int) {
	for i := 0; i < len(f.nodes); i += batch {
		f.clk.Step(time.Second)
		group := f.nodes[i:min(i+batch, len(f.nodes))]
		for _, node := range group {
			p := f.agents[node].DeepCopy()
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}, {Type: pub.InPlaceUpdateReady, Status: corev1.ConditionFalse}}
			p.Spec.Containers[0].Image = image
			f.upsert(p)
			f.agents[node] = p
		}
		f.clk.Step(500 * time.Millisecond)
		for _, node := range group {
			p := f.agents[node].DeepCopy()
			p.Status.ContainerStatuses[0].Image, p.Status.ContainerStatuses[0].RestartCount = image, 1
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: pub.InPlaceUpdateReady, Status: corev1.ConditionTrue}}
			f.upsert(p)
			f.agents[node] = p
		}
	}
}

// recreate replaces batch nodes' agents at a time: deleted (terminating,
// then gone), a new pod created, then Ready.
func (f *fleet) recreate(image string, batch int) {
	for i := 0; i < len(f.nodes); i += batch {
		f.clk.Step(time.Second)
		group := f.nodes[i:min(i+batch, len(f.nodes))]
		for _, node := range group {
			p := f.agents[node].DeepCopy()
			p.DeletionTimestamp = &metav1.Time{Time: f.clk.Now()}
			f.upsert(p)
		}
		f.clk.Step(500 * time.Millisecond)
		for _, node := range group {
			old := f.agents[node]
			f.pods.Delete(old.UID)
			f.cov.OnDelete(cacheTombstone(old))
			p := f.agent(node, image, false)
			f.upsert(p)
			f.agents[node] = p
		}
		f.clk.Step(500 * time.Millisecond)
		for _, node := range group {
			p := f.agents[node].DeepCopy()
			setReady(p, true)
			f.upsert(p)
			f.agents[node] = p
		}
	}
}

// phase plays one phase and returns it as the bench records it.
func (f *fleet) phase(kind, image string, play func()) PhaseInput {
	start := f.begin(image)
	play()
	f.finish()
	end := f.clk.Now()
	return PhaseInput{Kind: kind, Image: image, Want: len(f.nodes), Start: start, End: end, Pods: f.pods.End(), Coverage: f.cov.End()}
}

func TestCoverageCountsNodesNotPods(t *testing.T) {
	f := newFleet(t, 4)
	// A ready agent on a node the phase does not follow is not counted;
	// two ready agents on one node cover it once.
	f.upsert(f.agent("other-node", "a", true))
	f.upsert(f.agent("node-000", "a", true))
	f.upsert(f.agent("node-000", "a", true))
	f.cov.Begin(f.nodes)
	if got := f.cov.Without(); got != 3 {
		t.Fatalf("%d nodes without a ready agent, want 3 (node-000 has two)", got)
	}
	late := f.agent("node-001", "a", true)
	f.upsert(late)
	// A terminating agent is not a ready one, however its conditions read.
	term := late.DeepCopy()
	term.DeletionTimestamp = &metav1.Time{Time: f.clk.Now()}
	f.upsert(term)
	if got := f.cov.Without(); got != 3 {
		t.Errorf("%d nodes without a ready agent after node-001's agent began terminating, want 3", got)
	}
	if got := f.cov.Uncovered(2); len(got) != 2 || got[0] != "node-001" || got[1] != "node-002" {
		t.Errorf("uncovered %v, want the first two of node-001..3", got)
	}
	fig := f.cov.End()
	if fig.AtStart != 3 || fig.MaxWithout != 3 || fig.Final != 3 || fig.Slots != 4 {
		t.Errorf("figures %+v", fig)
	}
}

func TestCoverageKeepsEachSecondsPeak(t *testing.T) {
	f := newFleet(t, 10)
	f.create("a", 10)
	f.cov.Begin(f.nodes)
	// Within one second three nodes lose their agent and two get it back:
	// the second's point keeps the peak, not just the last count.
	for _, n := range f.nodes[:3] {
		p := f.agents[n].DeepCopy()
		setReady(p, false)
		f.upsert(p)
	}
	for _, n := range f.nodes[:2] {
		p := f.agents[n].DeepCopy()
		setReady(p, true)
		f.upsert(p)
	}
	f.clk.Step(2500 * time.Millisecond)
	p := f.agents[f.nodes[2]].DeepCopy()
	setReady(p, true)
	f.upsert(p)
	fig := f.cov.End()
	if fig.MaxWithout != 3 || fig.MaxAtSeconds != 0 || fig.Final != 0 {
		t.Fatalf("max %d at %.1fs, final %d; want 3 at 0s, 0", fig.MaxWithout, fig.MaxAtSeconds, fig.Final)
	}
	want := []lab.CoveragePoint{{T: 0, Without: 1, Peak: 3}, {T: 2, Without: 0, Peak: 1}, {T: 2.5, Without: 0, Peak: 0}}
	if fmt.Sprint(fig.Series) != fmt.Sprint(want) {
		t.Errorf("series %v, want %v", fig.Series, want)
	}
}

// cacheTombstone is a deletion as an informer that missed it delivers it.
func cacheTombstone(p *corev1.Pod) any {
	return cache.DeletedFinalStateUnknown{Key: p.Namespace + "/" + p.Name, Obj: p}
}
