package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// newEtcdCommand groups the embedded etcd's operations: status, defrag,
// disarm, and (hidden) the member itself, which `myriad up` runs.
func newEtcdCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Inspect and repair the embedded etcd of a data directory",
		Long: `Operate the etcd member of a 'myriad up' data directory while the cluster
runs. When etcd's database fills its quota it raises the NOSPACE alarm and
refuses writes, and the alarm outlives a restart; 'myriad up' then says so,
and 'myriad etcd defrag' followed by 'myriad etcd disarm' clears it.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newEtcdRunCommand(),
		etcdOp("status", "Show etcd's version, database size against its quota, revision and alarms", showEtcdStatus),
		etcdOp("defrag", "Compact etcd's history to now and defragment its database, returning free pages to the disk", defragEtcd),
		etcdOp("disarm", "Clear etcd's alarms (NOSPACE) once its database is below its quota again", disarmEtcd))
	return cmd
}

// etcdOp is one operation against a running data directory's etcd, which
// it reaches with the API server's etcd identity (the only one admitted).
func etcdOp(use, short string, op func(ctx context.Context, cmd *cobra.Command, c *clientv3.Client) error) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := controlplane.DataDir{Root: dataDir}
			stamp, fresh, err := dir.Inspect(0)
			if err != nil {
				return err
			}
			if fresh {
				return fmt.Errorf("%s holds no cluster; pass the --data-dir of 'myriad up'", dataDir)
			}
			certs, err := controlplane.EnsureCerts(dir)
			if err != nil {
				return err
			}
			c, err := controlplane.EtcdClient(certs, stamp.EtcdPort)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			return op(ctx, cmd, c)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory of the cluster ('myriad up --data-dir')")
	return cmd
}

func showEtcdStatus(ctx context.Context, cmd *cobra.Command, c *clientv3.Client) error {
	st, err := controlplane.ReadEtcdState(ctx, c)
	if err != nil {
		return err
	}
	alarms := "none"
	if len(st.Alarms) > 0 {
		alarms = fmt.Sprint(st.Alarms)
	}
	pct := 0.0
	if st.Quota > 0 {
		pct = 100 * float64(st.DBSize) / float64(st.Quota)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "endpoint   %s\nversion    %s\ndatabase   %.1f MiB (%.1f MiB in use), %.0f%% of the %.0f MiB quota\nrevision   %d\nalarms     %s\n",
		st.Endpoint, st.Version, float64(st.DBSize)/(1<<20), float64(st.DBSizeInUse)/(1<<20), pct, float64(st.Quota)/(1<<20), st.Revision, alarms)
	return nil
}

func defragEtcd(ctx context.Context, cmd *cobra.Command, c *clientv3.Client) error {
	fmt.Fprintln(cmd.OutOrStdout(), "compacting and defragmenting (etcd answers no request meanwhile) ...")
	before, after, err := controlplane.CompactAndDefrag(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "database %.1f MiB -> %.1f MiB\n", float64(before)/(1<<20), float64(after)/(1<<20))
	return nil
}

func disarmEtcd(ctx context.Context, cmd *cobra.Command, c *clientv3.Client) error {
	cleared, err := controlplane.DisarmEtcd(ctx, c)
	if err != nil {
		return err
	}
	if len(cleared) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), "no alarm was raised")
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "cleared %v; etcd accepts writes again\n", cleared)
	return nil
}

// newEtcdRunCommand is the etcd member that `myriad up` supervises.
// Hidden: users start it through `myriad up`, which prepares its
// certificates.
func newEtcdRunCommand() *cobra.Command {
	var (
		dataDir string
		port    int
		quota   int64
	)
	cmd := &cobra.Command{
		Use:    "run",
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
