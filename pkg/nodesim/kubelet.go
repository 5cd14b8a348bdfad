package nodesim

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"

	corev1 "k8s.io/api/core/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/klog/v2"

	"github.com/myriad-dev/myriad/pkg/loopback"
	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
	"github.com/myriad-dev/myriad/pkg/nodesim/sandbox"
)

// KubeletAPIConfig turns on the kubelet API (logs, exec, attach,
// port-forward) of every simulated node; see package kubeletapi.
type KubeletAPIConfig struct {
	// Port every node reports in daemonEndpoints; one socket serves it on
	// all node addresses. 0 takes any free port.
	Port int
	// ServingCerts is a PEM file of serving certificates, each naming one
	// node address (NodeAddress) as its IP SAN, all for the key in
	// ServingKey. `myriad up` issues them from the cluster CA; the
	// simulator never holds a CA key.
	ServingCerts, ServingKey string
	// ClientCA verifies client certificates; only AllowedClients (their
	// common names) may use the API, and MetricsClients its resource
	// metrics and stats only.
	ClientCA                       string
	AllowedClients, MetricsClients []string
}

func (s *sim) kubeletPort() int {
	if s.cfg.KubeletAPI != nil {
		return s.cfg.KubeletAPI.Port
	}
	return DefaultKubeletPort
}

// kubeletAPI is the prepared kubelet API: listener open and certificates
// loaded, so that a bad port or file stops Run before any node registers.
type kubeletAPI struct {
	server   *kubeletapi.Server
	listener net.Listener
}

// prepareKubeletAPI loads certificates and binds the port. nil, nil when
// the API is off.
func (s *sim) prepareKubeletAPI(ctx context.Context) (*kubeletAPI, error) {
	k := s.cfg.KubeletAPI
	if k == nil {
		return nil, nil
	}
	certs, missing, err := loadServingCerts(k.ServingCerts, k.ServingKey, s.cfg.StartIndex, s.cfg.Count)
	if err != nil {
		return nil, err
	}
	if missing > 0 {
		klog.FromContext(ctx).Info("Some simulated nodes have no kubelet serving certificate; their kubelet API refuses TLS", "nodes", missing, "file", k.ServingCerts)
	}
	caPEM, err := os.ReadFile(k.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("kubelet API client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("kubelet API client CA %s holds no PEM certificate", k.ClientCA)
	}
	srv, err := kubeletapi.New(kubeletapi.Config{
		Nodes:     simNodes{s},
		ClientCAs: pool, AllowedClients: k.AllowedClients, MetricsClients: k.MetricsClients,
		Certificate: func(a netip.Addr) (*tls.Certificate, error) {
			i, ok := NodeIndex(a)
			if !ok || i < s.cfg.StartIndex || i >= s.cfg.StartIndex+s.cfg.Count || certs[i-s.cfg.StartIndex] == nil {
				return nil, fmt.Errorf("no kubelet serving certificate for %s", a)
			}
			return certs[i-s.cfg.StartIndex], nil
		},
		Clock: s.clock,
	})
	if err != nil {
		return nil, err
	}
	l, err := loopback.Listen(ctx, k.Port)
	if err != nil {
		return nil, err
	}
	// Port 0 took any free port: nodes must report the one bound.
	s.cfg.KubeletAPI.Port = l.Addr().(*net.TCPAddr).Port
	return &kubeletAPI{server: srv, listener: l}, nil
}

// loadServingCerts returns, by position in [start, start+count), the
// certificate for each node's address (nil where the file has none) and
// how many are missing. The certificates share one key, so a node costs a
// pointer and its certificate's ~0.5 KB of DER.
func loadServingCerts(certFile, keyFile string, start, count int) ([]*tls.Certificate, int, error) {
	parsed, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return nil, 0, fmt.Errorf("kubelet serving certificates: %w", err)
	}
	keyAny, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		return nil, 0, fmt.Errorf("kubelet serving key: %w", err)
	}
	key, ok := keyAny.(crypto.Signer)
	if !ok {
		return nil, 0, fmt.Errorf("kubelet serving key %s cannot sign", keyFile)
	}
	out := make([]*tls.Certificate, count)
	for _, c := range parsed {
		for _, ip := range c.IPAddresses {
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			if i, ok := NodeIndex(a.Unmap()); ok && i >= start && i < start+count {
				out[i-start] = &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: nil}
			}
		}
	}
	missing := 0
	for _, c := range out {
		if c == nil {
			missing++
		}
	}
	return out, missing, nil
}

// simNodes answers the kubelet API's questions from the simulator's state.
type simNodes struct{ s *sim }

func (n simNodes) NodeAt(a netip.Addr) (string, bool) {
	i, ok := NodeIndex(a)
	if !ok || i < n.s.cfg.StartIndex || i >= n.s.cfg.StartIndex+n.s.cfg.Count {
		return "", false
	}
	return n.s.nodes[i-n.s.cfg.StartIndex].name, true
}

func (n simNodes) Pod(namespace, name string) *corev1.Pod {
	if n.s.pods == nil {
		return nil
	}
	obj, ok, err := n.s.pods.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	p, _ := obj.(*corev1.Pod)
	return p
}

func (n simNodes) PodsOn(node string) []*corev1.Pod {
	if n.s.pods == nil {
		return nil
	}
	objs, err := n.s.pods.GetIndexer().ByIndex(byNodeIndex, node)
	if err != nil {
		return nil
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// Disk is node's ephemeral-storage capacity and what its runtime's images
// take (those every node reports and those it pulled).
func (n simNodes) Disk(node string) (capacity, images float64) {
	sn := n.s.byName[node]
	if sn == nil {
		return 0, 0
	}
	return n.s.cfg.Capacity.StorageEphemeral().AsApproximateFloat64(), n.s.imageBytes(sn)
}

// Container is container name of pod, in its current run, for a command
// run in it (kubectl exec); the image's files come from the catalogue.
func (n simNodes) Container(pod *corev1.Pod, name string) *sandbox.Container {
	var id, image string
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for _, cs := range list {
			if cs.Name == name {
				id, image = cs.ContainerID, cs.Image
			}
		}
	}
	return n.s.files.ForPod(pod, name, id, n.s.cfg.ImageCatalog.Lookup(image).Files, n.s.clock)
}
