package kubeplugins_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkplugins "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodevolumelimits"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/kubeplugins"
)

func typesUID(prefix string, i int) types.UID { return types.UID(fmt.Sprintf("%s-%d", prefix, i)) }

// TestVolumesMatchKubeScheduler: on seeded storage worlds (local and zonal
// volumes, bound and available, claims provisioned where the pod lands or
// only in one zone, Immediate claims not yet bound, ReadWriteOncePod claims
// in use, CSI attach limits per node), Myriad's core with the plugins finds
// exactly the nodes kube-scheduler's whole default profile finds feasible,
// gives each the same total score, and rejects at PreFilter exactly the pods
// kube rejects there, with kube's reason.
func TestVolumesMatchKubeScheduler(t *testing.T) {
	cases := 60
	if testing.Short() {
		cases = 20
	}
	var compared, rejected, narrowed int
	for seed := range cases {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		w := newWorld(r)
		c, rej, nar := compareWorld(t, seed, r, w)
		compared, rejected, narrowed = compared+c, rejected+rej, narrowed+nar
	}
	t.Logf("%d pods compared: %d rejected before any node, %d placed on some nodes only", compared, rejected, narrowed)
	if rejected == 0 || narrowed == 0 {
		t.Fatalf("the worlds never exercised a rejection (%d) or a partial fit (%d)", rejected, narrowed)
	}
}

func compareWorld(t *testing.T, seed int, r *rand.Rand, w *world) (compared, rejected, narrowed int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(w.objects...)
	factory := informers.NewSharedInformerFactory(client, 0)
	plugins, err := kubeplugins.New(ctx, scheduler.PluginDeps{Client: client, Factory: factory,
		Recorder: events.NewFakeRecorder(100), SchedulerName: "myriad"})
	if err != nil {
		t.Fatal(err)
	}
	kube := kubeFramework(ctx, t, client, factory, w.pods, w.nodes)
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	cfg := core.DefaultConfig()
	cfg.Enough = core.AllNodes()
	sc := core.New(cfg)
	for _, n := range w.nodes {
		sc.UpdateNode(n)
	}
	for _, p := range w.pods {
		if err := sc.AddPod(p); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := internalcache.NewSnapshot(w.pods, w.nodes)
	for i := range 12 {
		p := pod(fmt.Sprintf("pending-%d", i))
		for range 1 + r.IntN(2) {
			mount(p, w.claims[r.IntN(len(w.claims))].Name)
		}
		if !plugins.Wants(p) {
			t.Fatalf("seed %d: plugins do not want a pod with claims", seed)
		}
		want, wantScores, wantReject := kubeFeasible(ctx, t, kube, snapshot, p, w.nodes)
		cyc, err := plugins.PreFilter(ctx, p, len(w.nodes))
		var fit *core.FitError
		switch {
		case errors.As(err, &fit):
			if wantReject == "" {
				t.Fatalf("seed %d pod %d: Myriad rejects (%v), kube finds %v feasible", seed, i, fit, want)
			}
			if _, ok := fit.Reasons[wantReject]; !ok {
				t.Fatalf("seed %d pod %d: Myriad's reason %v, kube's %q", seed, i, fit.Reasons, wantReject)
			}
			rejected++
			compared++
			continue
		case err != nil:
			t.Fatal(err)
		case wantReject != "":
			t.Fatalf("seed %d pod %d: kube rejects at PreFilter (%s), Myriad does not", seed, i, wantReject)
		}
		got, err := sc.ScoreNodesWith(p, &core.External{Check: cyc.Check, Score: cyc.Score})
		if err != nil && !errors.As(err, &fit) {
			t.Fatal(err)
		}
		gotNodes := make([]string, len(got))
		for j, ns := range got {
			gotNodes[j] = ns.Node
			if ns.Score != wantScores[ns.Node] {
				t.Errorf("seed %d pod %d node %s: score %d, kube %d", seed, i, ns.Node, ns.Score, wantScores[ns.Node])
			}
		}
		slices.Sort(gotNodes)
		if !slices.Equal(gotNodes, want) {
			t.Fatalf("seed %d pod %d (%v): Myriad finds %v feasible, kube %v", seed, i, p.Spec.Volumes, gotNodes, want)
		}
		if len(want) > 0 && len(want) < len(w.nodes) {
			narrowed++
		}
		compared++
	}
	return compared, rejected, narrowed
}

// kubeFramework is kube-scheduler's whole default profile, on kube's own
// snapshot of these pods and nodes, except DynamicResources (these pods ask for no
// devices; its PreFilter would skip them).
func kubeFramework(ctx context.Context, t *testing.T, client *fake.Clientset, factory informers.SharedInformerFactory, pods []*v1.Pod, nodes []*v1.Node) framework.Framework {
	defaults, err := latest.Default()
	if err != nil {
		t.Fatal(err)
	}
	profile := defaults.Profiles[0]
	profile.SchedulerName = "kube"
	var enabled []config.Plugin
	for _, pl := range profile.Plugins.MultiPoint.Enabled {
		if pl.Name != names.DynamicResources {
			enabled = append(enabled, pl)
		}
	}
	profile.Plugins = &config.Plugins{MultiPoint: config.PluginSet{Enabled: enabled}}
	fw, err := frameworkruntime.NewFramework(ctx, frameworkplugins.NewInTreeRegistry(), &profile,
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(internalcache.NewSnapshot(pods, nodes)),
		frameworkruntime.WithSharedCSIManager(nodevolumelimits.NewCSIManager(factory.Storage().V1().CSINodes().Lister())),
		frameworkruntime.WithEventRecorder(events.NewFakeRecorder(100)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

// kubeFeasible runs kube's cycle up to scoring on every node: the sorted
// feasible nodes, their total scores, or the PreFilter rejection's reason.
func kubeFeasible(ctx context.Context, t *testing.T, fw framework.Framework, snapshot *internalcache.Snapshot, p *v1.Pod, nodes []*v1.Node) ([]string, map[string]int64, string) {
	state := framework.NewCycleState()
	res, st, _ := fw.RunPreFilterPlugins(ctx, state, p)
	if !st.IsSuccess() {
		if !st.IsRejected() {
			t.Fatalf("kube prefilter: %v", st.AsError())
		}
		return nil, nil, st.Reasons()[0]
	}
	var feasible []string
	var infos []fwk.NodeInfo
	for _, n := range nodes {
		if !res.AllNodes() && !res.NodeNames.Has(n.Name) {
			continue
		}
		ni, err := snapshot.NodeInfos().Get(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		if fw.RunFilterPlugins(ctx, state, p, ni).IsSuccess() {
			feasible = append(feasible, n.Name)
			infos = append(infos, ni)
		}
	}
	slices.Sort(feasible)
	scores := map[string]int64{}
	if len(infos) == 0 {
		return feasible, scores, ""
	}
	if st := fw.RunPreScorePlugins(ctx, state, p, infos); !st.IsSuccess() {
		t.Fatalf("kube prescore: %v", st.AsError())
	}
	ns, st := fw.RunScorePlugins(ctx, state, p, infos)
	if !st.IsSuccess() {
		t.Fatalf("kube score: %v", st.AsError())
	}
	for _, s := range ns {
		scores[s.Name] = s.TotalScore
	}
	return feasible, scores, ""
}
