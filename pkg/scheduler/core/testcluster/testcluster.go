// Package testcluster generates seeded random clusters and pods for the
// scheduler's tests, differential test and benchmarks. It is plain data:
// no clocks, no I/O, the same seed gives the same cluster.
package testcluster

import (
	"fmt"
	"math/rand/v2"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Cluster is a generated cluster.
type Cluster struct {
	Nodes      []*v1.Node
	Pods       []*v1.Pod // bound
	Namespaces []*v1.Namespace
	// With Options.Workloads: what system-default topology spreading reads.
	Services               []*v1.Service
	ReplicationControllers []*v1.ReplicationController
	ReplicaSets            []*appsv1.ReplicaSet
	StatefulSets           []*appsv1.StatefulSet
}

// Options shape a generated cluster.
type Options struct {
	Nodes, PodsPerNode int
	// Rich adds taints, unschedulable nodes, extended resources, host ports
	// and anti-affinity to existing pods (the differential test wants them;
	// benchmarks of plain replicas do not).
	Rich bool
	// Workloads adds Services and controllers, makes existing pods members
	// of them (JoinWorkload), some terminating, and gives nodes and pods
	// images (SetImages). Off, the random stream is what it always was, so
	// other tests' seeds keep their clusters.
	Workloads bool
}

var (
	zones = []string{"z1", "z2", "z3"}
	apps  = []string{"a", "b", "c", "d"}
	nss   = []string{"default", "team1"}
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

// Node returns one node with the given capacity.
func Node(name string, cpu, mem string, pods int, lbls map[string]string) *v1.Node {
	l := map[string]string{v1.LabelHostname: name}
	for k, v := range lbls {
		l[k] = v
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, UID: types.UID("node-" + name)},
		Status: v1.NodeStatus{Allocatable: v1.ResourceList{
			v1.ResourceCPU: q(cpu), v1.ResourceMemory: q(mem), v1.ResourcePods: *resource.NewQuantity(int64(pods), resource.DecimalSI),
			v1.ResourceEphemeralStorage: q("100Gi"),
		}},
	}
}

// Pod returns a one-container pod.
func Pod(ns, name string, cpu, mem string, lbls map[string]string) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name), Labels: lbls},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{}}}}},
	}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = q(cpu)
	}
	if mem != "" {
		p.Spec.Containers[0].Resources.Requests[v1.ResourceMemory] = q(mem)
	}
	return p
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// New generates a cluster.
func New(r *rand.Rand, o Options) *Cluster {
	c := &Cluster{}
	for _, ns := range nss {
		c.Namespaces = append(c.Namespaces, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"tier": ns}}})
	}
	for i := 0; i < o.Nodes; i++ {
		name := fmt.Sprintf("node-%05d", i)
		lbls := map[string]string{"gen": fmt.Sprint(1 + r.IntN(5))}
		if !o.Rich || r.IntN(10) > 0 { // some nodes lack the zone label
			lbls[v1.LabelTopologyZone] = pick(r, zones)
		}
		if r.IntN(2) == 0 {
			lbls["disk"] = "ssd"
		} else {
			lbls["disk"] = "hdd"
		}
		n := Node(name, pick(r, []string{"2", "4", "8"}), pick(r, []string{"4Gi", "8Gi", "16Gi"}), pick(r, []int{8, 16, 110}), lbls)
		if o.Rich {
			switch r.IntN(8) {
			case 0:
				n.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: pick(r, []string{"db", "web"}), Effect: v1.TaintEffectNoSchedule}}
			case 1:
				n.Spec.Taints = []v1.Taint{{Key: "flaky", Effect: v1.TaintEffectNoExecute}}
			case 2:
				n.Spec.Taints = []v1.Taint{{Key: "spot", Value: "true", Effect: v1.TaintEffectPreferNoSchedule}}
			}
			if r.IntN(15) == 0 {
				n.Spec.Unschedulable = true
			}
			if r.IntN(4) == 0 {
				n.Status.Allocatable["example.com/gpu"] = *resource.NewQuantity(int64(1+r.IntN(2)), resource.DecimalSI)
			}
		}
		if o.Workloads {
			setNodeImages(r, n)
		}
		c.Nodes = append(c.Nodes, n)
	}
	if o.Workloads {
		c.addWorkloadObjects()
	}
	seq := 0
	for _, n := range c.Nodes {
		k := r.IntN(o.PodsPerNode + 1)
		for j := 0; j < k; j++ {
			seq++
			p := Pod(pick(r, nss), fmt.Sprintf("existing-%d", seq), pick(r, []string{"100m", "250m", "500m"}), pick(r, []string{"128Mi", "512Mi", "1Gi"}), map[string]string{"app": pick(r, apps)})
			p.Spec.NodeName = n.Name
			if o.Rich {
				if r.IntN(12) == 0 {
					p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: pick(r, []int32{80, 443}), ContainerPort: 80, Protocol: pick(r, []v1.Protocol{"", v1.ProtocolTCP, v1.ProtocolUDP}), HostIP: pick(r, []string{"", "10.0.0.1"})}}
				}
				if r.IntN(15) == 0 {
					p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
						randomTerm(r),
					}}}
				}
			}
			if o.Workloads {
				JoinWorkload(r, p)
				SetImages(r, p)
				if r.IntN(15) == 0 {
					p.DeletionTimestamp = &metav1.Time{}
				}
			}
			c.Pods = append(c.Pods, p)
		}
	}
	return c
}

func randomTerm(r *rand.Rand) v1.PodAffinityTerm {
	t := v1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": pick(r, apps)}},
		TopologyKey:   pick(r, []string{v1.LabelHostname, v1.LabelTopologyZone}),
	}
	switch r.IntN(4) {
	case 0:
		t.NamespaceSelector = &metav1.LabelSelector{}
	case 1:
		t.Namespaces = []string{pick(r, nss)}
	case 2:
		t.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "team1"}}
	}
	return t
}

// PendingPod generates a pending pod with a random mix of every scheduling
// feature the core implements.
func PendingPod(r *rand.Rand, i int, nodes []*v1.Node) *v1.Pod {
	p := Pod(pick(r, nss), fmt.Sprintf("pending-%d", i), pick(r, []string{"", "100m", "500m", "1", "3", "7"}), pick(r, []string{"", "256Mi", "1Gi", "6Gi"}), map[string]string{"app": pick(r, apps)})
	s := &p.Spec
	if r.IntN(6) == 0 {
		s.Containers[0].Resources.Requests["example.com/gpu"] = q("1")
		s.Containers[0].Resources.Limits = v1.ResourceList{"example.com/gpu": q("1")}
	}
	if r.IntN(6) == 0 {
		always := v1.ContainerRestartPolicyAlways
		ic := v1.Container{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: q(pick(r, []string{"500m", "2", "5"}))}}}
		if r.IntN(2) == 0 {
			ic.RestartPolicy = &always
		}
		s.InitContainers = []v1.Container{ic}
	}
	if r.IntN(8) == 0 {
		s.Overhead = v1.ResourceList{v1.ResourceCPU: q("250m"), v1.ResourceMemory: q("128Mi")}
	}
	if r.IntN(6) == 0 {
		s.Containers[0].Ports = []v1.ContainerPort{{HostPort: pick(r, []int32{80, 443, 8080}), ContainerPort: 80, Protocol: pick(r, []v1.Protocol{"", v1.ProtocolUDP}), HostIP: pick(r, []string{"", "10.0.0.1", "10.0.0.2"})}}
	}
	if r.IntN(5) == 0 {
		s.NodeSelector = map[string]string{"disk": pick(r, []string{"ssd", "hdd"})}
	}
	if r.IntN(4) == 0 {
		req := v1.NodeSelectorRequirement{Key: "gen"}
		switch r.IntN(6) {
		case 0:
			req.Operator, req.Values = v1.NodeSelectorOpGt, []string{fmt.Sprint(r.IntN(5))}
		case 1:
			req.Operator, req.Values = v1.NodeSelectorOpLt, []string{fmt.Sprint(1 + r.IntN(5))}
		case 2:
			req.Key, req.Operator, req.Values = v1.LabelTopologyZone, v1.NodeSelectorOpIn, []string{pick(r, zones)}
		case 3:
			req.Key, req.Operator, req.Values = v1.LabelTopologyZone, v1.NodeSelectorOpNotIn, []string{pick(r, zones)}
		case 4:
			req.Key, req.Operator = v1.LabelTopologyZone, pick(r, []v1.NodeSelectorOperator{v1.NodeSelectorOpExists, v1.NodeSelectorOpDoesNotExist})
		}
		term := v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{req}}
		if r.IntN(5) == 0 && len(nodes) > 0 {
			term = v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{pick(r, nodes).Name, pick(r, nodes).Name}}}}
		}
		s.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{term}},
			PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{Weight: 10, Preference: v1.NodeSelectorTerm{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "disk", Operator: v1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}},
		}}
	}
	if r.IntN(3) == 0 {
		switch r.IntN(4) {
		case 0:
			s.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "db", Effect: v1.TaintEffectNoSchedule}}
		case 1:
			s.Tolerations = []v1.Toleration{{Key: "flaky", Operator: v1.TolerationOpExists}}
		case 2:
			s.Tolerations = []v1.Toleration{{Key: v1.TaintNodeUnschedulable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}}
		case 3:
			s.Tolerations = []v1.Toleration{{Operator: v1.TolerationOpExists}}
		}
	}
	if r.IntN(5) == 0 {
		if s.Affinity == nil {
			s.Affinity = &v1.Affinity{}
		}
		if r.IntN(2) == 0 {
			s.Affinity.PodAffinity = &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{randomTerm(r)}}
		} else {
			s.Affinity.PodAntiAffinity = &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{randomTerm(r)},
				PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{Weight: 5, PodAffinityTerm: randomTerm(r)}}}
		}
	}
	if r.IntN(5) == 0 {
		c := v1.TopologySpreadConstraint{
			MaxSkew:           int32(1 + r.IntN(2)),
			TopologyKey:       pick(r, []string{v1.LabelHostname, v1.LabelTopologyZone}),
			WhenUnsatisfiable: pick(r, []v1.UnsatisfiableConstraintAction{v1.DoNotSchedule, v1.DoNotSchedule, v1.ScheduleAnyway}),
			LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.Labels["app"]}},
		}
		if c.WhenUnsatisfiable == v1.DoNotSchedule && r.IntN(3) == 0 {
			md := int32(2 + r.IntN(3))
			c.MinDomains = &md
		}
		if r.IntN(3) == 0 {
			h := v1.NodeInclusionPolicyHonor
			c.NodeTaintsPolicy = &h
		}
		if r.IntN(4) == 0 {
			ig := v1.NodeInclusionPolicyIgnore
			c.NodeAffinityPolicy = &ig
		}
		s.TopologySpreadConstraints = []v1.TopologySpreadConstraint{c}
	}
	if r.IntN(30) == 0 && len(nodes) > 0 {
		s.NodeName = pick(r, nodes).Name
	}
	return p
}

// Core is what a scheduler core is fed from its informers; *core.Scheduler
// satisfies it, and this package stays plain data without importing it.
type Core interface {
	WorkloadCore
	SetNamespace(*v1.Namespace)
	UpdateNode(*v1.Node)
	AddPod(*v1.Pod) error
}

// WorkloadCore takes the selectors default topology spreading reads.
type WorkloadCore interface {
	UpdateService(*v1.Service)
	UpdateReplicationController(*v1.ReplicationController)
	UpdateReplicaSet(*appsv1.ReplicaSet)
	UpdateStatefulSet(*appsv1.StatefulSet)
}

// Feed gives sc the whole cluster, as the scheduler's informers would.
func (c *Cluster) Feed(sc Core) error {
	for _, ns := range c.Namespaces {
		sc.SetNamespace(ns)
	}
	for _, n := range c.Nodes {
		sc.UpdateNode(n)
	}
	for _, p := range c.Pods {
		if err := sc.AddPod(p); err != nil {
			return err
		}
	}
	c.FeedWorkloads(sc)
	return nil
}

// FeedWorkloads gives sc the cluster's Services and controllers.
func (c *Cluster) FeedWorkloads(sc WorkloadCore) {
	for _, s := range c.Services {
		sc.UpdateService(s)
	}
	for _, rc := range c.ReplicationControllers {
		sc.UpdateReplicationController(rc)
	}
	for _, rs := range c.ReplicaSets {
		sc.UpdateReplicaSet(rs)
	}
	for _, ss := range c.StatefulSets {
		sc.UpdateStatefulSet(ss)
	}
}
