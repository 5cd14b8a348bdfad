package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

func newTenantHostCommand() *cobra.Command {
	o := controlplane.HostOptions{}
	cmd := &cobra.Command{
		Use:   "tenant-host",
		Short: "Run tenants' control planes on this machine, for any cluster",
		Long: `Serve the Tenants (tenancy.myriad.dev/v1alpha1) of the cluster --kubeconfig
reaches, as 'myriad up' does for its own: for each, a kube-apiserver and a
kube-controller-manager run here as child processes, with the tenant's own
CA and keys in --data-dir/tenants/<tenant>/, and its state on this host's
own etcd under a prefix only that tenant's etcd identity may reach. The
tenant's kubeconfigs are published in the Secret
` + tenancy.SystemNamespace + `/<tenant>-kubeconfig, where 'myriad syncer' and
'myriad tenant kubeconfig' read them.

The cluster must serve the Tenant API ('myriad tenant crd | kubectl apply
--server-side -f -'). Without --name the host serves Tenants with no
spec.host; with it, those created with 'myriad tenant create --host NAME',
so several hosts can share a cluster's tenants. Tenants' API servers listen
on --address (loopback unless asked): the syncer must reach them there.`,
		Example: `  myriad tenant-host --kubeconfig ~/.kube/config --data-dir ~/.myriad-tenants
  myriad tenant-host --name rack-2 --address 10.0.0.12 --data-dir /var/lib/myriad-tenants`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError{err}
			}
			var err error
			if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
				return err
			}
			if o.Binary, err = os.Executable(); err != nil {
				return fmt.Errorf("find own executable: %w", err)
			}
			o.Out = cmd.OutOrStdout()
			return controlplane.RunTenantHost(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster whose Tenants to serve (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.DataDir, "data-dir", "", "directory of the host's etcd and its tenants' files (created 0700 if missing)")
	f.StringVar(&o.Name, "name", "", "serve the Tenants whose spec.host is this name (default: those with none)")
	f.IntVar(&o.EtcdPort, "etcd-port", 0, "the host's etcd client port, on loopback (the next port is its peer port; 0: choose one); fixed when the data directory is created")
	f.StringVar(&o.Address, "address", "127.0.0.1", "IP the tenants' API servers listen on and advertise")
	f.StringVar(&o.KubeletCA, "kubelet-ca", "", "CA of the syncer's kubelet proxy, for tenants' logs and exec (default: tenants have no kubelet API)")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 3*time.Minute, "how long etcd and each tenant API server may take to become ready")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}
