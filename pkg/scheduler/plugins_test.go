package scheduler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// fakePlugins stands in for kube's volume plugins: pods labelled
// "claim" want them; only node "storage" can reach the claim; PreFilter
// rejects while reject is set; every call is logged in order.
type fakePlugins struct {
	mu      sync.Mutex
	log     []string
	reject  atomic.Bool
	changed func()
}

func (f *fakePlugins) record(s string) {
	f.mu.Lock()
	f.log = append(f.log, s)
	f.mu.Unlock()
}

func (f *fakePlugins) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakePlugins) Wants(pod *v1.Pod) bool { return pod.Labels["claim"] != "" }

func (f *fakePlugins) Delegated(v1.ResourceName) bool { return false }
func (f *fakePlugins) HasSynced() bool                { return true }

func (f *fakePlugins) PreFilter(_ context.Context, pod *v1.Pod, n int) (Cycle, error) {
	f.record("prefilter " + pod.Name)
	if f.reject.Load() {
		return nil, &core.FitError{Pod: pod.Name, NumNodes: n, Reasons: map[string]int{"pod has unbound immediate PersistentVolumeClaims": n}}
	}
	return &fakeCycle{f: f, pod: pod.Name}, nil
}

type fakeCycle struct {
	f   *fakePlugins
	pod string
}

func (c *fakeCycle) Check(n *core.NodeInfo, _ []*v1.Pod) []string {
	if n.Node.Name != "storage" {
		return []string{"node(s) had volume node affinity conflict"}
	}
	return nil
}
func (c *fakeCycle) Without(n *core.NodeInfo, _, _ []*v1.Pod) []string { return c.Check(n, nil) }
func (c *fakeCycle) Score(cands []*core.NodeInfo) []int64              { return make([]int64, len(cands)) }
func (c *fakeCycle) Reserve(_ context.Context, node string) error {
	c.f.record("reserve " + c.pod + " " + node)
	return nil
}
func (c *fakeCycle) PreBind(_ context.Context, node string) error {
	c.f.record("prebind " + c.pod + " " + node)
	return nil
}
func (c *fakeCycle) PostFilter(context.Context) { c.f.record("postfilter " + c.pod) }
func (c *fakeCycle) Unreserve(_ context.Context, node string) {
	c.f.record("unreserve " + c.pod + " " + node)
}

func withPlugins(f *fakePlugins) Config {
	return Config{Core: core.DefaultConfig(), Binders: 4, Plugins: func(_ context.Context, d PluginDeps) (Plugins, error) {
		f.changed = d.Changed
		return f, nil
	}}
}

func claimPod(name, cpu string) *v1.Pod {
	p := podRequesting(name, cpu)
	p.Labels = map[string]string{"claim": "data"}
	return p
}

func TestPluginsNarrowNodesAndBindClaimsBeforeThePod(t *testing.T) {
	c := newCluster(t, node("n1", "8"), node("storage", "2"), node("n3", "8"))
	var bindFails atomic.Bool
	bindFails.Store(true)
	var logAtBind []string
	f := &fakePlugins{}
	c.setBindHook(func(b *v1.Binding) error {
		if b.Name == "db" {
			logAtBind = f.calls()
		}
		if b.Name == "db" && bindFails.CompareAndSwap(true, false) {
			return apierrors.NewInternalError(errors.New("etcd hiccup"))
		}
		return nil
	})
	c.startWith(t, withPlugins(f))
	c.create(t, claimPod("db", "1"))
	c.create(t, podRequesting("web", "1"))
	eventually(t, "db bound", func() bool { return c.pod(t, "db").Spec.NodeName != "" })
	if got := c.pod(t, "db").Spec.NodeName; got != "storage" {
		t.Fatalf("db on %s, want storage: the only node its claim reaches", got)
	}
	eventually(t, "web bound", func() bool { return c.pod(t, "web").Spec.NodeName != "" })
	// The claim is written before the pod's Binding; a failed Binding
	// undoes the reservation before the retry reserves again.
	want := []string{"prefilter db", "reserve db storage", "prebind db storage", "unreserve db storage", "prefilter db", "reserve db storage", "prebind db storage"}
	if got := f.calls(); !slices.Equal(got, want) {
		t.Fatalf("plugin calls %q, want %q (pods without claims never reach them)", got, want)
	}
	if !slices.Equal(logAtBind, want) {
		t.Fatalf("calls when the last Binding was sent %q, want %q", logAtBind, want)
	}
}

func TestPluginsRejectionParksUntilStorageChanges(t *testing.T) {
	c := newCluster(t, node("storage", "2"))
	f := &fakePlugins{}
	f.reject.Store(true)
	s := c.startWith(t, withPlugins(f))
	c.create(t, claimPod("db", "1"))
	eventually(t, "db parked", func() bool { _, _, p, _ := s.Queue().Lengths(); return p == 1 })
	cond := func() string {
		for _, pc := range c.pod(t, "db").Status.Conditions {
			if pc.Type == v1.PodScheduled {
				return pc.Message
			}
		}
		return ""
	}
	// No preemption: evicting pods cannot bind a claim.
	eventually(t, "reported", func() bool {
		return cond() == "0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims."
	})
	// A storage change wakes the pods the plugins decided on, not the
	// others: "big" is parked for cpu, which no claim can give.
	c.create(t, podRequesting("big", "16"))
	eventually(t, "both parked", func() bool { _, _, p, _ := s.Queue().Lengths(); return p == 2 })
	attempts := s.Core().Stats().Attempts
	f.reject.Store(false)
	f.changed()
	eventually(t, "db bound after its claim changed", func() bool { return c.pod(t, "db").Spec.NodeName == "storage" })
	time.Sleep(3 * flushPeriod)
	if n := s.Core().Stats().Attempts - attempts; n != 1 {
		t.Fatalf("%d decisions after the storage change, want 1 (db's; big waits for a node or a pod to go)", n)
	}
}

// TestPluginsPostFilterAfterAnAttemptFindsNoNode: a pod the plugins decide
// on that fits nowhere gets their PostFilter (which frees claims a failed
// binding left allocated), and nothing is reserved for it.
func TestPluginsPostFilterAfterAnAttemptFindsNoNode(t *testing.T) {
	c := newCluster(t, node("storage", "2"))
	f := &fakePlugins{}
	c.startWith(t, withPlugins(f))
	c.create(t, claimPod("huge", "16"))
	eventually(t, "postfilter ran", func() bool { return slices.Contains(f.calls(), "postfilter huge") })
	for _, call := range f.calls() {
		if call != "prefilter huge" && call != "postfilter huge" {
			t.Fatalf("calls %q: only prefilter and postfilter expected for a pod that fits nowhere", f.calls())
		}
	}
}
