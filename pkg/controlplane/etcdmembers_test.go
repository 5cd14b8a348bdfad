package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/utils/clock"
)

func TestPlanJoin(t *testing.T) {
	peer := "https://127.0.0.1:2384"
	others := []etcdMember{{ID: 1, Name: "myriad", PeerURL: "https://127.0.0.1:2380"}, {ID: 2, Name: "myriad-1", PeerURL: "https://127.0.0.1:2382"}}
	for _, tc := range []struct {
		name    string
		members []etcdMember
		want    joinStep
	}{
		{"never added: add as a learner", others, joinStep{Add: true}},
		{"added, never started (up stopped in between): start as that entry",
			append(others, etcdMember{ID: 3, PeerURL: peer, Learner: true}), joinStep{ID: 3}},
		{"ran here and lost its data: remove the old entry, add again",
			append(others, etcdMember{ID: 3, Name: "myriad-2", PeerURL: peer}), joinStep{Remove: []uint64{3}, Add: true}},
		{"a learner that lost its data: the same",
			append(others, etcdMember{ID: 3, Name: "myriad-2", PeerURL: peer, Learner: true}), joinStep{Remove: []uint64{3}, Add: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planJoin(tc.members, peer); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("planJoin = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestInitialClusterNamesMembersNotStarted(t *testing.T) {
	members := []etcdMember{{ID: 1, Name: "myriad", PeerURL: "https://127.0.0.1:2380"},
		{ID: 2, PeerURL: "https://127.0.0.1:2382"}, {ID: 3, PeerURL: "https://10.0.0.9:2380"}}
	want := "https://10.0.0.9:2380=https://10.0.0.9:2380,myriad-1=https://127.0.0.1:2382,myriad=https://127.0.0.1:2380"
	if got := initialCluster(members, 2379); got != want {
		t.Errorf("initialCluster = %s, want %s", got, want)
	}
}

func TestEtcdMemberLayout(t *testing.T) {
	d := DataDir{Root: "/d"}
	if d.EtcdMember(0) != d.Etcd() || d.EtcdMember(2) != filepath.Join("/d", "etcd-2") {
		t.Errorf("member dirs %s %s", d.EtcdMember(0), d.EtcdMember(2))
	}
	if c, p := EtcdMemberPorts(2379, 0); c != 2379 || p != 2380 {
		t.Errorf("member 0 on %d/%d: it must keep the ports of a directory made without --ha", c, p)
	}
	if c, p := EtcdMemberPorts(2379, 2); c != 2383 || p != 2384 {
		t.Errorf("member 2 on %d/%d", c, p)
	}
	if EtcdMemberName(0) != "myriad" || EtcdMemberName(1) != "myriad-1" {
		t.Errorf("names %s %s", EtcdMemberName(0), EtcdMemberName(1))
	}
}

// consecutiveFreePorts finds n free ports in a row.
func consecutiveFreePorts(t *testing.T, n int) int {
	t.Helper()
	for base := 30000 + os.Getpid()%20000; base < 65000; base += n + 7 {
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// A second member joins a running one as a learner, catches up with
// what was written before it joined, and is promoted: the path `up --ha`
// takes for every member without data.
func TestMemberJoinsAsLearnerAndIsPromoted(t *testing.T) {
	dir := DataDir{Root: t.TempDir()}
	if err := dir.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := consecutiveFreePorts(t, 4)
	run := func(i int, initial string) {
		client, peer := EtcdMemberPorts(base, i)
		runEtcdMember(t, EtcdOptions{Name: EtcdMemberName(i), Dir: dir.EtcdMember(i), ClientPort: client, PeerPort: peer,
			QuotaBytes: 1 << 30, Certs: certs, InitialCluster: initial, Join: initial != ""})
	}
	run(0, "")
	c, err := EtcdClient(certs, base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 200 {
		if _, err := c.Put(ctx, fmt.Sprintf("/k/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	initial, err := prepareJoin(ctx, c, base, 1, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("myriad-1=https://127.0.0.1:%d,myriad=https://127.0.0.1:%d", base+3, base+1); initial != want {
		t.Fatalf("initial cluster %s, want %s", initial, want)
	}
	members, err := listMembers(ctx, c)
	if err != nil || len(members) != 2 || !members[1].Learner && !members[0].Learner {
		t.Fatalf("after the add: %+v %v; want a second member, a learner", members, err)
	}
	run(1, initial)
	if err := promoteWhenCaughtUp(ctx, c, certs.EtcdDialer(), etcdURL(base+3), clock.RealClock{}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if members, err = listMembers(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.Learner || m.Name == "" {
			t.Errorf("after the promotion: %+v", m)
		}
	}
	if got := EtcdMembersWithData(dir); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Errorf("members with data %v", got)
	}
	// The new member holds what was written before it joined.
	c1, err := EtcdClient(certs, base+2)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	resp, err := c1.Get(ctx, "/k/", clientv3WithPrefixSerializable()...)
	if err != nil || resp.Count != 200 {
		t.Fatalf("the joined member holds %v keys (%v), want 200", resp, err)
	}
	// Promoting again is a no-op, as `up` does at every start.
	if err := promoteWhenCaughtUp(ctx, c, certs.EtcdDialer(), etcdURL(base+3), clock.RealClock{}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func clientv3WithPrefixSerializable() []clientv3.OpOption {
	return []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSerializable(), clientv3.WithCountOnly()}
}

func TestRetryableMembershipErrors(t *testing.T) {
	for err, want := range map[error]bool{
		rpctypes.ErrUnhealthy:                              true,
		rpctypes.ErrMemberLearnerNotReady:                  true,
		rpctypes.ErrTimeout:                                true,
		fmt.Errorf("etcd: add: %w", rpctypes.ErrUnhealthy): true,
		rpctypes.ErrPeerURLExist:                           false,
		rpctypes.ErrMemberNotFound:                         false,
		errors.New("permission denied"):                    false,
	} {
		if got := retryable(err); got != want {
			t.Errorf("retryable(%v) = %v, want %v", err, got, want)
		}
	}
}
