package core_test

import (
	"errors"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
	tc "github.com/myriad-dev/myriad/pkg/scheduler/core/testcluster"
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func withPod(p *v1.Pod, f func(p *v1.Pod)) *v1.Pod { f(p); return p }

func withNode(n *v1.Node, f func(n *v1.Node)) *v1.Node { f(n); return n }

func bound(p *v1.Pod, node string) *v1.Pod { p.Spec.NodeName = node; return p }

func TestFilters(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	base := func() *v1.Node { return tc.Node("n1", "2", "4Gi", 3, map[string]string{"zone": "a", "gen": "3"}) }
	tests := []struct {
		name     string
		node     *v1.Node
		existing []*v1.Pod
		pod      *v1.Pod
		want     []string // nil: fits
	}{
		{"fits", base(), nil, tc.Pod("ns", "p", "1", "1Gi", nil), nil},
		{"insufficient cpu", base(), []*v1.Pod{bound(tc.Pod("ns", "e", "1500m", "", nil), "n1")}, tc.Pod("ns", "p", "1", "", nil), []string{"Insufficient cpu"}},
		{"insufficient cpu and memory", base(), nil, tc.Pod("ns", "p", "3", "5Gi", nil), []string{"Insufficient cpu", "Insufficient memory"}},
		{"too many pods", base(), []*v1.Pod{bound(tc.Pod("ns", "a", "", "", nil), "n1"), bound(tc.Pod("ns", "b", "", "", nil), "n1"), bound(tc.Pod("ns", "c", "", "", nil), "n1")},
			tc.Pod("ns", "p", "", "", nil), []string{"Too many pods"}},
		{"extended resource missing", base(), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = q("1")
		}), []string{"Insufficient example.com/gpu"}},
		{"init container max wins", base(), nil, withPod(tc.Pod("ns", "p", "500m", "", nil), func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "i", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: q("3")}}}}
		}), []string{"Insufficient cpu"}},
		{"sidecar adds to containers", base(), nil, withPod(tc.Pod("ns", "p", "1500m", "", nil), func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "s", RestartPolicy: &always, Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: q("600m")}}}}
		}), []string{"Insufficient cpu"}},
		{"overhead counts", base(), nil, withPod(tc.Pod("ns", "p", "1900m", "", nil), func(p *v1.Pod) {
			p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: q("200m")}
		}), []string{"Insufficient cpu"}},
		{"nodeName", base(), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) { p.Spec.NodeName = "other" }), []string{core.ReasonNodeName}},
		{"nodeSelector", base(), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "b"} }), []string{core.ReasonNodeAffinity}},
		{"affinity Gt fails", base(), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "gen", Operator: v1.NodeSelectorOpGt, Values: []string{"3"}}}}}}}}
		}), []string{core.ReasonNodeAffinity}},
		{"affinity Lt fits", base(), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "gen", Operator: v1.NodeSelectorOpLt, Values: []string{"4"}}}}}}}}
		}), nil},
		{"matchFields metadata.name", base(), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n2"}}}}}}}}
		}), []string{core.ReasonNodeAffinity}},
		{"NoSchedule taint", withNode(base(), func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectNoSchedule}} }), nil,
			tc.Pod("ns", "p", "", "", nil), []string{core.ReasonTaints}},
		{"NoExecute taint tolerated", withNode(base(), func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoExecute}} }), nil,
			withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
				p.Spec.Tolerations = []v1.Toleration{{Key: "k", Operator: v1.TolerationOpEqual, Value: "v"}}
			}), nil},
		{"PreferNoSchedule only scores", withNode(base(), func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectPreferNoSchedule}} }), nil,
			tc.Pod("ns", "p", "", "", nil), nil},
		{"unschedulable", withNode(base(), func(n *v1.Node) { n.Spec.Unschedulable = true }), nil, tc.Pod("ns", "p", "", "", nil), []string{core.ReasonUnschedulable}},
		{"unschedulable tolerated", withNode(base(), func(n *v1.Node) { n.Spec.Unschedulable = true }), nil, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Key: v1.TaintNodeUnschedulable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}}
		}), nil},
		{"host port any-IP conflict", base(), []*v1.Pod{bound(withPod(tc.Pod("ns", "e", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80, HostIP: "10.0.0.1"}}
		}), "n1")}, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80}}
		}), []string{core.ReasonNodePorts}},
		{"host port other IP ok", base(), []*v1.Pod{bound(withPod(tc.Pod("ns", "e", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80, HostIP: "10.0.0.1"}}
		}), "n1")}, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80, HostIP: "10.0.0.2"}}
		}), nil},
		{"host port other protocol ok", base(), []*v1.Pod{bound(withPod(tc.Pod("ns", "e", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 53}}
		}), "n1")}, withPod(tc.Pod("ns", "p", "", "", nil), func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 53, Protocol: v1.ProtocolUDP}}
		}), nil},
		{"existing pod anti-affinity", base(), []*v1.Pod{bound(withPod(tc.Pod("ns", "e", "", "", nil), func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "zone"}}}}
		}), "n1")}, tc.Pod("ns", "p", "", "", map[string]string{"app": "web"}), []string{core.ReasonExistingAntiAffinity}},
		{"self affinity of first replica", base(), nil, withPod(tc.Pod("ns", "p", "", "", map[string]string{"app": "web"}), func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "zone"}}}}
		}), nil},
		{"affinity to absent pods", base(), nil, withPod(tc.Pod("ns", "p", "", "", map[string]string{"app": "web"}), func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, TopologyKey: "zone"}}}}
		}), []string{core.ReasonPodAffinity}},
		{"spread missing label", base(), nil, withPod(tc.Pod("ns", "p", "", "", map[string]string{"app": "web"}), func(p *v1.Pod) {
			p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "rack", WhenUnsatisfiable: v1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
		}), []string{core.ReasonSpreadMissingLabel}},
		{"spread minDomains unmet", base(), []*v1.Pod{bound(tc.Pod("ns", "e", "", "", map[string]string{"app": "web"}), "n1")},
			withPod(tc.Pod("ns", "p", "", "", map[string]string{"app": "web"}), func(p *v1.Pod) {
				md := int32(2)
				p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, MinDomains: &md, TopologyKey: "zone", WhenUnsatisfiable: v1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
			}), []string{core.ReasonSpread}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := core.New(core.DefaultConfig())
			sc.UpdateNode(tt.node)
			for _, p := range tt.existing {
				if err := sc.AddPod(p); err != nil {
					t.Fatal(err)
				}
			}
			got := sc.Check(tt.pod, "n1")
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("Check = %q, want %q", got, tt.want)
			}
			_, err := sc.Schedule(tt.pod)
			if (err == nil) != (tt.want == nil) {
				t.Fatalf("Schedule err = %v, want fit=%v", err, tt.want == nil)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	sc := core.New(core.DefaultConfig())
	sc.UpdateNode(tc.Node("a", "1", "1Gi", 10, nil))
	sc.UpdateNode(tc.Node("b", "1", "1Gi", 10, nil))
	sc.UpdateNode(withNode(tc.Node("c", "8", "8Gi", 10, nil), func(n *v1.Node) { n.Spec.Unschedulable = true }))
	_, err := sc.Schedule(tc.Pod("ns", "p", "2", "", nil))
	var fe *core.FitError
	if !errors.As(err, &fe) {
		t.Fatalf("want FitError, got %v", err)
	}
	want := "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
	if fe.Error() != want {
		t.Fatalf("got %q, want %q", fe.Error(), want)
	}
}

func TestSchedulingGates(t *testing.T) {
	sc := core.New(core.DefaultConfig())
	sc.UpdateNode(tc.Node("a", "1", "1Gi", 10, nil))
	p := tc.Pod("ns", "p", "", "", nil)
	p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}}
	if _, err := sc.Schedule(p); !errors.Is(err, core.ErrSchedulingGated) {
		t.Fatalf("gated pod: got %v", err)
	}
}
