package kubeplugins_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/dynamic-resource-allocation/deviceclass/extendedresourcecache"
	resourceslicetracker "k8s.io/dynamic-resource-allocation/resourceslice/tracker"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkplugins "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/dynamicresources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodevolumelimits"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/util/assumecache"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	"github.com/myriad-dev/myriad/pkg/scheduler/kubeplugins"
)

const (
	gpu       = v1.ResourceName("example.com/gpu")
	gpuDriver = "gpu.example.com"
	// fpga is served only under the implicit name of its class.
	fpga = v1.ResourceName(resourceapi.ResourceDeviceClassPrefix + "fpga.example.com")
)

// TestDRAExtendedResourcesMatchKubeScheduler: extended resources that a
// DeviceClass serves (v1.37's DRAExtendedResource, GA): on seeded worlds
// where some nodes offer example.com/gpu through a device plugin
// (allocatable), some through DRA (a ResourceSlice of the class's driver),
// some both and some neither, and pods ask for 1-3 GPUs (and some for an
// FPGA by its class's implicit name), Myriad's core with the plugins finds
// exactly the nodes kube-scheduler's whole default profile finds feasible
// and gives each the same total score.
func TestDRAExtendedResourcesMatchKubeScheduler(t *testing.T) {
	cases := 40
	if testing.Short() {
		cases = 15
	}
	var compared, byDRA, byPlugin, nowhere int
	for seed := range cases {
		r := rand.New(rand.NewPCG(uint64(seed), 31))
		c, d, p, n := compareDeviceWorld(t, seed, r)
		compared, byDRA, byPlugin, nowhere = compared+c, byDRA+d, byPlugin+p, nowhere+n
	}
	t.Logf("%d pods compared: %d placeable through DRA, %d through a device plugin, %d nowhere", compared, byDRA, byPlugin, nowhere)
	if byDRA == 0 || byPlugin == 0 || nowhere == 0 {
		t.Fatal("the worlds did not exercise every way a node serves (or fails) the request")
	}
}

func compareDeviceWorld(t *testing.T, seed int, r *rand.Rand) (compared, byDRA, byPlugin, nowhere int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes, objects, viaDRA, viaPlugin := deviceWorld(r)
	client := fake.NewClientset(objects...)
	factory := informers.NewSharedInformerFactory(client, 0)
	plugins, err := kubeplugins.New(ctx, scheduler.PluginDeps{Client: client, Factory: factory,
		Recorder: events.NewFakeRecorder(100), SchedulerName: "myriad"})
	if err != nil {
		t.Fatal(err)
	}
	kube, kubeSynced := kubeDRAFramework(ctx, t, client, factory, nodes)
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), plugins.HasSynced, kubeSynced) {
		t.Fatal("the plugins' handlers did not sync")
	}
	cfg := core.DefaultConfig()
	cfg.Enough = core.AllNodes()
	sc := core.New(cfg)
	sc.SetDelegated(plugins.Delegated)
	for _, n := range nodes {
		sc.UpdateNode(n)
	}
	snapshot := internalcache.NewSnapshot(nil, nodes)
	for i := range 10 {
		p := pod(fmt.Sprintf("pending-%d", i))
		n := fmt.Sprint(1 + r.IntN(3))
		res := p.Spec.Containers[0].Resources
		res.Requests[gpu], res.Limits = q(n), v1.ResourceList{gpu: q(n)}
		if r.IntN(4) == 0 {
			res.Requests[fpga], res.Limits[fpga] = q("1"), q("1")
		}
		p.Spec.Containers[0].Resources = res
		where := fmt.Sprintf("seed %d pod %d (%s GPUs; DRA on %v, device plugin on %v)", seed, i, n, viaDRA, viaPlugin)
		if !plugins.Wants(p) {
			t.Fatalf("%s: the plugins do not want a pod asking for a DeviceClass's extended resource", where)
		}
		want, wantScores, wantReject := kubeFeasible(ctx, t, kube, snapshot, p, nodes)
		cyc, err := plugins.PreFilter(ctx, p, len(nodes))
		var fit *core.FitError
		switch {
		case errors.As(err, &fit):
			if wantReject == "" {
				t.Fatalf("%s: Myriad rejects (%v), kube finds %v feasible", where, fit, want)
			}
			nowhere++
			compared++
			continue
		case err != nil:
			t.Fatal(err)
		case wantReject != "":
			t.Fatalf("%s: kube rejects at PreFilter (%s), Myriad does not", where, wantReject)
		}
		got, err := sc.ScoreNodesWith(p, &core.External{Check: cyc.Check, Score: cyc.Score, Without: cyc.Without})
		if err != nil && !errors.As(err, &fit) {
			t.Fatal(err)
		}
		gotNodes := make([]string, len(got))
		for j, ns := range got {
			gotNodes[j] = ns.Node
			if ns.Score != wantScores[ns.Node] {
				t.Errorf("%s node %s: score %d, kube %d", where, ns.Node, ns.Score, wantScores[ns.Node])
			}
		}
		slices.Sort(gotNodes)
		if !slices.Equal(gotNodes, want) {
			st := framework.NewCycleState()
			_, pst, _ := kube.RunPreFilterPlugins(ctx, st, p)
			for _, n := range gotNodes {
				ni, _ := snapshot.NodeInfos().Get(n)
				t.Logf("kube on %s: prefilter %v, filter %v", n, pst, kube.RunFilterPlugins(ctx, st, p, ni))
			}
			t.Fatalf("%s: Myriad finds %v feasible, kube %v (requests %v)", where, gotNodes, want, p.Spec.Containers[0].Resources.Requests)
		}
		compared++
		switch {
		case len(want) == 0:
			nowhere++
		case slices.ContainsFunc(want, func(n string) bool { return slices.Contains(viaDRA, n) && !slices.Contains(viaPlugin, n) }):
			byDRA++
		default:
			byPlugin++
		}
	}
	return compared, byDRA, byPlugin, nowhere
}

// deviceWorld: 3-9 nodes, a GPU class named example.com/gpu and an FPGA
// class with only its implicit name; each node has GPUs through a device
// plugin, a ResourceSlice, both or neither, and sometimes an FPGA.
func deviceWorld(r *rand.Rand) (nodes []*v1.Node, objects []runtime.Object, viaDRA, viaPlugin []string) {
	objects = append(objects,
		&resourceapi.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: "gpu.example.com"}, Spec: resourceapi.DeviceClassSpec{
			Selectors:            []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{Expression: fmt.Sprintf("device.driver == %q", gpuDriver)}}},
			ExtendedResourceName: ptr.To(string(gpu)),
		}},
		&resourceapi.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: "fpga.example.com"}, Spec: resourceapi.DeviceClassSpec{
			Selectors: []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{Expression: `device.driver == "fpga.example.com"`}}},
		}},
	)
	for i := range 3 + r.IntN(7) {
		name := fmt.Sprintf("node-%d", i)
		alloc := v1.ResourceList{v1.ResourceCPU: q("8"), v1.ResourceMemory: q("32Gi"), v1.ResourcePods: q("110")}
		if r.IntN(3) == 0 {
			alloc[gpu] = q(fmt.Sprint(r.IntN(3)))
			viaPlugin = append(viaPlugin, name)
		}
		node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
			Status: v1.NodeStatus{Allocatable: alloc, Capacity: alloc}}
		nodes = append(nodes, node)
		objects = append(objects, node)
		if r.IntN(2) == 0 {
			objects = append(objects, slice(name, gpuDriver, "gpu", r.IntN(4)))
			viaDRA = append(viaDRA, name)
		}
		if r.IntN(2) == 0 {
			objects = append(objects, slice(name, "fpga.example.com", "fpga", 1))
		}
	}
	return nodes, objects, viaDRA, viaPlugin
}

func slice(node, driver, prefix string, devices int) *resourceapi.ResourceSlice {
	s := &resourceapi.ResourceSlice{ObjectMeta: metav1.ObjectMeta{Name: node + "-" + prefix}, Spec: resourceapi.ResourceSliceSpec{
		Driver: driver, NodeName: ptr.To(node), Pool: resourceapi.ResourcePool{Name: node, ResourceSliceCount: 1},
	}}
	for d := range devices {
		s.Spec.Devices = append(s.Spec.Devices, resourceapi.Device{Name: fmt.Sprintf("%s-%d", prefix, d)})
	}
	return s
}

// kubeDRAFramework is kube-scheduler's whole default profile, DynamicResources
// included, with the DRA manager and its extended resource cache built and
// fed as kube-scheduler builds them.
func kubeDRAFramework(ctx context.Context, t *testing.T, client *fake.Clientset, factory informers.SharedInformerFactory, nodes []*v1.Node) (framework.Framework, cache.InformerSynced) {
	defaults, err := latest.Default()
	if err != nil {
		t.Fatal(err)
	}
	profile := defaults.Profiles[0]
	profile.SchedulerName = "kube"
	logger := klog.FromContext(ctx)
	claims := assumecache.NewAssumeCache(logger, factory.Resource().V1().ResourceClaims().Informer(), "ResourceClaim", "", nil)
	tracker, err := resourceslicetracker.StartTracker(ctx, resourceslicetracker.Options{
		SliceInformer: factory.Resource().V1().ResourceSlices(), KubeClient: client})
	if err != nil {
		t.Fatal(err)
	}
	mgr := dynamicresources.NewDRAManager(ctx, claims, tracker, factory)
	erc := mgr.DeviceClassResolver().(*extendedresourcecache.ExtendedResourceCache)
	reg, err := factory.Resource().V1().DeviceClasses().Informer().AddEventHandler(erc)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := frameworkruntime.NewFramework(ctx, frameworkplugins.NewInTreeRegistry(), &profile,
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(internalcache.NewSnapshot(nil, nodes)),
		frameworkruntime.WithSharedDRAManager(mgr),
		frameworkruntime.WithSharedCSIManager(nodevolumelimits.NewCSIManager(factory.Storage().V1().CSINodes().Lister())),
		frameworkruntime.WithEventRecorder(events.NewFakeRecorder(100)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return fw, reg.HasSynced
}
