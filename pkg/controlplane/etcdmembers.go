package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/utils/clock"
)

// etcd's members under `myriad up --ha`.
//
// A highly available data directory holds three members on one machine:
// member i is named EtcdMemberName(i), keeps its data in
// DataDir.EtcdMember(i) and listens on the data directory's etcd port
// + 2i (clients) and + 2i+1 (peers), so the first member is exactly the
// single member of a directory made without --ha, and `up --ha` turns
// such a directory into three members without moving its data.
//
// A member that has no data joins as etcd recommends for any
// reconfiguration: it is added as a learner (it receives the log but does
// not vote, so a slow or broken newcomer cannot cost the cluster its
// quorum), and promoted to a voter only once etcd says it has caught up
// with the leader. The same path rebuilds a member whose disk was lost:
// its old entry is removed first. The membership itself is etcd's; this
// file decides from it and never keeps a copy.

// EtcdHAMembers is how many members `myriad up --ha` runs: the fewest
// that survive the loss of one.
const EtcdHAMembers = 3

// EtcdMemberName is member i's name; the first is "myriad", the name of
// the only member a directory without --ha has.
func EtcdMemberName(i int) string {
	if i == 0 {
		return "myriad"
	}
	return "myriad-" + strconv.Itoa(i)
}

// EtcdMember is member i's data directory; the first is Etcd().
func (d DataDir) EtcdMember(i int) string {
	if i == 0 {
		return d.Etcd()
	}
	return filepath.Join(d.Root, "etcd-"+strconv.Itoa(i))
}

// EtcdMemberPorts are member i's client and peer ports for a data
// directory whose etcd port is base.
func EtcdMemberPorts(base, i int) (client, peer int) { return base + 2*i, base + 2*i + 1 }

func etcdURL(port int) string { return fmt.Sprintf("https://127.0.0.1:%d", port) }

// EtcdMembersWithData are the members of d that hold data, in order.
func EtcdMembersWithData(d DataDir) []int {
	var out []int
	for i := range EtcdHAMembers {
		if _, err := os.Stat(filepath.Join(d.EtcdMember(i), "member")); err == nil {
			out = append(out, i)
		}
	}
	return out
}

// etcdMember is what the join decision reads of one entry of etcd's
// membership.
type etcdMember struct {
	ID                 uint64
	Name               string // "" until the member first started
	PeerURL, ClientURL string // ClientURL "" until it first started
	Learner            bool
}

// joinStep is how member `name` at `peer` enters the cluster.
type joinStep struct {
	// Remove lists the entry to remove first: the member's own, left by a
	// member whose data was lost.
	Remove []uint64
	// Add says to add the member as a learner; otherwise ID is the entry it
	// starts as (an added member that never started).
	Add bool
	ID  uint64
}

// planJoin decides how a member without data enters the cluster whose
// membership is members.
func planJoin(members []etcdMember, peer string) joinStep {
	for _, m := range members {
		if m.PeerURL != peer {
			continue
		}
		if m.Name == "" {
			return joinStep{ID: m.ID} // added by an earlier `up` that stopped before starting it
		}
		return joinStep{Remove: []uint64{m.ID}, Add: true} // it ran here once and its data is gone
	}
	return joinStep{Add: true}
}

// initialCluster is etcd's --initial-cluster for a member joining
// members: every entry, by name. One that never started has no name yet;
// Myriad's own are named from their peer port (EtcdMemberPorts).
func initialCluster(members []etcdMember, base int) string {
	parts := make([]string, 0, len(members))
	for _, m := range members {
		name := m.Name
		if name == "" {
			name = memberNameForPeer(m.PeerURL, base)
		}
		parts = append(parts, name+"="+m.PeerURL)
	}
	slices.Sort(parts) // etcd's list is in ID order, which is random
	return strings.Join(parts, ",")
}

// memberNameForPeer is the name of Myriad's member whose peer URL this
// is, or the URL itself for a member someone else added.
func memberNameForPeer(peer string, base int) string {
	for i := range EtcdHAMembers {
		if _, p := EtcdMemberPorts(base, i); etcdURL(p) == peer {
			return EtcdMemberName(i)
		}
	}
	return peer
}

// listMembers reads etcd's membership.
func listMembers(ctx context.Context, c *clientv3.Client) ([]etcdMember, error) {
	resp, err := c.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd member list: %w", err)
	}
	out := make([]etcdMember, 0, len(resp.Members))
	for _, m := range resp.Members {
		e := etcdMember{ID: m.ID, Name: m.Name, Learner: m.IsLearner}
		if len(m.PeerURLs) > 0 {
			e.PeerURL = m.PeerURLs[0]
		}
		if len(m.ClientURLs) > 0 {
			e.ClientURL = m.ClientURLs[0]
		}
		out = append(out, e)
	}
	return out, nil
}

// prepareJoin carries out planJoin for member i of a data directory whose
// etcd port is base, and returns the --initial-cluster it starts with.
// It plans again after every change, so a change whose answer was lost
// (etcd's "request timed out" may mean done) is never made twice.
func prepareJoin(ctx context.Context, c *clientv3.Client, base, i int, clk clock.Clock) (string, error) {
	_, peerPort := EtcdMemberPorts(base, i)
	peer := etcdURL(peerPort)
	for {
		members, err := listMembers(ctx, c)
		if err != nil {
			return "", err
		}
		step := planJoin(members, peer)
		switch {
		case len(step.Remove) > 0:
			_, err = c.MemberRemove(ctx, step.Remove[0])
			if err != nil {
				err = fmt.Errorf("etcd: remove the old entry of %s, whose data is gone: %w", EtcdMemberName(i), err)
			}
		case step.Add:
			_, err = c.MemberAddAsLearner(ctx, []string{peer})
			if err != nil {
				err = fmt.Errorf("etcd: add %s as a learner: %w", EtcdMemberName(i), err)
			}
		default:
			return initialCluster(members, base), nil
		}
		if err != nil && !retryable(err) {
			return "", err
		}
		if err := sleep(ctx, clk, time.Second); err != nil {
			return "", fmt.Errorf("etcd: %s could not join: %w", EtcdMemberName(i), err)
		}
	}
}

// retryable says whether a membership change etcd refused may succeed
// later: it changes membership only once every voter has been connected
// for 5 s ("unhealthy cluster"), only for a learner close to the leader's
// log ("not in sync"), and a change that timed out may or may not have
// been made.
func retryable(err error) bool {
	for _, e := range []error{rpctypes.ErrUnhealthy, rpctypes.ErrMemberLearnerNotReady, rpctypes.ErrTimeout} {
		if strings.Contains(err.Error(), e.Error()) {
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-clk.After(d):
		return nil
	}
}

// promoteWhenCaughtUp promotes the learner at peer to a voting member as
// soon as etcd accepts it (etcd refuses until the learner's log is close
// to the leader's, and while a voter is newly connected), trying every
// interval until ctx ends. A member that
// already votes is left alone.
func promoteWhenCaughtUp(ctx context.Context, c *clientv3.Client, dial func(string) (*clientv3.Client, error), peer string, clk clock.Clock, interval time.Duration) error {
	for {
		members, err := listMembers(ctx, c)
		if err != nil {
			return err
		}
		var id uint64
		for _, m := range members {
			if m.PeerURL == peer && m.Learner {
				id = m.ID
			}
		}
		if id == 0 {
			return nil
		}
		if err = PromoteEtcdMember(ctx, c, dial, id); err == nil {
			return nil
		}
		if !retryable(err) {
			return err
		}
		if err := sleep(ctx, clk, interval); err != nil {
			return fmt.Errorf("etcd: the learner at %s did not catch up with the leader: %w", peer, err)
		}
	}
}
