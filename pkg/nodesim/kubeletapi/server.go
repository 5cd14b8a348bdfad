package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/loopback"
	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

// Nodes is what the server asks of the simulator that owns the nodes.
type Nodes interface {
	// NodeAt returns the name of the node whose kubelet address is a, or
	// ok=false if no node of this process has it.
	NodeAt(a netip.Addr) (name string, ok bool)
	// Pod returns a pod from the simulator's cache (nil if unknown). The
	// server never mutates it.
	Pod(namespace, name string) *corev1.Pod
	// PodsOn returns the pods bound to node, from the same cache.
	PodsOn(node string) []*corev1.Pod
	// Container returns what a command run in container name of pod
	// sees (nil if pod has no such container).
	Container(pod *corev1.Pod, name string) *sandbox.Container
	// Disk returns the size of node's one filesystem (its
	// ephemeral-storage capacity) and what the images its runtime holds
	// take of it.
	Disk(node string) (capacity, images float64)
}

// Config says whom to serve and how.
type Config struct {
	Nodes Nodes
	// Certificate returns the serving certificate of the node at a.
	Certificate func(a netip.Addr) (*tls.Certificate, error)
	// ClientCAs verify client certificates; AllowedClients are the common
	// names authorized to use the API, MetricsClients those authorized to
	// read resource metrics and stats only, as a kubelet grants
	// nodes/metrics and nodes/stats without nodes/proxy (all others get
	// 403).
	ClientCAs                      *x509.CertPool
	AllowedClients, MetricsClients []string
	// StreamIdleTimeout closes exec, attach and port-forward sessions idle
	// this long (kubelet's streamingConnectionIdleTimeout, default 4h);
	// StreamCreationTimeout bounds the set-up of their streams (30s).
	StreamIdleTimeout, StreamCreationTimeout time.Duration
	Clock                                    clock.Clock // default real clock
}

// Server is the kubelet API of every node of one simulator.
type Server struct {
	cfg      Config
	started  time.Time // the simulated machines' boot, for node CPU time
	counters counters
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Nodes == nil {
		return nil, errors.New("kubelet API: Nodes must be set")
	}
	if cfg.StreamIdleTimeout == 0 {
		cfg.StreamIdleTimeout = 4 * time.Hour
	}
	if cfg.StreamCreationTimeout == 0 {
		cfg.StreamCreationTimeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Server{cfg: cfg, started: cfg.Clock.Now()}, nil
}

type nodeKey struct{}

// withNode records which node a request reached.
func withNode(ctx context.Context, node string) context.Context {
	return context.WithValue(ctx, nodeKey{}, node)
}

func nodeOf(ctx context.Context) string {
	n, _ := ctx.Value(nodeKey{}).(string)
	return n
}

// Serve serves TLS on l until ctx ends. l's connections must keep the
// local address they were accepted on: it selects the node.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if s.cfg.Certificate == nil || s.cfg.ClientCAs == nil {
		return errors.New("kubelet API: serving certificates and client CAs are required")
	}
	srv := &http.Server{
		Handler: s.Handler(),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if a, ok := loopback.LocalAddr(c); ok {
				if node, ok := s.cfg.Nodes.NodeAt(a); ok {
					return withNode(ctx, node)
				}
			}
			return ctx
		},
		TLSConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  s.cfg.ClientCAs,
			// exec, attach and port-forward upgrade the connection, which
			// only HTTP/1.1 can do.
			NextProtos: []string{"http/1.1"},
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				a, ok := loopback.LocalAddr(hello.Conn)
				if !ok {
					return nil, fmt.Errorf("kubelet API: connection to %s is not to a node address", hello.Conn.LocalAddr())
				}
				return s.cfg.Certificate(a)
			},
		},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_ = srv.Close()
		case <-done:
		}
	}()
	klog.FromContext(ctx).Info("Serving the kubelet API of simulated nodes", "address", l.Addr())
	err := srv.ServeTLS(l, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler is the kubelet API: authorization, then the endpoints.
func (s *Server) Handler() http.Handler { return s.authorize(s.routes()) }

// authorize admits a request only with a verified client certificate whose
// common name is allowed. TLS already checked the chain against ClientCAs;
// a kubelet would go on to ask the API server (SubjectAccessReview) whether
// that user may use nodes/proxy, which for the API server's own kubelet
// client is always yes, so a fixed list is the same answer without a
// request to the API server per call.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			http.Error(w, "Unauthorized: a client certificate signed by the cluster CA is required", http.StatusUnauthorized)
			return
		}
		user := r.TLS.VerifiedChains[0][0].Subject.CommonName
		sub := subresourceOf(r)
		if !slices.Contains(s.cfg.AllowedClients, user) && (sub == "proxy" || !slices.Contains(s.cfg.MetricsClients, user)) {
			http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", user, verbOf(r), sub), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// subresourceOf is the nodes subresource a kubelet would authorize the
// request as (pkg/kubelet/server/auth.go): metrics and stats for the
// scrapers' paths, proxy for everything else.
func subresourceOf(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/metrics/"):
		return "metrics"
	case strings.HasPrefix(r.URL.Path, "/stats/"):
		return "stats"
	}
	return "proxy"
}

// verbOf is the verb a kubelet would authorize the request as.
func verbOf(r *http.Request) string {
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodDelete:
		return "delete"
	}
	return "get"
}

// routes are the kubelet's paths (pkg/kubelet/server) this server knows.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	mux.HandleFunc("GET /metrics/resource", s.metricsResource)
	mux.HandleFunc("GET /stats/summary", s.statsSummary)
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{uid}/{container}", s.exec)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{container}", s.attach)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{uid}/{container}", s.attach)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}", s.portForward)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}/{uid}", s.portForward)
	}
	return mux
}

// pod finds the pod a request names, on the node the request reached: a
// kubelet serves only its own pods. It writes the error and returns nil.
func (s *Server) pod(w http.ResponseWriter, r *http.Request) *corev1.Pod {
	node := nodeOf(r.Context())
	if node == "" {
		http.Error(w, "no simulated node has the address this request came to", http.StatusNotFound)
		return nil
	}
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	pod := s.cfg.Nodes.Pod(ns, name)
	if pod == nil || pod.Spec.NodeName != node {
		http.Error(w, fmt.Sprintf("pod %q not found on node %s", ns+"/"+name, node), http.StatusNotFound)
		return nil
	}
	if uid := r.PathValue("uid"); uid != "" && uid != string(pod.UID) {
		http.Error(w, fmt.Sprintf("pod %q with UID %s not found on node %s", ns+"/"+name, uid, node), http.StatusNotFound)
		return nil
	}
	return pod
}

// container finds the named container's spec and status in pod.
func container(pod *corev1.Pod, name string) (*corev1.Container, *corev1.ContainerStatus) {
	var spec *corev1.Container
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				spec = &list[i]
			}
		}
	}
	if spec == nil {
		for i := range pod.Spec.EphemeralContainers {
			if c := &pod.Spec.EphemeralContainers[i]; c.Name == name {
				spec = (*corev1.Container)(&c.EphemeralContainerCommon)
			}
		}
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return spec, &list[i]
			}
		}
	}
	return spec, nil
}
