package controlplane

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// startFunc starts one supervised component and waits until it is ready
// (Up's step).
type startFunc func(name string, p supervisor.Process) error

// startEtcdMembers brings up the data directory's etcd: its one member, or under
// --ha its three (see etcdmembers.go). The members that hold data start
// together, since none of a highly available cluster's is ready before a
// quorum of them runs; a member without data then joins as a learner and
// is promoted once it has caught up. It returns once every member votes.
func startEtcdMembers(ctx context.Context, o Options, plan Plan, start startFunc) error {
	withData := EtcdMembersWithData(plan.Dir)
	if plan.EtcdMembers == 1 && slices.ContainsFunc(withData, func(i int) bool { return i > 0 }) {
		return fmt.Errorf("data directory %s holds %d etcd members (made by --ha), which cannot run as one: run 'myriad up --ha'", o.DataDir, EtcdHAMembers)
	}
	first := withData
	if !slices.Contains(first, 0) {
		first = append([]int{0}, first...)
	}
	var g errgroup.Group
	for _, i := range first {
		p, err := etcdProcess(o, plan, i, "")
		if err != nil {
			return err
		}
		g.Go(func() error { return start(p.Name, p) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if plan.EtcdMembers == 1 {
		return nil
	}
	// Membership changes go through the first member, which every start
	// runs: one connection, which closes cleanly (a client of every member
	// would still be dialling some when closed).
	cl, err := EtcdClient(plan.Certs, o.EtcdPort)
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := 1; i < plan.EtcdMembers; i++ {
		began := time.Now()
		if !slices.Contains(first, i) {
			initial, err := func() (string, error) {
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				return prepareJoin(ctx, cl, o.EtcdPort, i, clock.RealClock{})
			}()
			if err != nil {
				return err
			}
			p, err := etcdProcess(o, plan, i, initial)
			if err != nil {
				return err
			}
			if err := start(p.Name, p); err != nil {
				return err
			}
		}
		_, peer := EtcdMemberPorts(o.EtcdPort, i)
		pctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
		err := promoteWhenCaughtUp(pctx, cl, plan.Certs.EtcdDialer(), etcdURL(peer), clock.RealClock{}, 500*time.Millisecond)
		cancel()
		if err != nil {
			return err
		}
		if !slices.Contains(first, i) {
			fmt.Fprintf(o.Out, "  %s joined as a learner and votes (%.1fs)\n", etcdProcessName(plan, i), time.Since(began).Seconds())
		}
	}
	return nil
}

// etcdProcessName is member i's process (and log) name.
func etcdProcessName(plan Plan, i int) string {
	if plan.EtcdMembers > 1 {
		return "etcd-" + strconv.Itoa(i)
	}
	return "etcd"
}

// etcdProcess runs member i; initialCluster is set for a member that
// joins. Its readiness is a serializable health check: a learner serves
// no linearizable read, and each member must only have a leader and
// answer from its own data. A NOSPACE alarm makes etcd report itself
// unhealthy; it is excluded here and handled by checkEtcdSpace with a
// line that says what to do.
func etcdProcess(o Options, plan Plan, i int, initialCluster string) (supervisor.Process, error) {
	client, _ := EtcdMemberPorts(o.EtcdPort, i)
	c := plan.Certs
	ready, err := httpsProbe(etcdURL(client)+"/health?serializable=true&exclude=NOSPACE", c.EtcdCA, c.EtcdClientCert, c.EtcdClientKey, `"health":"true"`)
	if err != nil {
		return supervisor.Process{}, err
	}
	args := []string{"etcd", "run", "--data-dir", o.DataDir, "--member", strconv.Itoa(i),
		"--port", strconv.Itoa(client), "--quota-bytes", strconv.FormatInt(o.EtcdQuota, 10)}
	if initialCluster != "" {
		args = append(args, "--initial-cluster", initialCluster, "--join")
	}
	return supervisor.Process{Name: etcdProcessName(plan, i), Ready: ready, Args: args}, nil
}
