package cli

import (
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
)

// protobufClient is the bench's high-rate client; see kubeclient.Options.
func protobufClient(kubeconfig string, qps float32, burst int, userAgent string) (*kubernetes.Clientset, error) {
	return kubeclient.Clientset(kubeconfig, kubeclient.Options{QPS: qps, Burst: burst, Protobuf: true, UserAgent: userAgent})
}

// restConfig loads --kubeconfig as kubectl does.
func restConfig(kubeconfig string) (*rest.Config, error) { return kubeclient.Load(kubeconfig) }
