// Package soak holds a cluster at size and checks that every node stays
// Ready: `myriad bench soak`. Once every simulated node is Ready it
// measures for a duration every transition of a node's Ready condition
// away from True (a false NotReady), Lease renewal latency as the
// simulator and the API server see it, RSS and CPU of every component and
// the bytes etcd writes. The heartbeat scenario measures each of its two
// clusters with Cluster.
//
// The soak must never write to the cluster it measures: its load is the
// simulator's heartbeats alone, and it only reads (one node watch, one
// scrape per component per interval, /proc).
package soak

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Name is the scenario's name.
const Name = "soak"

// StartFunc starts the cluster under test; rig.Start is the real one.
type StartFunc func(ctx context.Context, o rig.Options, con *lab.Console, starting func(lab.ReadyPoint, time.Duration) string) (*rig.Rig, error)

// Scenario is the soak.
type Scenario struct {
	Options Options
	// Start starts the cluster; nil is rig.Start. Tests return
	// rig.New(fakeClock, fakeClientset).
	Start StartFunc
	// scrape and ticked are the Meter's test hooks.
	scrape func(context.Context) (reading, []error)
	ticked func()
}

var _ lab.Scenario = (*Scenario)(nil)

func (s *Scenario) Name() string { return Name }

// Run starts the cluster, measures it and stops it.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.Options
	info := lab.NewRunInfo(Name, lab.ThisMachine(controlplane.KubernetesVersion), Parameters(o), env.Clock.Now())
	c := Cluster{Options: o, Start: s.Start, scrape: s.scrape, ticked: s.ticked, Progress: func(p Progress) string { return ProgressLine(p, o.Rig.Nodes) }}
	in := c.Measure(ctx, env, info)
	return Build(in)
}

// Cluster is one cluster started and, once at size, measured for
// Options.Duration.
type Cluster struct {
	Options Options
	Start   StartFunc
	// HeartbeatMode is the simulator's mode, for the verdict.
	HeartbeatMode string
	// Progress makes the progress line while measuring.
	Progress func(Progress) string
	// Measured is called with the running rig after measuring, before it
	// stops (e.g. to read back stored objects).
	Measured func(ctx context.Context, r *rig.Rig)
	scrape   func(context.Context) (reading, []error)
	ticked   func()
}

// Measure starts the cluster, measures it, stops it and returns what the
// result is built from.
func (c *Cluster) Measure(ctx context.Context, env lab.Env, info lab.RunInfo) Input {
	o := c.Options
	start := c.Start
	if start == nil {
		start = rig.Start
	}
	in := Input{Info: info, Nodes: o.Rig.Nodes, Duration: o.Duration, HeartbeatMode: c.HeartbeatMode}
	r, err := start(ctx, o.Rig, env.Console, func(p lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting %d nodes: %s elapsed | Ready %d/%d", o.Rig.Nodes, el.Round(time.Second), p.Ready, o.Rig.Nodes)
	})
	defer r.Stop()
	if err != nil {
		in.StartupErr = err.Error()
		r.StopRecording()
		in.Procs, in.Ready, in.StoppedAt = r.Processes(), r.Ready, env.Clock.Now()
		return in
	}
	env.Console.Printf("all %d nodes Ready after %s; measuring for %s (Ctrl-C stops early and still writes the report)",
		o.Rig.Nodes, env.Clock.Since(info.StartedAt).Round(time.Second), o.Duration)
	targets, err := r.Scrapers()
	if err != nil {
		env.Console.Printf("warning: %v; figures from that endpoint will be absent", err)
	}
	m := &Meter{
		Duration:         o.Duration,
		ScrapeInterval:   o.Rig.ScrapeInterval,
		ProgressInterval: min(5*time.Second, o.Rig.SampleInterval),
		Clock:            env.Clock,
		Targets:          targets,
		Ready:            r.Ready,
		scrape:           c.scrape,
		ticked:           c.ticked,
	}
	if c.Progress != nil {
		m.Progress = func(p Progress) { env.Console.Progress(c.Progress(p)) }
	}
	meas := m.Measure(ctx)
	env.Console.EndProgress()
	r.StopRecording()
	if c.Measured != nil {
		c.Measured(ctx, r)
	}
	in.Measurement, in.StoppedAt = &meas, meas.To
	in.Procs, in.Ready = r.Processes(), r.Ready
	return in
}

// Parameters are the run's parameters as the report lists them.
func Parameters(o Options) map[string]string {
	return map[string]string{
		"nodes":                  strconv.Itoa(o.Rig.Nodes),
		"duration":               o.Duration.String(),
		"apiservers":             strconv.Itoa(o.Rig.APIServers),
		"nodeMonitorGracePeriod": o.Rig.NodeMonitorGracePeriod.String(),
		"heartbeatInterval":      "10s (myriad nodes default)",
		"sampleInterval":         o.Rig.SampleInterval.String(),
		"scrapeInterval":         o.Rig.ScrapeInterval.String(),
		"dataDir":                o.Rig.DataDir,
		"metricsServer":          strconv.FormatBool(o.Rig.MetricsServer),
		"command":                strings.Join(os.Args, " "),
	}
}

// ProgressLine is the soak's progress line.
func ProgressLine(p Progress, nodes int) string {
	p99 := "-"
	if !math.IsNaN(p.LeaseP99) {
		p99 = fmt.Sprintf("%.1fms", p.LeaseP99*1000)
	}
	return fmt.Sprintf("soak %s elapsed, ETA %s | Ready %d/%d | lease renew p99 %s",
		p.Elapsed.Round(time.Second), p.Remaining.Round(time.Second), p.Ready.Ready, nodes, p99)
}
