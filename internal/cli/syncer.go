package cli

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/tenancy"
	"github.com/myriad-dev/myriad/pkg/tenancy/syncer"
)

func newSyncerCommand() *cobra.Command {
	var (
		kubeconfig, addr string
		proxyCerts       string
		proxyKey         string
		proxyPort        int
		qps              float32
		burst            int
		endpoint         endpointFlags
	)
	o := syncer.Options{LeaderElection: syncer.DefaultLeaderElection()}
	cmd := &cobra.Command{
		Use:   "syncer",
		Short: "Run the pods of every tenant (virtual cluster) on this, the super cluster",
		Long: `Serve every Ready Tenant (tenancy.myriad.dev/v1alpha1): copy its namespaces,
pods, services, configmaps, secrets and claims into super-cluster namespaces
named <tenant>-<namespace>, and report back what the super cluster did with
them: pod status, placement (virtual nodes and bindings in the tenant) and
pod events. A tenant is reached with the kubeconfig in the Secret
` + tenancy.SystemNamespace + `/<tenant>-kubeconfig, key ` + tenancy.SyncerKubeconfigKey + `.

With --kubelet-proxy-serving-certs, virtual nodes report --kubelet-proxy-port
as their kubelet port and the leader serves tenants' logs, exec, attach and
port-forward there, through the cluster's API server as the syncer.

Tenants share the workers by Tenant.spec.weight. Several instances may run:
one holds the Lease <namespace>/myriad-syncer, the others keep their caches
warm. Metrics, /healthz and /readyz are served on --metrics-addr.`,
		Example: `  myriad syncer --kubeconfig ~/.kube/config --workers 16`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.Workers < 1 || o.Workers > 256:
				return usageError{fmt.Errorf("--workers must be between 1 and 256, got %d", o.Workers)}
			case qps <= 0:
				return usageError{fmt.Errorf("--kube-api-qps must be positive, got %g", qps)}
			case burst <= 0:
				return usageError{fmt.Errorf("--kube-api-burst must be positive, got %d", burst)}
			case o.MaxInFlightPerTenant < 0 || o.MaxInFlightPerTenant > o.Workers:
				return usageError{fmt.Errorf("--tenant-max-in-flight must be between 0 and --workers (%d), got %d", o.Workers, o.MaxInFlightPerTenant)}
			case o.Resync < time.Second:
				return usageError{fmt.Errorf("--resync must be at least 1s, got %v", o.Resync)}
			case (proxyCerts == "") != (proxyKey == ""):
				return usageError{fmt.Errorf("--kubelet-proxy-serving-certs and --kubelet-proxy-serving-key go together")}
			case proxyCerts != "" && (proxyPort < 1 || proxyPort > 65535):
				return usageError{fmt.Errorf("--kubelet-proxy-port must be between 1 and 65535, got %d", proxyPort)}
			}
			le := o.LeaderElection
			if err := validateLeaderElection(le.LeaseDuration, le.RenewDeadline, le.RetryPeriod); err != nil {
				return usageError{err}
			}
			rc, err := kubeclient.Config(kubeconfig, kubeclient.Options{QPS: qps, Burst: burst, Protobuf: true, UserAgent: "myriad-syncer"})
			if err != nil {
				return err
			}
			cs, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(rc)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			o.Super, o.Dynamic, o.Registry = cs, dyn, reg
			if proxyCerts != "" {
				certs, err := syncer.LoadServingBundle(proxyCerts, proxyKey)
				if err != nil {
					return err
				}
				o.KubeletProxy = &syncer.KubeletProxy{Port: proxyPort, Certificates: certs, Super: rc}
			}
			o.TenantClient = syncer.TenantClients(kubeclient.Options{QPS: qps, Burst: burst, Protobuf: true,
				UserAgent: "myriad-syncer", OwnConnection: true})
			s, err := syncer.New(o)
			if err != nil {
				return err
			}
			if err := endpoint.serve(cmd.Context(), addr, cs, reg, s.Ready, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "myriad syncer: metrics on %s://%s/metrics\n", endpoint.scheme(), addr)
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the super cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.Float32Var(&qps, "kube-api-qps", 100, "client QPS limit toward each API server (the super cluster's and each tenant's)")
	f.IntVar(&burst, "kube-api-burst", 200, "client burst toward each API server")
	f.IntVar(&o.Workers, "workers", 8, "objects synced at once, shared fairly between tenants")
	f.IntVar(&o.MaxInFlightPerTenant, "tenant-max-in-flight", 0, "most workers one tenant's objects may hold at once, so a tenant whose API server hangs cannot stall the others (0: a quarter of --workers)")
	f.DurationVar(&o.Resync, "resync", 5*time.Minute, "how often every object is checked again and orphaned super-cluster copies removed")
	le := &o.LeaderElection
	leaseFlags{&le.Enabled, &le.Namespace, &le.LeaseDuration, &le.RenewDeadline, &le.RetryPeriod}.add(f)
	f.StringVar(&addr, "metrics-addr", "127.0.0.1:10281", "serve /metrics, /healthz and /readyz on this address")
	f.IntVar(&proxyPort, "kubelet-proxy-port", 10550, "port the tenants' virtual nodes report for their kubelet; the leader serves tenants' logs, exec, attach and port-forward there, on every loopback address, through the cluster's API server")
	f.StringVar(&proxyCerts, "kubelet-proxy-serving-certs", "", "PEM file of serving certificates, one per node address, signed by the CA the tenants' API servers trust for kubelets; turns the kubelet proxy on")
	f.StringVar(&proxyKey, "kubelet-proxy-serving-key", "", "private key of the --kubelet-proxy-serving-certs")
	endpoint.bind(f)
	return cmd
}
