// Package heartbeat compares what a node's heartbeat costs etcd and the
// API server with Leases (kubelets since NodeLease: a Lease renewed every
// 10 s, NodeStatus every 5 min) and without (kubelets before it: a
// NodeStatus patch every 10 s, computed from the node's previous status):
// `myriad bench heartbeat`. It runs one cluster size twice on fresh data
// directories, measures each run as the soak does, and reduces the two to
// figures and status/lease ratios.
//
// It must never write to the clusters it measures: the only load is the
// simulator's heartbeats, and a ratio is only given when both runs
// measured the figure.
package heartbeat

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/soak"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// Name is the scenario's name.
const Name = "heartbeat"

// Modes are the simulator's heartbeat modes in the order they run.
var Modes = []string{nodesim.HeartbeatLease, nodesim.HeartbeatStatus}

// Scenario is the heartbeat comparison.
type Scenario struct {
	Options Options
	// Start starts each cluster; nil is rig.Start.
	Start soak.StartFunc
}

var _ lab.Scenario = (*Scenario)(nil)

func (s *Scenario) Name() string { return Name }

// Run runs the lease cluster, then (if it was measured) the status one.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.Options
	in := Input{
		Info:  lab.NewRunInfo(Name, lab.ThisMachine(controlplane.KubernetesVersion), Parameters(o), env.Clock.Now()),
		Nodes: o.Rig.Nodes,
	}
	for i, mode := range Modes {
		if ctx.Err() != nil {
			in.Skipped = append(in.Skipped, mode+": interrupted")
			continue
		}
		// Without a measured lease run there is nothing to compare with.
		if n := len(in.Runs); n > 0 && in.Runs[n-1].Run.MeasuredFrom == nil {
			in.Skipped = append(in.Skipped, fmt.Sprintf("%s: the %s run did not reach %d Ready nodes", mode, in.Runs[n-1].Mode, o.Rig.Nodes))
			continue
		}
		env.Console.Printf("== run %d/%d: %s heartbeats, %d nodes, data in %s", i+1, len(Modes), mode, o.Rig.Nodes, o.DataDir(mode))
		run := s.runMode(ctx, env, i, mode)
		in.Runs = append(in.Runs, run)
		for _, reason := range run.Run.Verdict.Reasons {
			env.Console.Printf("  %s run: %s", mode, lab.OneLine(reason, 300))
		}
	}
	in.StoppedAt = env.Clock.Now()
	return Build(in)
}

// runMode starts, measures and stops mode's cluster.
func (s *Scenario) runMode(ctx context.Context, env lab.Env, i int, mode string) Run {
	o := s.Options
	ro := o.Rig
	ro.DataDir = o.DataDir(mode)
	ro.NodeArgs = append(append([]string(nil), ro.NodeArgs...), "--heartbeat-mode", mode, "--images", strconv.Itoa(o.Images))
	so := soak.Options{Rig: ro, Duration: o.Duration}
	run := Run{Mode: mode}
	c := soak.Cluster{
		Options: so, Start: s.Start, HeartbeatMode: mode,
		Progress: func(p soak.Progress) string { return progressLine(mode, i, p, o.Rig.Nodes) },
		Measured: func(ctx context.Context, r *rig.Rig) {
			run.NodeObjectBytes, run.LeaseObjectBytes = storedObjectSizes(ctx, r)
		},
	}
	params := soak.Parameters(so)
	params["heartbeatMode"] = mode
	info := lab.NewRunInfo(soak.Name, lab.ThisMachine(controlplane.KubernetesVersion), params, env.Clock.Now())
	run.Run = soak.Build(c.Measure(ctx, env, info))
	return run
}

// storedObjectSizes reads back the first simulated Node and its Lease and
// returns their protobuf sizes: what etcd stores for each heartbeat write.
func storedObjectSizes(ctx context.Context, r *rig.Rig) (node, lease *float64) {
	if r.Client == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := "myriad-node-0" // myriad up's nodes use the default name prefix
	if n, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err == nil {
		node = lab.Some(float64(n.Size()))
	}
	if l, err := r.Client.CoordinationV1().Leases(nodesim.LeaseNamespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
		lease = lab.Some(float64(l.Size()))
	}
	return node, lease
}

// Parameters are the run's parameters as the report lists them.
func Parameters(o Options) map[string]string {
	return map[string]string{
		"nodes":                  strconv.Itoa(o.Rig.Nodes),
		"duration":               o.Duration.String() + " per run",
		"images":                 strconv.Itoa(o.Images) + " per node",
		"heartbeatInterval":      "10s (myriad nodes default)",
		"statusReportInterval":   "5m in lease mode (myriad nodes default)",
		"apiservers":             strconv.Itoa(o.Rig.APIServers),
		"nodeMonitorGracePeriod": o.Rig.NodeMonitorGracePeriod.String(),
		"scrapeInterval":         o.Rig.ScrapeInterval.String(),
		"sampleInterval":         o.Rig.SampleInterval.String(),
		"dataDirs":               o.DataDir(Modes[0]) + ", " + o.DataDir(Modes[1]),
		"command":                strings.Join(os.Args, " "),
	}
}

func progressLine(mode string, i int, p soak.Progress, nodes int) string {
	return fmt.Sprintf("heartbeat %s (%d/%d) %s elapsed, ETA %s | Ready %d/%d | heartbeat write p99 %s",
		mode, i+1, len(Modes), p.Elapsed.Round(time.Second), p.Remaining.Round(time.Second), p.Ready.Ready, nodes, lab.MsOpt(lab.Finite(p.HeartbeatP99)))
}
