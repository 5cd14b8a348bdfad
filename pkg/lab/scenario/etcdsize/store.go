package etcdsize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// store is an EtcdStore the scenario started and must close.
type store interface {
	EtcdStore
	Close()
}

// embeddedStore is an in-process etcd member reached without a network.
type embeddedStore struct {
	e   *embed.Etcd
	cli *clientv3.Client
}

var _ store = (*embeddedStore)(nil)

// startEmbedded starts a member in dir with freelist, myriad up's
// configuration and room past target, and waits (on clk) until it serves.
func startEmbedded(clk clock.Clock, dir, freelist string, target int64) (store, error) {
	// The member serves TLS with client certificates, as under myriad up,
	// though the bench reaches it in-process.
	pkiRoot := controlplane.DataDir{Root: dir}
	if err := os.MkdirAll(pkiRoot.PKI(), 0o700); err != nil {
		return nil, err
	}
	certs, err := controlplane.EnsureCerts(pkiRoot)
	if err != nil {
		return nil, fmt.Errorf("etcd certificates: %w", err)
	}
	client, peer, err := freePorts()
	if err != nil {
		return nil, err
	}
	cfg, err := controlplane.EtcdConfig(controlplane.EtcdOptions{
		Dir: filepath.Join(dir, "data"), ClientPort: client, PeerPort: peer, Certs: certs, FreelistType: freelist,
		// Room past the target: the run measures growth, not the quota.
		QuotaBytes: max(2*target, controlplane.DefaultEtcdQuota),
	})
	if err != nil {
		return nil, err
	}
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	t := clk.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-t.C():
		e.Close()
		return nil, errors.New("etcd not ready within 1m")
	}
	return &embeddedStore{e: e, cli: v3client.New(e.Server)}, nil
}

// freePorts are two distinct free ports: the member's client and peer.
func freePorts() (int, int, error) {
	for range 50 {
		a, err := controlplane.FreePort()
		if err != nil {
			return 0, 0, err
		}
		b, err := controlplane.FreePort()
		if err != nil {
			return 0, 0, err
		}
		if a != b {
			return a, b, nil
		}
	}
	return 0, 0, errors.New("no two free ports for an etcd member")
}

func (s *embeddedStore) Put(ctx context.Context, key string, value []byte) (int64, error) {
	resp, err := s.cli.Put(ctx, key, string(value))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func (s *embeddedStore) Delete(ctx context.Context, key string) error {
	_, err := s.cli.Delete(ctx, key)
	return err
}

func (s *embeddedStore) Compact(ctx context.Context, rev int64) error {
	_, err := s.cli.Compact(ctx, rev, clientv3.WithCompactPhysical())
	return err
}

func (s *embeddedStore) Defragment(context.Context) error { return s.e.Server.Backend().Defrag() }

func (s *embeddedStore) Size() (int64, int64) {
	b := s.e.Server.Backend()
	return b.Size(), b.SizeInUse()
}

func (s *embeddedStore) Close() {
	s.cli.Close()
	s.e.Close()
}
