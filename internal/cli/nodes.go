package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

func newNodesCommand() *cobra.Command {
	var (
		kubeconfig, capacity, metricsAddr, imageCatalog, profile string
		endpoint                                                 endpointFlags
		qps                                                      float32
		burst                                                    int
		cfg                                                      nodesim.Config
		kubelet                                                  nodesim.KubeletAPIConfig
	)
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "Run simulated nodes that behave like kubelets against any cluster",
		Long: `Run --count simulated nodes in this process against the cluster in
--kubeconfig. They register Nodes, renew Leases every 10s, report NodeStatus,
run the pods bound to them (Pending -> Running, jobs complete, in-place image
changes restart only that container) and terminate deleted pods gracefully.

With --kubelet-serving-certs, --kubelet-serving-key and --kubelet-client-ca
(which 'myriad up' passes) they also serve the kubelet API on one loopback
socket: kubectl logs, exec, attach and port-forward, and /metrics/resource.

'myriad nodes fail' and 'myriad nodes recover' stop and resume the heartbeats
of chosen nodes, so node lifecycle and eviction can be exercised.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Count <= 0 {
				return fmt.Errorf("--count must be positive, got %d", cfg.Count)
			}
			if qps <= 0 || burst <= 0 {
				return errors.New("--qps and --burst must be positive")
			}
			if cfg.Images == 0 {
				cfg.Images = nodesim.NoImages // Config's zero means the default
			}
			if capacity != "" {
				list, err := parseCapacity(capacity)
				if err != nil {
					return err
				}
				cfg.Capacity = list
			}
			if imageCatalog != "" {
				c, err := nodesim.LoadImageCatalog(imageCatalog)
				if err != nil {
					return usageError{fmt.Errorf("--image-catalog: %w", err)}
				}
				cfg.ImageCatalog = c
			}
			p, err := nodesim.NamedProfile(profile)
			if err != nil {
				return usageError{fmt.Errorf("--node-profile: %w", err)}
			}
			cfg.Profile = p
			if kubelet.ServingCerts != "" || kubelet.ServingKey != "" || kubelet.ClientCA != "" {
				cfg.KubeletAPI = &kubelet
			} else if cmd.Flags().Changed("kubelet-allowed-clients") || cmd.Flags().Changed("kubelet-metrics-clients") {
				return errors.New("--kubelet-allowed-clients and --kubelet-metrics-clients need --kubelet-serving-certs, --kubelet-serving-key and --kubelet-client-ca")
			}
			cs, err := simClient(kubeconfig, qps, burst)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			cfg.Registry = reg
			cfg.Default()
			if err := cfg.Validate(); err != nil {
				return err
			}
			if metricsAddr != "" {
				if err := endpoint.serve(cmd.Context(), metricsAddr, cs, reg, nil, nil); err != nil {
					return err
				}
			}
			return nodesim.Run(cmd.Context(), cs, cfg)
		},
	}
	f := cmd.Flags()
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.IntVar(&cfg.Count, "count", 100, "number of nodes this process simulates")
	f.StringVar(&imageCatalog, "image-catalog", "", imageCatalogUsage)
	f.StringVar(&profile, "node-profile", nodesim.ProfileFast, nodeProfileUsage)
	f.StringVar(&cfg.NamePrefix, "name-prefix", "myriad-node-", "node names are <prefix><index>")
	f.IntVar(&cfg.StartIndex, "start-index", 0, "index of the first node, so several processes can share one fleet")
	f.StringVar(&capacity, "capacity", "", "capacity of each node, e.g. cpu=32,memory=256Gi,pods=110,nvidia.com/gpu=8")
	f.BoolVar(&cfg.Events, "events", true, "emit the kubelet's events about pods (Pulling, Pulled, Created, Started, Killing, BackOff, Unhealthy) and recovered nodes; best effort, repeats folded into counts")
	f.IntVar(&cfg.Zones, "zones", 3, "nodes are spread over this many topology zones")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "10.128.0.0/9", "range from which each node gets a /24 for pod IPs")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 10*time.Second, "Lease renewal period (kubelet: 10s)")
	f.StringVar(&cfg.HeartbeatMode, "heartbeat-mode", nodesim.HeartbeatLease, "lease: renew a Lease every --heartbeat-interval, full NodeStatus every --status-report-interval (kubelets since NodeLease); status: no Lease, every --heartbeat-interval a NodeStatus patch computed from the previous status (kubelets before NodeLease)")
	f.IntVar(&cfg.Images, "images", 20, fmt.Sprintf("container images each node reports in status.images (0-%d, as the kubelet's --node-status-max-images)", nodesim.MaxImages))
	f.DurationVar(&cfg.StatusReportInterval, "status-report-interval", 5*time.Minute, "full NodeStatus period when nothing changes (kubelet: 5m)")
	f.DurationVar(&cfg.JobDuration, "job-duration", 2*time.Second, "how long containers of run-to-completion pods run (pod annotation "+nodesim.RunDurationAnnotation+" overrides)")
	f.IntVar(&cfg.Workers, "workers", 32, "concurrent API writes of registration")
	f.IntVar(&cfg.PodWorkers, "pod-workers", 0, "pods synced (their status written) at once (0: --count/20, at least --workers), as kubelets write their own pods' status in parallel")
	f.IntVar(&cfg.HeartbeatWorkers, "heartbeat-workers", 0, "heartbeats in flight at once (0: --count/20, at least --workers), so slow requests do not leave nodes unrenewed")
	f.Float32Var(&qps, "qps", 2000, "client QPS limit toward the API server")
	f.IntVar(&burst, "burst", 4000, "client burst toward the API server")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9100 (off when empty)")
	endpoint.bind(f)
	f.IntVar(&kubelet.Port, "kubelet-port", nodesim.DefaultKubeletPort, "port of every node's kubelet API (node addresses are in "+nodesim.NodeAddressRange+", on the loopback device)")
	f.StringVar(&kubelet.ServingCerts, "kubelet-serving-certs", "", "PEM file of kubelet serving certificates, one per node address, signed by the cluster CA; with --kubelet-serving-key and --kubelet-client-ca it turns on logs, exec, attach and port-forward")
	f.StringVar(&kubelet.ServingKey, "kubelet-serving-key", "", "private key of the --kubelet-serving-certs")
	f.StringVar(&kubelet.ClientCA, "kubelet-client-ca", "", "CA that signs the client certificates allowed to call the kubelet API")
	f.StringSliceVar(&kubelet.AllowedClients, "kubelet-allowed-clients", []string{"kube-apiserver-kubelet-client"}, "common names of client certificates authorized to call the kubelet API (the API server's --kubelet-client-certificate)")
	f.StringSliceVar(&kubelet.MetricsClients, "kubelet-metrics-clients", nil, "common names of client certificates authorized to read the kubelet API's /metrics/resource and /stats/summary only (metrics-server)")
	cmd.AddCommand(newNodesFailCommand(&kubeconfig, true), newNodesFailCommand(&kubeconfig, false))
	return cmd
}

// newNodesFailCommand builds `nodes fail` (failed=true) or `nodes recover`.
func newNodesFailCommand(kubeconfig *string, failed bool) *cobra.Command {
	var fraction float64
	var prefix string
	use, short := "recover [NODE...]", "Resume heartbeats of failed simulated nodes"
	if failed {
		use, short = "fail [NODE...]", "Stop the heartbeats of simulated nodes, as if they crashed"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, names []string) error {
			if (len(names) == 0) == (fraction == 0) {
				return errors.New("name nodes or give --fraction, not both")
			}
			if fraction < 0 || fraction > 1 {
				return fmt.Errorf("--fraction must be between 0 and 1, got %g", fraction)
			}
			cs, err := simClient(*kubeconfig, 50, 100)
			if err != nil {
				return err
			}
			if fraction > 0 {
				if names, err = pickNodes(cmd.Context(), cs, prefix, fraction); err != nil {
					return err
				}
			}
			if err := nodesim.SetFailure(cmd.Context(), cs, names, failed); err != nil {
				return err
			}
			verb := "recovered"
			if failed {
				verb = "failed"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d node(s)\n", verb, len(names))
			return nil
		},
	}
	cmd.Flags().Float64Var(&fraction, "fraction", 0, "pick this fraction of simulated nodes at random instead of naming them")
	cmd.Flags().StringVar(&prefix, "name-prefix", "", "with --fraction, only nodes whose name starts with this")
	return cmd
}

func pickNodes(ctx context.Context, cs kubernetes.Interface, prefix string, fraction float64) ([]string, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: nodesim.SimulatedLabel + "=true", ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("list simulated nodes: %w", err)
	}
	var names []string
	for _, n := range list.Items {
		if strings.HasPrefix(n.Name, prefix) {
			names = append(names, n.Name)
		}
	}
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return names[:int(float64(len(names))*fraction+0.5)], nil
}

// simClient speaks protobuf: a Lease renewal is a fraction of the bytes and
// CPU of JSON on both ends, which matters at 1,000 renewals a second.
func simClient(kubeconfig string, qps float32, burst int) (*kubernetes.Clientset, error) {
	return kubeclient.Clientset(kubeconfig, kubeclient.Options{QPS: qps, Burst: burst, Protobuf: true, UserAgent: "myriad-nodes"})
}

func parseCapacity(s string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--capacity entry %q is not name=quantity", kv)
		}
		if errs := content.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--capacity %q is not a resource name: %s", k, errs[0])
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("--capacity %s=%q: not a quantity", k, v)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("--capacity %s=%s: must not be negative", k, v)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

const imageCatalogUsage = `YAML file describing images ("images: [{name, digest, size, pullDuration, pullError, entrypoint: {exitsAfter, exitCode}}]"): tags with one digest are one image (imageID), a pull takes pullDuration (else size at the --node-profile's bandwidth) or fails with pullError (ImagePullBackOff), an exiting entrypoint crash-loops containers that set no command; unlisted images run until stopped`

// nodeProfileUsage says what --node-profile picks.
const nodeProfileUsage = `how long the simulated runtime takes: "fast" (no time at all; benches of the control plane) or "realistic" (a cloud VM with containerd: 1s to create a pod's sandbox, images pulled at 50MiB/s one at a time, 200Mi unless the --image-catalog sizes them, 300ms to start a container; an image already on the node is not pulled again)`
