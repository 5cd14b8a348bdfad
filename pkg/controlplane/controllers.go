package controlplane

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// The leader-elected controllers `myriad up` runs: kube-controller-manager,
// the scheduler and the workload manager, one instance each, or under
// --ha ControllerReplicas of each (ha.go). Every instance is supervised
// with a Lease handover of its own (handover.go), so when the leader dies
// its Lease is released at once and the warm standby leads within a
// second or two.

// electedFunc gives a process of component its Lease handover.
type electedFunc func(component string, p supervisor.Process) supervisor.Process

// startControllers starts every instance of the leader-elected
// controllers and points the API server at the workload webhook. It
// returns how later components get their handover.
func (c *Cluster) startControllers(ctx context.Context, o Options, plan Plan, cs kubernetes.Interface, step startFunc) (func(supervisor.Process) supervisor.Process, error) {
	certs := plan.Certs
	adminCert, adminKey := certs.Client(SuperAdminUser)
	c.Handovers = map[string]*LeaseHandover{}
	elected := func(component string, p supervisor.Process) supervisor.Process {
		h := c.NewHandover(cs.CoordinationV1(), component, p.Name)
		if h != nil {
			// With several instances the user wants to know which leads.
			h.Announce = plan.replicaCount() > 1
			c.Handovers[p.Name], p.Observer = h, h
		}
		return p
	}
	if plan.replicaCount() > 1 {
		if err := c.startWebhookBalancer(plan); err != nil {
			return nil, err
		}
	}
	for k := range plan.replicaCount() {
		rp := plan.Replica(k)
		ready, err := httpsProbe(fmt.Sprintf("https://127.0.0.1:%d/healthz", rp.ControllerManagerPort), certs.CA, adminCert, adminKey, "")
		if err != nil {
			return nil, err
		}
		name := plan.replicaName("kube-controller-manager", k)
		if err := step(name, elected("kube-controller-manager", supervisor.Process{Name: name, Ready: ready,
			Args: append([]string{"kube-controller-manager"}, rp.ControllerManagerArgs()...)})); err != nil {
			return nil, err
		}
	}
	if err := c.startSchedulers(o, plan, step, elected); err != nil {
		return nil, err
	}
	for k := range plan.replicaCount() {
		p := managerProcess(plan.Replica(k), o.ManagerArgs)
		p.Name = plan.replicaName(p.Name, k)
		if err := step(p.Name, elected("myriad-manager", p)); err != nil {
			return nil, err
		}
	}
	if err := applyWebhookConfiguration(ctx, cs, plan); err != nil {
		return nil, fmt.Errorf("CloneSet admission webhook: %w", err)
	}
	return func(p supervisor.Process) supervisor.Process { return elected(p.Name, p) }, nil
}

// startSchedulers starts the cluster's scheduler (--scheduler): every
// instance of Myriad's (the default) or of kube-scheduler, or none.
func (c *Cluster) startSchedulers(o Options, plan Plan, step startFunc, elected electedFunc) error {
	if o.Scheduler == "none" {
		return nil
	}
	myriad := o.Scheduler != "kube"
	schedConfig := filepath.Join(plan.Dir.Run(), "kube-scheduler.yaml")
	if !myriad {
		if err := os.WriteFile(schedConfig, []byte(plan.SchedulerConfig()), 0o600); err != nil {
			return err
		}
	}
	adminCert, adminKey := plan.Certs.Client(SuperAdminUser)
	for k := range plan.replicaCount() {
		rp := plan.Replica(k)
		component, p := "kube-scheduler", supervisor.Process{}
		if myriad {
			component, p = "myriad-scheduler", myriadScheduler(rp)
		} else {
			ready, err := httpsProbe(fmt.Sprintf("https://127.0.0.1:%d/healthz", rp.SchedulerPort), plan.Certs.CA, adminCert, adminKey, "")
			if err != nil {
				return err
			}
			p = supervisor.Process{Ready: ready, Args: append([]string{"kube-scheduler"}, rp.SchedulerArgs(schedConfig)...)}
		}
		p.Name = plan.replicaName(component, k)
		if err := step(p.Name, elected(component, p)); err != nil {
			return err
		}
	}
	return nil
}

// myriadScheduler runs `myriad scheduler` (the default, --scheduler myriad)
// in place of kube-scheduler, with the same identity and port. system:kube-scheduler's
// built-in ClusterRole covers bindings, pod status and events, and the
// built-in kube-system Role system::leader-locking-kube-scheduler covers any
// Lease there, myriad-scheduler included, so no extra RBAC is needed; the
// ClusterRole also has the two reviews its /metrics asks for. It serves
// with kube-scheduler's certificate, on kube-scheduler's port.
func myriadScheduler(plan Plan) supervisor.Process {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(plan.SchedulerPort))
	return supervisor.Process{Name: "myriad-scheduler", Ready: plan.endpointProbe(plan.SchedulerPort),
		Args: append([]string{"scheduler", "--kubeconfig", plan.Dir.Kubeconfig("scheduler"),
			"--scheduler-name", "default-scheduler", "--metrics-addr", addr, handoverRetryPeriod},
			plan.endpointArgs(plan.Certs.SchedulerCert, plan.Certs.SchedulerKey)...)}
}
