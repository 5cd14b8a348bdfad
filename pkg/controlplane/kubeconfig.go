package controlplane

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/myriad-dev/myriad/pkg/durable"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ClusterName is the cluster and context name in every kubeconfig Myriad
// writes, so `kubectl config get-contexts` says where it points.
const ClusterName = "myriad"

// WriteKubeconfig writes a self-contained kubeconfig (certificates embedded)
// for the given client identity. Self-contained so a user can copy it to
// another account or machine without the pki/ directory.
func WriteKubeconfig(path, server, caFile, certFile, keyFile, user string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ClusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[ClusterName] = &clientcmdapi.Context{Cluster: ClusterName, AuthInfo: user}
	cfg.CurrentContext = ClusterName
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	raw, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	// The file holds a private key: 0600, and never half-written.
	return durable.WriteFile(path, raw, 0o600)
}
