package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/tenancy"
)

func newBenchTenancyCommand() *cobra.Command {
	var (
		o   tenancy.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "tenancy",
		Short: "Create the same pods directly and through virtual clusters, and compare; then greedy tenants against regular ones",
		Long: `Start a cluster of --nodes simulated nodes and create --tenants tenants (each
its own kube-apiserver and kube-controller-manager, as 'myriad tenant create'
makes them), timing each. Watch the idle tenant control planes for
--idle-window and read their memory (PSS). Then, in one run:

  direct   --pods pods created on the cluster itself, over as many namespaces
           as there are tenants, at --qps
  tenants  the same --pods pods created through the tenants, at --qps; the
           syncer places them on the cluster and reports their status back
  fairness with --greedy G: G tenants each create --burst pods at once while
           every other tenant creates --regular-pods pods, one a second

Each pod's latency is its create sent to a watch seeing it Running, in the
cluster or tenant it was created in. The verdict holds the tenant phase to
at most 10% more p99 latency and 10% less throughput than the direct phase,
and regular tenants beside greedy ones to a p99 of 2 s. Writes result.json
and report.html (with the syncer's and each tenant's CPU and memory over
the run) to --out.`,
		Example: `  myriad bench tenancy --tenants 4 --pods 400 --out /tmp/tenancy-small
  myriad bench tenancy --tenants 10 --pods 2000 --greedy 2 --burst 500 --out /tmp/tenancy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				var err error
				if o.Rig.DataDir, err = rig.DataDirUnder(outDir, o.Rig.DataDir); err != nil {
					return nil, err
				}
				if err := o.Validate(); err != nil {
					return nil, err
				}
				return &tenancy.Scenario{O: o}, nil
			})
		},
	}
	f := cmd.Flags()
	addRigFlags(f, &o.Rig, 20, "simulated nodes the pods run on", false)
	// Phases last seconds: the syncer's and tenants' CPU need samples
	// within each.
	o.Rig.SampleInterval = time.Second
	f.Lookup("sample-interval").DefValue = o.Rig.SampleInterval.String()
	f.IntVar(&o.Tenants, "tenants", 4, "tenants to create; the pods are spread over them")
	f.IntVar(&o.Pods, "pods", 400, "pods created in the direct phase and again through the tenants")
	f.Float64Var(&o.QPS, "qps", 50, "pod creates per second, in both phases")
	f.IntVar(&o.Workers, "workers", 16, "concurrent creates")
	f.IntVar(&o.Greedy, "greedy", 1, "tenants that burst in the fairness phase (0: no fairness phase)")
	f.IntVar(&o.Burst, "burst", 300, "pods each greedy tenant creates at once")
	f.IntVar(&o.RegularPods, "regular-pods", 5, "pods each regular tenant creates, one a second, during the burst")
	f.DurationVar(&o.IdleWindow, "idle-window", 30*time.Second, "how long the idle tenant control planes are watched")
	f.DurationVar(&o.PhaseTimeout, "phase-timeout", 10*time.Minute, "longest a phase may take")
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	return cmd
}
