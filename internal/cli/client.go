package cli

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// protobufClient is the client of Myriad's high-rate components: the
// kubeconfig (or $KUBECONFIG, ~/.kube/config), the given rate limits, and
// protobuf on the wire, which costs both ends a fraction of JSON's CPU.
func protobufClient(kubeconfig string, qps float32, burst int, userAgent string) (*kubernetes.Clientset, error) {
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = qps, burst
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.UserAgent = userAgent
	return kubernetes.NewForConfig(rc)
}

// restConfig loads --kubeconfig as kubectl does: the given file, else
// $KUBECONFIG, else ~/.kube/config.
func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	return rc, nil
}
