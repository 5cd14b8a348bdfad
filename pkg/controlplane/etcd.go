package controlplane

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// EtcdOptions configures the embedded etcd member.
type EtcdOptions struct {
	// Name is the member's name, "myriad" when empty (the only member of a
	// cluster without --ha, and the first of one with it).
	Name                 string
	Dir                  string
	ClientPort, PeerPort int
	// QuotaBytes is the backend size limit. The seeds' clusters ran with tens
	// of GB once the hashmap freelist made large databases fast.
	QuotaBytes int64
	Certs      Certs
	// CompactionRetention is etcd's own periodic compaction; the API server
	// also compacts every 5 minutes, this is the backstop when it is down.
	// Zero turns it off (a benchmark that compacts on its own schedule).
	CompactionRetention time.Duration
	// FreelistType is bbolt's free-page index: FreelistMap (the default
	// when empty) or FreelistArray, upstream bbolt's original, which
	// `myriad bench etcd-size` compares it with.
	FreelistType string
	// InitialCluster (name=peerURL,...) and Join are for a member joining
	// a running cluster (as a learner, see etcdmembers.go); both are
	// ignored once the member has data, as etcd ignores them.
	InitialCluster string
	Join           bool
}

// bbolt freelist types.
const (
	FreelistMap   = "map"
	FreelistArray = "array"
)

// DefaultEtcdQuota is 8 GiB, the largest size etcd recommends without tuning.
const DefaultEtcdQuota = 8 << 30

// EtcdConfig is the embedded member's configuration: what `myriad up` runs
// and what `myriad bench etcd-size` starts in-process.
func EtcdConfig(o EtcdOptions) (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = o.Name
	if cfg.Name == "" {
		cfg.Name = EtcdMemberName(0)
	}
	cfg.Dir = o.Dir
	switch o.FreelistType {
	case "", FreelistMap:
		// The map freelist is the seed's etcd change: O(1) free-page lookup
		// instead of scanning an array, which is what let the DB grow past
		// 2 GB.
		cfg.BackendFreelistType = FreelistMap
	case FreelistArray:
		cfg.BackendFreelistType = FreelistArray
	default:
		return nil, fmt.Errorf("etcd freelist type must be %s or %s, got %q", FreelistMap, FreelistArray, o.FreelistType)
	}
	cfg.QuotaBackendBytes = o.QuotaBytes
	if o.CompactionRetention > 0 {
		cfg.AutoCompactionMode = embed.CompactorModePeriodic
		cfg.AutoCompactionRetention = o.CompactionRetention.String()
	}
	cfg.UnsafeNoFsync = false // an acknowledged write is on disk
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{"stderr"}

	client := url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", o.ClientPort)}
	peer := url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", o.PeerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	if o.InitialCluster != "" {
		cfg.InitialCluster = o.InitialCluster
	}
	if o.Join {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}

	cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = o.Certs.EtcdServerCert, o.Certs.EtcdServerKey
	cfg.ClientTLSInfo.TrustedCAFile = o.Certs.EtcdCA
	// Only certificates of etcd's own CA are clients, and with auth on
	// (EnsureEtcdAuth, which `myriad up` runs before anything else) etcd
	// checks each request against the roles of the certificate's common
	// name: the API server's identity is root, a tenant's reaches only its
	// prefix, and any other name has no role at all.
	cfg.ClientTLSInfo.ClientCertAuth = true
	cfg.PeerTLSInfo.CertFile, cfg.PeerTLSInfo.KeyFile = o.Certs.EtcdPeerCert, o.Certs.EtcdPeerKey
	cfg.PeerTLSInfo.TrustedCAFile = o.Certs.EtcdCA
	cfg.PeerTLSInfo.ClientCertAuth = true
	cfg.PeerTLSInfo.AllowedCNs = []string{EtcdPeerName}
	return cfg, nil
}

// RunEtcd starts one etcd member and blocks until ctx is done or etcd
// fails. ready is closed once the member serves clients.
func RunEtcd(ctx context.Context, o EtcdOptions, ready chan<- struct{}) error {
	cfg, err := EtcdConfig(o)
	if err != nil {
		return err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		close(ready)
	case err := <-e.Err():
		return fmt.Errorf("etcd: %w", err)
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-e.Err():
		return fmt.Errorf("etcd: %w", err)
	case <-ctx.Done():
		return nil
	}
}
