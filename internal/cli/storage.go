package cli

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/storage"
)

func newStorageCommand() *cobra.Command {
	var (
		kubeconfig, addr string
		qps              float32
		burst            int
		endpoint         endpointFlags
	)
	o := storage.Options{LeaderElection: storage.DefaultLeaderElection()}
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Run the volume provisioner and resizer for simulated nodes",
		Long: `Provision, reclaim and resize the volumes of StorageClasses whose
provisioner is ` + storage.ProvisionerName + ` ('myriad up' creates one, "` + storage.DefaultClassName + `", the
cluster's default), as kind's local-path provisioner does for kind: a claim
becomes Bound to a local volume on the node its pod was scheduled to, is
deleted or kept Released after the claim per the reclaim policy, and grows
when its request grows. The volumes are fiction, as the simulated nodes
are: meant for clusters of simulated nodes, not real ones.

Several instances may run: one holds the Lease <namespace>/myriad-storage,
the others keep their caches warm. Metrics, /healthz and /readyz are
served on --metrics-addr.`,
		Example: `  myriad storage --kubeconfig ~/.kube/config`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.Workers < 1 || o.Workers > 64:
				return usageError{fmt.Errorf("--workers must be between 1 and 64, got %d", o.Workers)}
			case qps <= 0:
				return usageError{fmt.Errorf("--kube-api-qps must be positive, got %g", qps)}
			case burst <= 0:
				return usageError{fmt.Errorf("--kube-api-burst must be positive, got %d", burst)}
			}
			le := o.LeaderElection
			if err := validateLeaderElection(le.LeaseDuration, le.RenewDeadline, le.RetryPeriod); err != nil {
				return usageError{err}
			}
			cs, err := kubeclient.Clientset(kubeconfig, kubeclient.Options{QPS: qps, Burst: burst, Protobuf: true, UserAgent: "myriad-storage"})
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			o.Client, o.Registry = cs, reg
			c, err := storage.New(o)
			if err != nil {
				return err
			}
			if err := endpoint.serve(cmd.Context(), addr, cs, reg, c.Ready, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "myriad storage (%s): metrics on %s://%s/metrics\n", storage.ProvisionerName, endpoint.scheme(), addr)
			return c.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.Float32Var(&qps, "kube-api-qps", 100, "client QPS limit toward the API server")
	f.IntVar(&burst, "kube-api-burst", 200, "client burst toward the API server")
	f.IntVar(&o.Workers, "workers", 4, "claims provisioned, and claims resized, at once")
	le := &o.LeaderElection
	leaseFlags{&le.Enabled, &le.Namespace, &le.LeaseDuration, &le.RenewDeadline, &le.RetryPeriod}.add(f)
	f.StringVar(&addr, "metrics-addr", "127.0.0.1:10280", "serve /metrics, /healthz and /readyz on this address")
	endpoint.bind(f)
	return cmd
}
