package rig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// Options say which cluster a scenario runs against. The zero value is not
// valid; Defaults are what `myriad bench` starts with.
type Options struct {
	// Kubeconfig attaches to an existing cluster instead of starting one.
	Kubeconfig string
	// DataDir is where a started cluster keeps its data and logs.
	DataDir string
	// Nodes is the number of simulated nodes to start; attached, the number
	// of Ready nodes the scenario expects, 0 for any.
	Nodes int
	// APIServers, Port and EtcdPort shape a started cluster (ports 0 pick
	// free ones).
	APIServers, Port, EtcdPort int
	// NodeMonitorGracePeriod is how long a node may miss heartbeats.
	NodeMonitorGracePeriod time.Duration
	// MaxRequestsInflight and MaxMutatingRequestsInflight are the API
	// servers' concurrency (0: myriad up's default).
	MaxRequestsInflight, MaxMutatingRequestsInflight int
	// APIServerMemory is a started cluster's API server memory limit and
	// watch cache (`myriad up --apiserver-memory-limit, --watch-cache-sizes`).
	APIServerMemory controlplane.APIServerMemory
	// Profile is `myriad up --profile` of a started cluster.
	Profile string
	// ReadyTimeout bounds each component's start-up.
	ReadyTimeout time.Duration
	// SampleInterval is how often processes and readiness are sampled,
	// ScrapeInterval how often metrics are scraped.
	SampleInterval, ScrapeInterval time.Duration
	// NodeArgs are extra flags of `myriad nodes`.
	NodeArgs []string
	// Scheduler is `myriad up --scheduler`: kube, myriad or none.
	Scheduler string
	// NodeProfile is `myriad nodes --node-profile` of a started cluster:
	// how long the simulated runtime takes (empty: fast, no time).
	NodeProfile string
	// MetricsServer runs metrics-server in a started cluster (`myriad up`
	// runs it by default; a bench only when asked, so that its figures
	// stay comparable with runs before it existed).
	MetricsServer bool
	// HA starts the cluster with `myriad up --ha`: three etcd members and
	// two instances of every leader-elected controller (APIServers says
	// how many API servers).
	HA bool
}

// Defaults are the options of a started cluster of nodes.
func Defaults(nodes int) Options {
	return Options{
		Nodes: nodes, APIServers: 1,
		NodeMonitorGracePeriod: 40 * time.Second, ReadyTimeout: 10 * time.Minute,
		SampleInterval: 5 * time.Second, ScrapeInterval: 15 * time.Second,
	}
}

// Attached says the rig uses an existing cluster.
func (o Options) Attached() bool { return o.Kubeconfig != "" }

// OwnCluster says, for a report's parameters, what cluster the bench
// starts: `myriad up` with its scheduler (Scheduler, where empty is
// myriad up's default, Myriad's) and its API servers.
func (o Options) OwnCluster() string {
	sched := "Myriad's scheduler"
	switch o.Scheduler {
	case "kube":
		sched = "kube-scheduler"
	case "none":
		sched = "no scheduler of its own"
	}
	out := fmt.Sprintf("own cluster: myriad up with %s and myriad-manager, %d API server(s)", sched, o.APIServers)
	if o.Profile != controlplane.ProfileDefault {
		out += "; --profile " + o.Profile
	}
	if m := o.APIServerMemory.String(); m != "" {
		out += "; API server memory: " + m
	}
	return out
}

// Validate rejects bad options with one line naming the flag. It is the
// only check of the cluster flags every scenario shares.
func (o Options) Validate() error {
	switch {
	case o.Nodes < 0:
		return fmt.Errorf("--nodes must be 0 or more, got %d", o.Nodes)
	case o.SampleInterval < time.Second:
		return fmt.Errorf("--sample-interval must be at least 1s, got %s", o.SampleInterval)
	case o.ScrapeInterval < time.Second:
		return fmt.Errorf("--scrape-interval must be at least 1s, got %s", o.ScrapeInterval)
	}
	if o.Attached() {
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			return fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, errors.Unwrap(err))
		}
		return nil
	}
	if o.NodeProfile != "" {
		if _, err := nodesim.NamedProfile(o.NodeProfile); err != nil {
			return fmt.Errorf("--node-profile: %w", err)
		}
	}
	switch {
	case o.APIServers < 1 || o.APIServers > 16:
		return fmt.Errorf("--apiservers must be between 1 and 16, got %d", o.APIServers)
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("--port must be 0 (pick one) or a TCP port, got %d", o.Port)
	case o.EtcdPort < 0 || o.EtcdPort > 65534:
		return fmt.Errorf("--etcd-port must be 0 (pick one) or a TCP port below 65535, got %d", o.EtcdPort)
	case o.NodeMonitorGracePeriod <= 0:
		return fmt.Errorf("--node-monitor-grace-period must be positive, got %s", o.NodeMonitorGracePeriod)
	case o.ReadyTimeout <= 0:
		return fmt.Errorf("--ready-timeout must be positive, got %s", o.ReadyTimeout)
	}
	if err := controlplane.ValidProfile(o.Profile); err != nil {
		return err
	}
	return o.APIServerMemory.Validate()
}

// DataDirUnder is --data-dir made absolute, or OUT/cluster, which must not
// exist yet: a directory the bench chose itself is never reused.
func DataDirUnder(outDir, dataDir string) (string, error) {
	if dataDir != "" {
		return filepath.Abs(dataDir)
	}
	dir := filepath.Join(outDir, "cluster")
	if _, err := os.Stat(dir); err == nil {
		return "", fmt.Errorf("%s already holds a cluster from an earlier run; choose another --out or remove it", dir)
	}
	return filepath.Abs(dir)
}
