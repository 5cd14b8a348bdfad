package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// `myriad etcd member list|add|promote|remove`: etcd's membership
// operations, for members run by hand beside a data directory's or for
// repairs. `myriad up --ha` runs its own three members and adds, promotes
// and replaces them by itself (etcdmembers.go).

// EtcdMemberState is one member as `myriad etcd member list` shows it.
type EtcdMemberState struct {
	ID                 uint64
	Name               string // "" until it first started
	PeerURL, ClientURL string
	Learner, Leader    bool
	// RaftIndex is how far its log is applied; DBSize its database. Both
	// are zero and Err set when the member does not answer.
	RaftIndex uint64
	DBSize    int64
	Err       error
}

// ReadEtcdMembers lists the membership and asks each started member for
// its status.
func ReadEtcdMembers(ctx context.Context, c *clientv3.Client) ([]EtcdMemberState, error) {
	members, err := listMembers(ctx, c)
	if err != nil {
		return nil, err
	}
	out := make([]EtcdMemberState, 0, len(members))
	for _, m := range members {
		s := EtcdMemberState{ID: m.ID, Name: m.Name, PeerURL: m.PeerURL, ClientURL: m.ClientURL, Learner: m.Learner}
		if m.ClientURL != "" {
			st, err := c.Status(ctx, m.ClientURL)
			if err != nil {
				s.Err = err
			} else {
				s.Leader, s.RaftIndex, s.DBSize = st.Leader == m.ID, st.RaftAppliedIndex, st.DbSize
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// AddEtcdLearner adds a member at peerURL as a learner and returns its ID
// and the --initial-cluster it must start with (`myriad etcd run --join`).
func AddEtcdLearner(ctx context.Context, c *clientv3.Client, peerURL string, base int) (uint64, string, error) {
	resp, err := c.MemberAddAsLearner(ctx, []string{peerURL})
	if err != nil {
		return 0, "", fmt.Errorf("etcd: add %s as a learner: %w", peerURL, err)
	}
	members, err := listMembers(ctx, c)
	if err != nil {
		return resp.Member.ID, "", err
	}
	return resp.Member.ID, initialCluster(members, base), nil
}

// PromoteEtcdMember makes the learner id a voting member; etcd refuses
// until it has caught up with the leader. The request goes to the leader
// itself: a follower forwards a promotion to the leader over the peer
// API without the caller's identity, and with auth on (as Myriad's etcd
// always is) the leader refuses it ("auth: user name is empty") and the
// caller hears only "request timed out". dial connects to one member.
func PromoteEtcdMember(ctx context.Context, c *clientv3.Client, dial func(string) (*clientv3.Client, error), id uint64) error {
	leader, err := etcdLeaderURL(ctx, c)
	if err != nil {
		return err
	}
	lc, err := dial(leader)
	if err != nil {
		return err
	}
	defer lc.Close()
	if _, err := lc.MemberPromote(ctx, id); err != nil {
		return fmt.Errorf("etcd: promote %x: %w", id, err)
	}
	return nil
}

// etcdLeaderURL is the leader's client URL, as a member that answers
// names it.
func etcdLeaderURL(ctx context.Context, c *clientv3.Client) (string, error) {
	members, err := listMembers(ctx, c)
	if err != nil {
		return "", err
	}
	var leader uint64
	for _, m := range members {
		if m.ClientURL == "" {
			continue
		}
		if st, err := c.Status(ctx, m.ClientURL); err == nil && st.Leader != 0 {
			leader = st.Leader
			break
		}
	}
	for _, m := range members {
		if m.ID == leader && m.ClientURL != "" {
			return m.ClientURL, nil
		}
	}
	return "", errors.New("etcd: no member knows a leader")
}

// RemoveEtcdMember removes member id from the cluster. etcd refuses to
// remove a voter when what stays could not keep a quorum.
func RemoveEtcdMember(ctx context.Context, c *clientv3.Client, id uint64) error {
	if _, err := c.MemberRemove(ctx, id); err != nil {
		return fmt.Errorf("etcd: remove %x: %w", id, err)
	}
	return nil
}

// ParseEtcdMemberID reads a member ID as etcd prints it (hexadecimal).
func ParseEtcdMemberID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("member ID must be hexadecimal as 'myriad etcd member list' prints it, got %q", s)
	}
	return id, nil
}
