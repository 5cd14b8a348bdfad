package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// newEtcdCommand is the etcd member that `myriad up` supervises. Hidden:
// users start it through `myriad up`, which prepares its certificates.
func newEtcdCommand() *cobra.Command {
	var (
		dataDir string
		port    int
		quota   int64
	)
	cmd := &cobra.Command{
		Use:    "etcd",
		Short:  "Run the embedded etcd member of a myriad data directory",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := controlplane.DataDir{Root: dataDir}
			certs, err := controlplane.EnsureCerts(dir)
			if err != nil {
				return err
			}
			return controlplane.RunEtcd(cmd.Context(), controlplane.EtcdOptions{
				Dir: dir.Etcd(), ClientPort: port, PeerPort: port + 1, QuotaBytes: quota,
				Certs: certs, CompactionRetention: time.Hour,
			}, make(chan struct{}))
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "myriad data directory")
	cmd.Flags().IntVar(&port, "port", 2379, "client port; the peer port is the next one")
	cmd.Flags().Int64Var(&quota, "quota-bytes", controlplane.DefaultEtcdQuota, "backend quota in bytes")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}
