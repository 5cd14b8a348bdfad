package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// `myriad up --ha`: the seeds' highly available control plane on one
// machine. It runs
//   - three etcd members (etcdmembers.go), a new one joining as a learner;
//   - three API servers (unless --apiservers says otherwise) behind the
//     balancer, which skips a server whose /readyz fails;
//   - ControllerReplicas instances of kube-controller-manager, the
//     scheduler and `myriad manager`, each elected through its Lease and
//     each with its handover, so a dead leader's standby leads at once;
//   - the workload webhook on every manager instance behind a balancer of
//     its own, so a paused or dead instance (leader or not) no longer
//     fails CloneSet writes.
// The simulator, storage, the syncer and metrics-server stay single: they
// are not on the path of the API's availability.

// ControllerReplicas is how many instances of each leader-elected
// controller --ha runs: the leader and a warm standby.
const ControllerReplicas = 2

// ReplicaPorts are one controller instance's loopback ports.
type ReplicaPorts struct {
	ControllerManager, Scheduler, ManagerMetrics, ManagerProbe, Webhook int
}

const portsPerReplica = 5

// replicasOf deals ports out to ControllerReplicas instances; none
// without --ha.
func replicasOf(ports []int) []ReplicaPorts {
	var out []ReplicaPorts
	for i := 0; i+portsPerReplica <= len(ports); i += portsPerReplica {
		p := ports[i:]
		out = append(out, ReplicaPorts{ControllerManager: p[0], Scheduler: p[1], ManagerMetrics: p[2], ManagerProbe: p[3], Webhook: p[4]})
	}
	return out
}

// replicaCount is how many instances of each controller run.
func (p Plan) replicaCount() int { return max(len(p.Replicas), 1) }

// Replica is the plan as instance k of the controllers sees it: its own
// ports. Without replicas it is the plan itself.
func (p Plan) Replica(k int) Plan {
	if k >= len(p.Replicas) {
		return p
	}
	r := p.Replicas[k]
	p.ControllerManagerPort, p.SchedulerPort = r.ControllerManager, r.Scheduler
	p.ManagerMetricsPort, p.ManagerProbePort, p.WebhookPort = r.ManagerMetrics, r.ManagerProbe, r.Webhook
	return p
}

// replicaName names instance k of component: the component itself when
// it runs once, component-k under --ha.
func (p Plan) replicaName(component string, k int) string {
	if p.replicaCount() == 1 {
		return component
	}
	return component + "-" + strconv.Itoa(k)
}

// portUse is a port `up` needs and the flag that chose it.
type portUse struct {
	port int
	flag string
}

// etcdPorts are every etcd member's client and peer port.
func (o Options) etcdPorts() []portUse {
	members := 1
	if o.HA {
		members = EtcdHAMembers
	}
	var out []portUse
	for i := range members {
		client, peer := EtcdMemberPorts(o.EtcdPort, i)
		if i == 0 {
			out = append(out, portUse{client, "--etcd-port"}, portUse{peer, "--etcd-port (peer port = etcd port + 1)"})
			continue
		}
		out = append(out, portUse{client, fmt.Sprintf("--etcd-port (--ha's member %d listens on etcd port + %d)", i, client-o.EtcdPort)},
			portUse{peer, fmt.Sprintf("--etcd-port (--ha's member %d peers on etcd port + %d)", i, peer-o.EtcdPort)})
	}
	return out
}

// startWebhookBalancer serves the workload webhook's address (the one the
// webhook configurations and the API server's client credentials name)
// from every manager instance, skipping one whose /readyz fails.
func (c *Cluster) startWebhookBalancer(plan Plan) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(plan.WebhookPort)))
	if err != nil {
		return fmt.Errorf("webhook port %d: %w", plan.WebhookPort, err)
	}
	b := &Balancer{}
	ready := make([]func(context.Context) error, len(plan.Replicas))
	for k, r := range plan.Replicas {
		b.Backends = append(b.Backends, net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Webhook)))
		ready[k] = httpProbe(fmt.Sprintf("http://127.0.0.1:%d/readyz", r.ManagerProbe))
	}
	b.Healthy = func(ctx context.Context, i int) error { return ready[i](ctx) }
	c.serve(b, l)
	return nil
}
