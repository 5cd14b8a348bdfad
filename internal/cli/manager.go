package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controllers/statefulset"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/manager"
	"github.com/myriad-dev/myriad/pkg/webhook"
)

// TemplateDefaults are the pod and claim template defaults the manager's
// CloneSet defaulting webhook applies. The myriad binary sets them from
// Kubernetes before Execute; this package does not link Kubernetes.
var TemplateDefaults webhook.TemplateDefaults

func newManagerCommand() *cobra.Command {
	var (
		kubeconfig string
		qps        float32
		burst      int
	)
	features := manager.NewFeatureGate()
	o := manager.Options{LeaderElection: manager.DefaultLeaderElection(), Features: features}
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run Myriad's workload controllers (CloneSet) against any cluster",
		Long: `Run the controllers of OpenKruise-compatible workloads (apps.kruise.io
CloneSet, with in-place update) and their admission webhook in the cluster of
--kubeconfig. The CRDs must be installed ('myriad up' does it; elsewhere
apply config/crd with --server-side).

Several instances may run: one holds the Lease <namespace>/myriad-manager and
reconciles, the others keep their caches warm and take over within seconds.
Prometheus metrics are served on --metrics-bind-address, /healthz and /readyz
on --health-probe-bind-address, both on loopback unless asked otherwise.`,
		Example: `  myriad manager --kubeconfig ~/.kube/config
  myriad manager --webhook-bind-address 0.0.0.0:9443 --tls-cert-file /etc/myriad/tls.crt --tls-private-key-file /etc/myriad/tls.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.Workers < 1 || o.Workers > 256:
				return usageError{fmt.Errorf("--workers must be between 1 and 256, got %d", o.Workers)}
			case qps <= 0:
				return usageError{fmt.Errorf("--kube-api-qps must be positive, got %g", qps)}
			case burst <= 0:
				return usageError{fmt.Errorf("--kube-api-burst must be positive, got %d", burst)}
			}
			if err := validateLeaderElection(o.LeaderElection.LeaseDuration, o.LeaderElection.RenewDeadline, o.LeaderElection.RetryPeriod); err != nil {
				return usageError{err}
			}
			if o.WebhookAddr != "" {
				for _, f := range []struct{ flag, path string }{{"--tls-cert-file", o.CertFile}, {"--tls-private-key-file", o.KeyFile}} {
					if _, err := os.Stat(f.path); err != nil || f.path == "" {
						return usageError{fmt.Errorf("%s must name the webhook's PEM file (or pass --webhook-bind-address \"\" to run without the webhook)", f.flag)}
					}
				}
				if filepath.Dir(o.CertFile) != filepath.Dir(o.KeyFile) {
					return usageError{fmt.Errorf("--tls-cert-file and --tls-private-key-file must be in the same directory")}
				}
			}
			if o.ClientCA != "" {
				if _, err := os.Stat(o.ClientCA); err != nil {
					return usageError{fmt.Errorf("--client-ca-file must name a PEM file: %w", err)}
				}
			}
			if o.WebhookClientCA != "" {
				if _, err := os.Stat(o.WebhookClientCA); err != nil {
					return usageError{fmt.Errorf("--webhook-client-ca must name a PEM file: %w", err)}
				}
			} else if len(o.WebhookAllowedClients) > 0 {
				return usageError{errors.New("--webhook-allowed-clients needs --webhook-client-ca")}
			}
			rc, err := kubeclient.Load(kubeconfig)
			if err != nil {
				return err
			}
			rc.QPS, rc.Burst, rc.UserAgent = qps, burst, "myriad-manager"
			o.Config = rc
			o.TemplateDefaults = TemplateDefaults
			scheme := "http"
			if o.MetricsSecure {
				scheme = "https"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "myriad manager: metrics on %s://%s/metrics, health on http://%s/healthz\n", scheme, o.MetricsAddr, o.ProbeAddr)
			return manager.Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.Float32Var(&qps, "kube-api-qps", 500, "client QPS limit toward the API server")
	f.IntVar(&burst, "kube-api-burst", 1000, "client burst toward the API server")
	f.IntVar(&o.Workers, "workers", 8, "CloneSets reconciled at once")
	f.DurationVar(&o.StatefulSetStuckAfter, "statefulset-stuck-after", statefulset.DefaultStuckAfter, "how long past its deletion deadline a terminating pod may stay before an Advanced StatefulSet reports it and stops waiting for it under OrderedReady")
	f.StringVar(&o.SidecarSetRevisionNamespace, "sidecarset-revision-namespace", metav1.NamespaceSystem, "namespace holding SidecarSets' ControllerRevisions; only administrators should write there (OpenKruise uses its own, kruise-system)")
	le := &o.LeaderElection
	leaseFlags{&le.Enabled, &le.Namespace, &le.LeaseDuration, &le.RenewDeadline, &le.RetryPeriod}.add(f)
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", "127.0.0.1:10270", "serve Prometheus /metrics here (0 disables)")
	f.BoolVar(&o.MetricsSecure, "metrics-secure", true, "serve /metrics over HTTPS (the --tls-cert-file's certificate, else a self-signed one) to callers the API server authenticates (a --client-ca-file certificate or a bearer token) and authorizes for GET /metrics, as upstream components do; false serves plain HTTP to anyone who can reach it")
	f.StringVar(&o.ClientCA, "client-ca-file", "", "CA (PEM) whose client certificates authenticate to /metrics (bearer tokens are reviewed by the API server either way)")
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", "127.0.0.1:10271", "serve /healthz and /readyz here (0 disables)")
	f.StringVar(&o.WebhookAddr, "webhook-bind-address", "127.0.0.1:10272", "serve the CloneSet admission webhook here over TLS (\"\" disables)")
	f.StringVar(&o.CertFile, "tls-cert-file", "", "the webhook's serving certificate (PEM)")
	f.StringVar(&o.KeyFile, "tls-private-key-file", "", "the webhook's private key (PEM), in the certificate's directory")
	f.StringVar(&o.WebhookClientCA, "webhook-client-ca", "", "admit to the webhook only callers with a client certificate this CA (PEM) signed: the API server's, given by its --admission-control-config-file (\"\": any caller)")
	f.StringSliceVar(&o.WebhookAllowedClients, "webhook-allowed-clients", nil, "with --webhook-client-ca, the client certificates' common names admitted (empty: any the CA signed)")
	features.AddFlag(f)
	return cmd
}
