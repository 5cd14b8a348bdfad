package controlplane

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Under --ha every instance gets ports of its own, the API servers know
// every etcd member, and upstream's standbys try a released Lease as
// often as Myriad's own; without it the plan is as before.
func TestHAPlan(t *testing.T) {
	p := Plan{Dir: DataDir{Root: "/d"}, EtcdPort: 2379, EtcdMembers: EtcdHAMembers, APIServerPort: []int{6001, 6002, 6003},
		ControllerManagerPort: 1, SchedulerPort: 2, ManagerMetricsPort: 3, ManagerProbePort: 4, WebhookPort: 5,
		Replicas: replicasOf([]int{11, 12, 13, 14, 15, 21, 22, 23, 24, 25})}
	if p.replicaCount() != 2 {
		t.Fatalf("%d replicas", p.replicaCount())
	}
	r1 := p.Replica(1)
	if r1.ControllerManagerPort != 21 || r1.SchedulerPort != 22 || r1.ManagerMetricsPort != 23 || r1.ManagerProbePort != 24 || r1.WebhookPort != 25 {
		t.Errorf("replica 1 ports %+v", r1.Replicas[1])
	}
	if p.WebhookPort != 5 {
		t.Error("the webhook's front address moved")
	}
	if got := p.replicaName("kube-scheduler", 1); got != "kube-scheduler-1" {
		t.Errorf("name %s", got)
	}
	for i, want := range []string{"--etcd-servers=https://127.0.0.1:2379", "--etcd-servers=https://127.0.0.1:2381", "--etcd-servers=https://127.0.0.1:2383"} {
		if !slices.Contains(p.APIServerArgs(i), want) {
			t.Errorf("API server %d lacks %s: each talks to its own member", i, want)
		}
	}
	if !slices.Contains(r1.ControllerManagerArgs(), handoverRetryPeriod) || !strings.Contains(r1.SchedulerConfig(), "retryPeriod: 500ms") {
		t.Error("upstream's standbys keep upstream's 2s retry under --ha")
	}

	single := Plan{Dir: DataDir{Root: "/d"}, EtcdPort: 2379, EtcdMembers: 1, APIServerPort: []int{6443}, ControllerManagerPort: 1}
	if single.replicaCount() != 1 || single.replicaName("kube-scheduler", 0) != "kube-scheduler" || single.Replica(0).ControllerManagerPort != 1 {
		t.Error("a plan without --ha changed")
	}
	if !slices.Contains(single.APIServerArgs(0), "--etcd-servers=https://127.0.0.1:2379") {
		t.Error("single etcd server")
	}
	if slices.Contains(single.ControllerManagerArgs(), handoverRetryPeriod) || strings.Contains(single.SchedulerConfig(), "retryPeriod") {
		t.Error("upstream timing changed without --ha")
	}
}

// --ha needs six etcd ports from --etcd-port, and --port outside them.
func TestHAOptionsNeedRoomForEtcd(t *testing.T) {
	o := Options{DataDir: "/d", Nodes: 1, APIServers: 3, Port: 2383, EtcdPort: 2379, BindAddress: "127.0.0.1",
		EtcdQuota: 1 << 30, NodeMonitorGracePeriod: 40 * time.Second}
	if err := o.Validate(); err != nil {
		t.Fatalf("without --ha port 2383 is free of etcd: %v", err)
	}
	o.HA = true
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "collides with etcd's ports 2379-2384") {
		t.Errorf("--ha with --port on a member's port: %v", err)
	}
	o.Port, o.EtcdPort = 6443, 65532
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--etcd-port must leave room") {
		t.Errorf("--ha near the top of the port range: %v", err)
	}
	if n := len((Options{HA: true, EtcdPort: 2379}).etcdPorts()); n != 6 {
		t.Errorf("%d etcd ports under --ha", n)
	}
}
