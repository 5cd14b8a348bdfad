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
		etcdOp("status", "Show etcd's version, database size against its quota, revision and alarms", opTimeout, cobra.NoArgs, showEtcdStatus),
		etcdOp("defrag", "Compact etcd's history to now and defragment its database, returning free pages to the disk", 10*time.Minute, cobra.NoArgs, defragEtcd),
		etcdOp("disarm", "Clear etcd's alarms (NOSPACE) once its database is below its quota again", opTimeout, cobra.NoArgs, disarmEtcd),
		newEtcdMemberCommand())
	return cmd
}

// opTimeout bounds every etcd operation but a defragmentation.
const opTimeout = 30 * time.Second

// etcdTarget is what an operation works on: a client of every member,
// the data directory's etcd port (member 0's; see EtcdMemberPorts), and
// the command's arguments.
type etcdTarget struct {
	c    *clientv3.Client
	dial func(endpoint string) (*clientv3.Client, error) // one member
	base int
	args []string
}

// etcdOp is one operation against a running data directory's etcd, which
// it reaches with the API server's etcd identity (the only one admitted).
// It gives up after within: etcd's client waits for a member as long as
// it is let, and a stopped cluster must not hang the command.
func etcdOp(use, short string, within time.Duration, args cobra.PositionalArgs, op func(ctx context.Context, cmd *cobra.Command, t etcdTarget) error) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			c, err := controlplane.EtcdClient(certs, etcdPorts(dir, stamp.EtcdPort)...)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), within)
			defer cancel()
			return op(ctx, cmd, etcdTarget{c: c, dial: certs.EtcdDialer(), base: stamp.EtcdPort, args: args})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory of the cluster ('myriad up --data-dir')")
	return cmd
}

// etcdPorts are the client ports of the data directory's members that
// hold data: the one member, or the three of 'myriad up --ha'.
func etcdPorts(dir controlplane.DataDir, base int) []int {
	ports := []int{base}
	for _, i := range controlplane.EtcdMembersWithData(dir) {
		if p, _ := controlplane.EtcdMemberPorts(base, i); i > 0 {
			ports = append(ports, p)
		}
	}
	return ports
}

func showEtcdStatus(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	c := t.c
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

func defragEtcd(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	c := t.c
	fmt.Fprintln(cmd.OutOrStdout(), "compacting and defragmenting (etcd answers no request meanwhile) ...")
	before, after, err := controlplane.CompactAndDefrag(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "database %.1f MiB -> %.1f MiB\n", float64(before)/(1<<20), float64(after)/(1<<20))
	return nil
}

func disarmEtcd(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	c := t.c
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
		dataDir, initial string
		port, member     int
		quota            int64
		join             bool
		compaction       time.Duration
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
			if member < 0 || member >= controlplane.EtcdHAMembers {
				return fmt.Errorf("--member must be between 0 and %d, got %d", controlplane.EtcdHAMembers-1, member)
			}
			return controlplane.RunEtcd(cmd.Context(), controlplane.EtcdOptions{
				Name: controlplane.EtcdMemberName(member), Dir: dir.EtcdMember(member),
				ClientPort: port, PeerPort: port + 1, QuotaBytes: quota,
				Certs: certs, CompactionRetention: compaction,
				InitialCluster: initial, Join: join,
			}, make(chan struct{}))
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "myriad data directory")
	cmd.Flags().IntVar(&port, "port", 2379, "client port; the peer port is the next one")
	cmd.Flags().Int64Var(&quota, "quota-bytes", controlplane.DefaultEtcdQuota, "backend quota in bytes")
	cmd.Flags().IntVar(&member, "member", 0, "which member of the data directory this is (0, or 1-2 under 'myriad up --ha'): its name and data directory")
	cmd.Flags().StringVar(&initial, "initial-cluster", "", "every member as name=peer-url,..., for a member that joins ('myriad etcd member add' prints it)")
	cmd.Flags().DurationVar(&compaction, "compaction-retention", time.Hour, "history etcd keeps before compacting itself (the API server compacts more often; a tenant host's etcd has no API server of its own)")
	cmd.Flags().BoolVar(&join, "join", false, "join the running cluster that --initial-cluster names instead of starting a new one")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}
