package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/manager"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

func newUpCommand() *cobra.Command {
	o := controlplane.Options{}
	var quota, nodeCapacity, managerGates, imageCatalog, nodeProfile string
	var stsStuckAfter time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a Kubernetes cluster of simulated nodes on this machine",
		Long: `Start a real Kubernetes control plane on this machine: embedded etcd,
kube-apiserver, kube-controller-manager and kube-scheduler, each a supervised
process of this binary, plus simulated nodes that behave like kubelets.

Everything lives in --data-dir: certificates, etcd data, kubeconfigs and logs.
Running 'myriad up' again on the same directory resumes the same cluster with
every object kept. Ctrl-C or SIGTERM stops every component cleanly.`,
		Example: `  myriad up                      # 100 nodes in ~/.myriad
  myriad up --nodes 10000 --data-dir /tmp/big
  myriad up --apiservers 3       # three API servers behind one address
  myriad up --ha                 # 3 etcd members, 3 API servers, 2 of each controller
  myriad up --profile seeds      # 10,000 nodes, the API server sized for 10^6 objects`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := resource.ParseQuantity(quota)
			if err != nil {
				return fmt.Errorf("--etcd-quota %q is not a size like 8Gi", quota)
			}
			o.EtcdQuota = q.Value()
			if err := o.APIServerMemory.Validate(); err != nil {
				return usageError{err}
			}
			if err := controlplane.ValidProfile(o.Profile); err != nil {
				return usageError{err}
			}
			if o.Profile == controlplane.ProfileSeeds && !cmd.Flags().Changed("nodes") {
				o.Nodes = controlplane.SeedsNodes
			}
			o.EtcdPortSet = cmd.Flags().Changed("etcd-port")
			if o.HA && !cmd.Flags().Changed("apiservers") {
				o.APIServers = 3
			}
			if nodeCapacity != "" {
				o.NodeArgs = append(o.NodeArgs, "--capacity", nodeCapacity)
			}
			if imageCatalog != "" {
				if imageCatalog, err = filepath.Abs(imageCatalog); err != nil {
					return err
				}
				if _, err := nodesim.LoadImageCatalog(imageCatalog); err != nil {
					return usageError{fmt.Errorf("--image-catalog: %w", err)}
				}
				o.NodeArgs = append(o.NodeArgs, "--image-catalog", imageCatalog)
			}
			if nodeProfile != nodesim.ProfileFast {
				if _, err := nodesim.NamedProfile(nodeProfile); err != nil {
					return usageError{fmt.Errorf("--node-profile: %w", err)}
				}
				o.NodeArgs = append(o.NodeArgs, "--node-profile", nodeProfile)
			}
			if managerGates != "" {
				// Checked here, so a typo stops `up` with one line rather
				// than the manager in a crash loop.
				if err := manager.NewFeatureGate().Set(managerGates); err != nil {
					return usageError{fmt.Errorf("--manager-feature-gates: %w", err)}
				}
				o.ManagerArgs = append(o.ManagerArgs, "--feature-gates="+managerGates)
			}
			switch {
			case stsStuckAfter < 0:
				return usageError{fmt.Errorf("--manager-statefulset-stuck-after: %s is negative", stsStuckAfter)}
			case stsStuckAfter > 0:
				o.ManagerArgs = append(o.ManagerArgs, "--statefulset-stuck-after="+stsStuckAfter.String())
			}
			if ns := o.SidecarSetRevisionNamespace; ns != "" {
				if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
					return usageError{fmt.Errorf("--manager-sidecarset-revision-namespace: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))}
				}
			}
			if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
				return err
			}
			if o.Binary, err = os.Executable(); err != nil {
				return fmt.Errorf("find own executable: %w", err)
			}
			o.Out = cmd.OutOrStdout()
			return runUp(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "directory holding the cluster's state (created 0700 if missing)")
	f.IntVar(&o.Nodes, "nodes", 100, "number of simulated nodes")
	f.IntVar(&o.APIServers, "apiservers", 1, "number of kube-apiserver processes; more than one runs them behind a load balancer on --port")
	f.BoolVar(&o.HA, "ha", false, "highly available: three etcd members (a new one joins as a learner), three API servers unless --apiservers says otherwise, and two instances of kube-controller-manager, the scheduler and the workload manager, whose leaders fail over in seconds; a directory started with --ha keeps three etcd members")
	f.IntVar(&o.Port, "port", 6443, "port of the Kubernetes API")
	f.IntVar(&o.EtcdPort, "etcd-port", 2379, "etcd client port (the next port is etcd's peer port); fixed when the data directory is created")
	f.StringVar(&o.BindAddress, "bind-address", "127.0.0.1", "address the API listens on; 0.0.0.0 exposes it to the network")
	f.StringVar(&quota, "etcd-quota", "8Gi", "etcd backend size limit")
	f.IntVar(&o.MaxRequestsInflight, "max-requests-inflight", 0, "each API server's limit on read-only requests in flight, which API Priority and Fairness shares among its priority levels (0: 1600)")
	f.IntVar(&o.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", 0, "each API server's limit on mutating requests in flight (0: 800)")
	bindAPIServerMemory(f, &o.APIServerMemory)
	f.StringVar(&o.Profile, "profile", "", profileUsage+"; seeds also starts 10,000 nodes unless --nodes says otherwise")
	f.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may miss heartbeats before it is marked NotReady")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 3*time.Minute, "how long each component may take to become ready")
	f.BoolVar(&o.MetricsServer, "metrics-server", true, "run metrics-server, so that 'kubectl top' and HorizontalPodAutoscalers see the simulated usage")
	f.DurationVar(&o.MetricsResolution, "metric-resolution", 0, "how often metrics-server scrapes every node (at least 10s; default 15s, slower above 2,500 nodes: 60s at 10,000)")
	f.StringVar(&o.AuditPolicy, "audit-policy", "", "write the API server's audit log to DATA-DIR/logs/audit.log: 'default' for Myriad's policy (metadata for reads, request bodies for writes, never Secret bodies, no node heartbeats) or the path of an audit.k8s.io/v1 Policy file")
	f.StringVar(&o.Scheduler, "scheduler", "myriad", "scheduler of the cluster: myriad (Myriad's scheduler as default-scheduler), kube (kube-scheduler) or none (bring your own)")
	f.StringVar(&managerGates, "manager-feature-gates", "", "feature gates of the workload controllers ('myriad manager --feature-gates'), e.g. RecreatePodWhenChangeVCTInCloneSetGate=true")
	f.StringVar(&o.SidecarSetRevisionNamespace, "manager-sidecarset-revision-namespace", "", "namespace of SidecarSets' ControllerRevisions ('myriad manager --sidecarset-revision-namespace'; created if missing), e.g. kruise-system where OpenKruise keeps them")
	f.DurationVar(&stsStuckAfter, "manager-statefulset-stuck-after", 0, "how long a terminating pod may overstay its deletion deadline before an Advanced StatefulSet passes it over ('myriad manager --statefulset-stuck-after'; 0 keeps its default)")
	f.StringVar(&imageCatalog, "image-catalog", "", imageCatalogUsage)
	f.StringVar(&nodeProfile, "node-profile", nodesim.ProfileFast, nodeProfileUsage)
	f.StringVar(&nodeCapacity, "node-capacity", "", "capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110 (default as 'myriad nodes')")
	return cmd
}

func runUp(cmd *cobra.Command, o controlplane.Options) error {
	out := cmd.OutOrStdout()
	began := time.Now()
	cluster, err := controlplane.Up(cmd.Context(), o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
Myriad cluster ready in %.0fs: %d nodes, API at %s
  export KUBECONFIG=%s
  kubectl get nodes
Component logs are in %s. Press Ctrl-C to stop; the cluster's state stays in %s.
`, time.Since(began).Seconds(), o.Nodes, cluster.Plan.APIServerURL(), cluster.Plan.Dir.AdminKubeconfig(), cluster.Plan.Dir.Logs(), o.DataDir)
	var failed error
	select {
	case <-cmd.Context().Done():
	case failed = <-cluster.Failed():
	}
	fmt.Fprintln(out, "\nstopping ... (Ctrl-C again to exit at once)")
	cluster.Stop()
	fmt.Fprintln(out, "stopped")
	return failed
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".myriad")
	}
	return ".myriad"
}
