package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/density"
)

func newBenchDensityCommand() *cobra.Command {
	var o density.Options
	var out string
	cmd := &cobra.Command{
		Use:   "density",
		Short: "Grow a cluster to N nodes, P pods and O objects, hold it, and judge API and pod startup latency against the SLOs",
		Long: `Grow a cluster in phases and measure it all along:

  nodes    start a cluster of --nodes simulated nodes (as 'myriad up' does) and
           wait until every one is Ready; with --kubeconfig, use the cluster
           there and check that it has at least --nodes Ready nodes
  pods     create --deployments Deployments over --namespaces namespaces, at
           --pod-rate pods per second, until --pods pods are Running
  objects  count every object in the cluster through the API, then create
           small ConfigMaps, Secrets and headless Services (--qps, --workers)
           until it holds --objects objects
  hold     keep that size for --duration

Each phase is judged against SIG scalability's SLOs: API call latency from the
API server's apiserver_request_duration_seconds, scraped every --scrape-interval
and judged in every 5-minute window of a phase as SIG scalability does
(mutating p99 <= 1s; reads p99 <= 1s for single objects, 5s within a namespace,
30s across the cluster), and pod startup latency, creationTimestamp to Running
as a watch sees it (p99 <= 5s); every figure is also held against
the seeds' 100 ms. Process RSS and CPU, etcd's DB size and the object count
are recorded over time. Writes result.json and report.html to --out; a run
that cannot reach its size (a phase times out or stalls, memory runs low,
Ctrl-C) still writes them and says where it stopped. Exits non-zero unless
every phase reached its target and every SLO held in every window. A window
edge takes the last good scrape at or before it; a window without one, or
without requests of a class, is "no data" and fails the run.

With --kubeconfig Myriad starts nothing: it scrapes the API server's /metrics
through that kubeconfig (etcd's own metrics are then absent), samples only
its own process, and leaves what it created in namespaces labelled
bench.myriad.dev/density-run=<id> (kubectl delete ns -l ... removes them).`,
		Example: `  myriad bench density --nodes 20 --pods 200 --objects 2000 --duration 20s --out /tmp/density-small
  myriad bench density --nodes 2000 --pods 20000 --objects 100000 --out /tmp/density-2k
  myriad bench density --kubeconfig ~/.kube/config --pods 5000 --objects 50000 --out /tmp/density-existing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				o.OutDir = outDir
				if err := o.Validate(); err != nil {
					return nil, err
				}
				return density.New(o), nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 100, "simulated nodes to start; with --kubeconfig, the fewest Ready nodes the cluster must have (0: any)", false)
	// API latency is judged from histogram scrapes: scraped often, a
	// scrape that times out under load costs one interval, not the phase.
	o.Rig.ScrapeInterval = 10 * time.Second
	f.Lookup("scrape-interval").DefValue = o.Rig.ScrapeInterval.String()
	f.IntVar(&o.Pods, "pods", 1000, "pods to have Running, created through Deployments")
	f.Int64Var(&o.Objects, "objects", 10000, "objects the cluster must hold in all (every type, counted through the API)")
	f.IntVar(&o.Deployments, "deployments", 0, "Deployments the pods are spread over (0: one per 100 pods)")
	f.IntVar(&o.Namespaces, "namespaces", 10, "namespaces the Deployments and other objects are spread over")
	f.Float64Var(&o.PodRate, "pod-rate", 100, "pods per second the Deployments ask for, spread in time (0: all at once)")
	f.Float64Var(&o.QPS, "qps", 500, "the bench's writes per second in the objects phase")
	f.StringVar(&o.Writer, "writer", density.WriterUser, "who makes the Deployments, objects and probe calls on a cluster the bench starts: user (an ordinary user, queued by API Priority and Fairness as global-default, as a user's tooling is) or admin (system:masters, exempt, as runs before this flag were)")
	f.IntVar(&o.Workers, "workers", 32, "concurrent writes in the objects phase")
	f.DurationVar(&o.Hold, "duration", 5*time.Minute, "how long to hold the cluster at size, measuring")
	f.StringVar(&o.Rig.Kubeconfig, "kubeconfig", "", "measure the cluster of this kubeconfig instead of starting one")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 30*time.Minute, "longest the pods or the objects phase may take")
	f.DurationVar(&o.StallTimeout, "stall-timeout", 3*time.Minute, "stop when pods wait this long with none turning Running")
	f.DurationVar(&o.ProbeInterval, "probe-interval", time.Second, "how often the bench times its own probe calls (GET, PATCH, LIST)")
	f.StringVar(&o.MinAvailableMemory, "min-available-memory", "1Gi", "stop the run when the machine's available memory falls below this (0: never)")
	return cmd
}
