package oracle_test

import (
	"fmt"
	"math/rand/v2"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

// The clusters and pod streams of TestSideBySide. Both schedulers get the
// same cluster and the same pods in the same order, and the same Services
// and ReplicaSets, which kube's system-default topology spreading (and
// Myriad's equivalent) read to find a pod's siblings.

// burst is how many replicas of one workload arrive together, as a
// Deployment's rollout creates them.
const burst = 25

// sideCluster is testcluster's cluster of n nodes (fixed seed, up to four
// running pods per node) decorated as BenchmarkEquivalenceClasses'
// cluster is, so that taints and ImageLocality have something to say: every
// 8th node is tainted dedicated=db:NoSchedule, every 10th other one
// spot=true:PreferNoSchedule, and every third node holds each deployment's
// image.
func sideCluster(n int) *testcluster.Cluster {
	c := testcluster.New(rand.New(rand.NewPCG(2, 2)), testcluster.Options{Nodes: n, PodsPerNode: 4})
	for i, node := range c.Nodes {
		switch {
		case i%8 == 0:
			node.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "db", Effect: v1.TaintEffectNoSchedule}}
		case i%10 == 0:
			node.Spec.Taints = []v1.Taint{{Key: "spot", Value: "true", Effect: v1.TaintEffectPreferNoSchedule}}
		}
		for j, d := range deployments {
			if (i+j)%3 == 0 {
				node.Status.Images = append(node.Status.Images, v1.ContainerImage{Names: []string{d.image()}, SizeBytes: int64(100*(j+1)) << 20})
			}
		}
	}
	return c
}

// deployment is one Deployment-like workload: its replicas are owned by
// ReplicaSet <app>-1 and selected by Service <app>.
type deployment struct {
	ns, app, cpu, mem string
	img               string // default: registry.example/<app>:v1
	tweak             func(*v1.Pod)
}

// deployments are the four workloads of the replica stream; each has its
// own node-local inputs (requests, selector, affinity, tolerations, a host
// port), as in BenchmarkEquivalenceClasses.
var deployments = []deployment{
	{ns: "default", app: "web", cpu: "100m", mem: "128Mi"},
	{ns: "default", app: "api", cpu: "250m", mem: "256Mi", tweak: func(p *v1.Pod) {
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "db", Effect: v1.TaintEffectNoSchedule}}
	}},
	{ns: "team1", app: "batch", cpu: "500m", mem: "512Mi", tweak: func(p *v1.Pod) {
		p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "gen", Operator: v1.NodeSelectorOpIn, Values: []string{"3", "4", "5"}}}}}},
			PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{Weight: 10, Preference: v1.NodeSelectorTerm{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "disk", Operator: v1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}},
		}}
	}},
	{ns: "default", app: "cache", cpu: "1", mem: "1Gi", tweak: func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 6379, HostPort: 6379}}
		p.Spec.Tolerations = []v1.Toleration{{Key: "spot", Operator: v1.TolerationOpExists}}
	}},
}

func (d deployment) image() string {
	if d.img != "" {
		return d.img
	}
	return "registry.example/" + d.app + ":v1"
}

// replica is a pod as the ReplicaSet creates it, with the scheduler name
// the API server would default (kube's informers only queue pods naming a
// profile).
func (d deployment) replica(name string) *v1.Pod {
	p := testcluster.Pod(d.ns, name, d.cpu, d.mem, map[string]string{"app": d.app, "pod-template-hash": "1"})
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: d.app + "-1",
		UID: types.UID("uid-rs-" + d.app), Controller: ptr.To(true)}}
	p.Spec.SchedulerName = v1.DefaultSchedulerName
	p.Spec.Containers[0].Image = d.image()
	if d.tweak != nil {
		d.tweak(p)
	}
	return p
}

func (d deployment) service() *v1.Service {
	return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: d.ns, Name: d.app, UID: types.UID("uid-svc-" + d.app)},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": d.app}}}
}

func (d deployment) replicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: d.ns, Name: d.app + "-1", UID: types.UID("uid-rs-" + d.app)},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.app, "pod-template-hash": "1"}}}}
}

// podStream is one workload of the comparison: pod(i) is the i-th pod to
// schedule, the same object (copied) for both schedulers.
type podStream struct {
	name        string
	services    []*v1.Service
	replicaSets []*appsv1.ReplicaSet
	pod         func(i int) *v1.Pod
}

func streamOf(name string, ds []deployment, pod func(i int) *v1.Pod) podStream {
	s := podStream{name: name, pod: pod}
	for _, d := range ds {
		s.services = append(s.services, d.service())
		s.replicaSets = append(s.replicaSets, d.replicaSet())
	}
	return s
}

// sideStreams are the three workloads the issue names.
func sideStreams() []podStream {
	// (c) eight workloads whose replicas must not share a node (required
	// anti-affinity, hostname) and must stay balanced across zones (maxSkew
	// 1, DoNotSchedule). Eight, so that each gets few enough replicas to
	// stay schedulable on the smallest cluster.
	spread := make([]deployment, 8)
	for k := range spread {
		spread[k] = deployment{ns: "default", app: fmt.Sprintf("spread-%d", k), cpu: "200m", mem: "256Mi",
			img: deployments[0].image(), tweak: antiAffinityAndZoneSpread}
	}
	return []podStream{
		// (a) replicas of a few classes.
		streamOf("replicas", deployments, func(i int) *v1.Pod {
			d := deployments[(i/burst)%len(deployments)]
			return d.replica(fmt.Sprintf("%s-%d", d.app, i))
		}),
		// (b) every pod different.
		streamOf("distinct", deployments, distinctPod),
		streamOf("anti-affinity+spread", spread, func(i int) *v1.Pod {
			d := spread[(i/burst)%len(spread)]
			return d.replica(fmt.Sprintf("%s-%d", d.app, i))
		}),
	}
}

// distinctPod is a pod no other pod of the stream equals in what
// equivalence reuse keys on: its memory request is its own (64Mi + i KiB),
// and its CPU request, node selector, tolerations and preferred node
// affinity vary too. It carries a deployment's app label, so that a
// Service selects it and system-default spreading applies as for
// replicas; its other labels are its own.
func distinctPod(i int) *v1.Pod {
	d := deployments[i%len(deployments)]
	p := testcluster.Pod(d.ns, fmt.Sprintf("distinct-%d", i), fmt.Sprintf("%dm", 50+(i*37)%400), fmt.Sprintf("%dKi", 64<<10+i),
		map[string]string{"app": d.app, "instance": fmt.Sprint(i)})
	p.Spec.SchedulerName = v1.DefaultSchedulerName
	p.Spec.Containers[0].Image = d.image()
	if i%3 == 0 {
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	}
	if i%5 == 0 {
		p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "db", Effect: v1.TaintEffectNoSchedule}}
	}
	if i%2 == 0 {
		p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{
			Weight: int32(1 + i%100), Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{
				Key: "gen", Operator: v1.NodeSelectorOpIn, Values: []string{fmt.Sprint(1 + i%5)}}}}}}}}
	}
	return p
}

func antiAffinityAndZoneSpread(p *v1.Pod) {
	own := &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.Labels["app"]}}
	p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
		LabelSelector: own, TopologyKey: v1.LabelHostname}}}}
	p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: v1.LabelTopologyZone, WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: own}}
}
