package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// newEtcdMemberCommand groups etcd's membership operations.
func newEtcdMemberCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "List, add, promote and remove etcd members",
		Long: `Operate etcd's membership. 'myriad up --ha' runs three members and adds,
promotes and replaces its own by itself: a member whose data directory is
gone is removed and added again as a learner, and promoted once it has
caught up. These commands are for members run by hand ('myriad etcd run
--join') and for repairs. A new member always joins as a learner, which
does not vote, so it cannot cost the cluster its quorum while it catches
up; promote it when 'member list' shows it near the leader's index.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		etcdOp("list", "List the members: name, ID, URLs, learner or voter, leader, applied index", opTimeout, cobra.NoArgs, listEtcdMembers),
		etcdOp("add PEER-URL", "Add a member at PEER-URL as a learner and print how to start it", opTimeout, cobra.ExactArgs(1), addEtcdMember),
		etcdOp("promote ID", "Make a caught-up learner a voting member", opTimeout, cobra.ExactArgs(1), promoteEtcdMember),
		etcdOp("remove ID", "Remove a member from the cluster", opTimeout, cobra.ExactArgs(1), removeEtcdMember))
	return cmd
}

func listEtcdMembers(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	members, err := controlplane.ReadEtcdMembers(ctx, t.c)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tROLE\tLEADER\tAPPLIED\tDB\tPEER\tCLIENT")
	for _, m := range members {
		name, role, leader, applied, db := m.Name, "voter", "", "-", "-"
		if name == "" {
			name = "(not started)"
		}
		if m.Learner {
			role = "learner"
		}
		if m.Leader {
			leader = "*"
		}
		switch {
		case m.Err != nil:
			applied = "unreachable"
		case m.ClientURL != "":
			applied, db = fmt.Sprint(m.RaftIndex), fmt.Sprintf("%.1f MiB", float64(m.DBSize)/(1<<20))
		}
		fmt.Fprintf(w, "%x\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, name, role, leader, applied, db, m.PeerURL, m.ClientURL)
	}
	return w.Flush()
}

func addEtcdMember(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	id, initial, err := controlplane.AddEtcdLearner(ctx, t.c, t.args[0], t.base)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "added learner %x at %s\nstart it with: --initial-cluster %s --join\nthen, once it has caught up: myriad etcd member promote %x\n",
		id, t.args[0], initial, id)
	return nil
}

func promoteEtcdMember(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	id, err := controlplane.ParseEtcdMemberID(t.args[0])
	if err != nil {
		return err
	}
	if err := controlplane.PromoteEtcdMember(ctx, t.c, t.dial, id); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "member %x votes\n", id)
	return nil
}

func removeEtcdMember(ctx context.Context, cmd *cobra.Command, t etcdTarget) error {
	id, err := controlplane.ParseEtcdMemberID(t.args[0])
	if err != nil {
		return err
	}
	if err := controlplane.RemoveEtcdMember(ctx, t.c, id); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "member %x removed\n", id)
	return nil
}
