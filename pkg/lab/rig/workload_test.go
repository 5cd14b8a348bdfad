package rig

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Attached, a workload run needs the Ready nodes and the room asked for,
// warns when no manager holds its Lease, and makes its namespace.
func TestWorkloadPreflightOnAnExistingClusterChecksNodesAndRoom(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cs := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "bench-ns"}})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		Allocatable: corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI)}}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	o := Defaults(1)
	o.Kubeconfig = "k"
	w := &Workload{Name: "cloneset", Options: o, Pods: 300}
	x := &WorkloadRun{Rig: New(clk, cs), Client: cs, Namespace: "bench-ns"}
	var out bytes.Buffer
	con := lab.NewConsole(&out)
	apiOK := func(context.Context, client.WithWatch) error { return nil }
	err := w.preflight(context.Background(), con, apiOK, x)
	if err == nil || !strings.Contains(err.Error(), "take 110 pods in all; --pods asks for 300") {
		t.Fatalf("err = %v", err)
	}
	w.Pods = 100
	if err := w.preflight(context.Background(), con, apiOK, x); err != nil {
		t.Fatal(err)
	}
	if x.Nodes != 1 {
		t.Errorf("nodes = %d, want the 1 Ready node found", x.Nodes)
	}
	if !strings.Contains(out.String(), "is 'myriad manager' running?") {
		t.Errorf("no warning about the missing manager Lease:\n%s", out.String())
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "bench-ns", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace not made: %v", err)
	}
}

// A run whose cluster never came up still closes its head with the reason,
// and never reaches the scenario's phases.
func TestWorkloadThatCannotStartStopsEarlyWithTheReason(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	w := &Workload{Name: "cloneset", Options: Defaults(2), Pods: 10, Namespace: "bench-ns",
		Parameters: func(ns string) map[string]string { return map[string]string{"namespace": ns} },
		StartRig: func(context.Context, Options, *lab.Console) (*Rig, error) {
			return New(clk, fake.NewClientset()), errStart
		}}
	var out bytes.Buffer
	phases, stopped := false, false
	h := w.Run(context.Background(), lab.Env{Clock: clk, Console: lab.NewConsole(&out)}, WorkloadSteps{
		CheckAPI:    func(context.Context, client.WithWatch) error { return nil },
		Phases:      func(context.Context, *WorkloadRun) error { phases = true; return nil },
		StopWatches: func() { stopped = true },
	})
	if phases || !stopped {
		t.Errorf("phases ran %v, watches stopped %v; want false, true", phases, stopped)
	}
	if h.Info.Parameters["namespace"] != "bench-ns" || !strings.Contains(out.String(), "starting a cluster of 2 nodes") {
		t.Errorf("parameters %v, console:\n%s", h.Info.Parameters, out.String())
	}
	if !strings.Contains(out.String(), "starting the cluster: cannot start") {
		t.Errorf("the reason is not said:\n%s", out.String())
	}
}

type startError string

func (e startError) Error() string { return string(e) }

const errStart = startError("cannot start")
