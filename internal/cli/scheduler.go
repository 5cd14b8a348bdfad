package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/scheduler"
	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// SchedulerPlugins builds what decides volumes and resource claims for
// `myriad scheduler`: kube-scheduler's own plugins, set by main so that
// this package's tests do not link kube-scheduler.
var SchedulerPlugins scheduler.PluginsFunc

func newSchedulerCommand() *cobra.Command {
	var (
		kubeconfig, scoring, sampling, metricsAddr string
		endpoint                                   endpointFlags
		qps                                        float32
		burst                                      int
		preemption, profiling                      bool
	)
	cfg := scheduler.Config{LeaderElection: scheduler.DefaultLeaderElection()}
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run Myriad's scheduler against any cluster",
		Long: `Schedule the pods whose spec.schedulerName is --scheduler-name in the
cluster of --kubeconfig, with kube-scheduler's filter and score semantics
and Myriad's techniques for large clusters: equivalence classes, score
caching, relaxed randomization (--sampling) and optimistic parallel binding
(--binders). Volumes, resource claims (DRA) and node-declared features are
decided by kube-scheduler's own plugins, for the pods that have them. A pod
that fits nowhere preempts pods of lower priority as kube-scheduler's
default preemption does (--preemption=false turns it off).

Several instances may run: one holds the Lease kube-system/myriad-scheduler
and schedules, the others keep their caches warm and take over within
seconds. Metrics, /healthz and /readyz are served on --metrics-addr, and
with --profiling also Go's profiles under /debug/pprof/.`,
		Example: `  myriad scheduler --kubeconfig ~/.kube/config
  myriad scheduler --scheduler-name default-scheduler --scoring most-allocated --sampling log2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Core = core.DefaultConfig()
			switch scoring {
			case "least-allocated":
				cfg.Core.Strategy = core.LeastAllocated
			case "most-allocated":
				cfg.Core.Strategy = core.MostAllocated
			default:
				return fmt.Errorf("--scoring must be least-allocated or most-allocated, got %q", scoring)
			}
			enough, err := parseSampling(sampling)
			if err != nil {
				return err
			}
			cfg.Core.Enough = enough
			cfg.Core.Seed = uint64(time.Now().UnixNano())
			cfg.DisablePreemption = !preemption
			cfg.Plugins = SchedulerPlugins
			switch {
			case cfg.SchedulerName == "":
				return errors.New("--scheduler-name must not be empty")
			case cfg.Binders < 1 || cfg.Binders > 1024:
				return fmt.Errorf("--binders must be between 1 and 1024, got %d", cfg.Binders)
			case qps <= 0:
				return fmt.Errorf("--qps must be positive, got %g", qps)
			case burst <= 0:
				return fmt.Errorf("--burst must be positive, got %d", burst)
			}
			if err := validateLeaderElection(cfg.LeaderElection.LeaseDuration, cfg.LeaderElection.RenewDeadline, cfg.LeaderElection.RetryPeriod); err != nil {
				return err
			}
			cs, err := schedulerClient(kubeconfig, qps, burst)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			cfg.Registry = reg
			s, err := scheduler.New(cs, cfg)
			if err != nil {
				return err
			}
			var extra map[string]http.Handler
			if profiling {
				extra = profilingHandlers()
			}
			// /readyz once informers have synced, leader or warm standby alike.
			if err := endpoint.serve(cmd.Context(), metricsAddr, cs, reg, s.Ready, extra); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "myriad scheduler %q: metrics on %s://%s/metrics\n", cfg.SchedulerName, endpoint.scheme(), metricsAddr)
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&cfg.SchedulerName, "scheduler-name", "myriad", "schedule pods whose spec.schedulerName is this (default-scheduler replaces kube-scheduler)")
	f.StringVar(&scoring, "scoring", "least-allocated", "node scoring: least-allocated (spread) or most-allocated (bin packing)")
	f.StringVar(&sampling, "sampling", "kube", "feasible nodes to find before scoring: kube (percentageOfNodesToScore), log2 (Nomad), fixed:N, all")
	f.IntVar(&cfg.Binders, "binders", scheduler.DefaultBinders, "concurrent API writes: Bindings, status patches, preemption deletes (Binding throughput is this / Binding latency)")
	f.BoolVar(&preemption, "preemption", true, "let pods that fit nowhere evict pods of lower priority (honouring PodDisruptionBudgets where possible)")
	f.Float32Var(&qps, "qps", 5000, "client QPS limit toward the API server")
	f.IntVar(&burst, "burst", 5000, "client burst toward the API server")
	cfg.LeaderElection.Enabled = true
	leaseFlags{&cfg.LeaderElection.Enabled, &cfg.LeaderElection.Namespace, &cfg.LeaderElection.LeaseDuration, &cfg.LeaderElection.RenewDeadline, &cfg.LeaderElection.RetryPeriod}.add(f)
	f.StringVar(&cfg.LeaderElection.Name, "leader-elect-name", cfg.LeaderElection.Name, "name of the leader Lease")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:10260", "serve /metrics, /healthz and /readyz on this address")
	f.BoolVar(&profiling, "profiling", false, "also serve Go's CPU, heap and goroutine profiles under /debug/pprof/ on --metrics-addr, to the callers /metrics admits")
	endpoint.bind(f)
	return cmd
}

// parseSampling maps --sampling to relaxed randomization's stopping rule.
func parseSampling(s string) (core.EnoughFunc, error) {
	switch s {
	case "kube":
		return core.KubeAdaptive(0), nil
	case "log2":
		return core.NomadLog2(), nil
	case "all":
		return core.AllNodes(), nil
	}
	if n, ok := strings.CutPrefix(s, "fixed:"); ok {
		if k, err := strconv.Atoi(n); err == nil && k > 0 {
			return core.Fixed(k), nil
		}
	}
	return nil, fmt.Errorf("--sampling must be kube, log2, fixed:N (N > 0) or all, got %q", s)
}

// schedulerClient speaks protobuf: informers over 10^5 pods decode several
// times faster than JSON, and Bindings are small either way.
func schedulerClient(kubeconfig string, qps float32, burst int) (kubernetes.Interface, error) {
	return kubeclient.Clientset(kubeconfig, kubeclient.Options{QPS: qps, Burst: burst, Protobuf: true, UserAgent: "myriad-scheduler"})
}

// profilingHandlers are Go's profiles under /debug/pprof/, served behind
// the endpoint's guard when --profiling asks: they expose memory contents
// and stack traces.
func profilingHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}

// validateLeaderElection checks the Lease timing flags that `myriad
// scheduler` and `myriad manager` share.
func validateLeaderElection(lease, renew, retry time.Duration) error {
	switch {
	case lease <= renew:
		return fmt.Errorf("--leader-elect-lease-duration (%s) must exceed --leader-elect-renew-deadline (%s)", lease, renew)
	case retry <= 0 || retry >= renew:
		return fmt.Errorf("--leader-elect-retry-period (%s) must be positive and below --leader-elect-renew-deadline (%s)", retry, renew)
	}
	return nil
}
