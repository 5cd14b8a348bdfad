// Package kubeclient makes the client configurations of Myriad's own
// components and of `myriad bench`: one place that loads a kubeconfig as
// kubectl does and sets the wire format, rate limits and identity.
//
// It must never change what a kubeconfig grants: it only loads the
// credentials it is given and never falls back to another identity.
package kubeclient

import (
	"fmt"
	"net"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say how a client talks to the API server. The zero value is
// client-go's defaults with JSON on the wire.
type Options struct {
	// QPS and Burst are the client-side rate limit; 0 keeps client-go's.
	QPS   float32
	Burst int
	// Protobuf asks for protobuf on the wire (JSON for custom resources,
	// which have no protobuf encoding): a fraction of JSON's CPU on both
	// ends, which is what high-rate components and 10^4-node lists need.
	Protobuf bool
	// UserAgent names the component in the API server's metrics and audit.
	UserAgent string
	// Timeout bounds each request; 0 means none (watches must use 0).
	Timeout time.Duration
	// OwnConnection gives the client a TCP connection of its own.
	// client-go shares one transport (one HTTP/2 connection) between
	// clients with equal configurations; a dialer of its own opts out, so
	// each such client is balanced to an API server on its own, as
	// separate processes are.
	OwnConnection bool
}

// Load reads kubeconfig as kubectl does: the given file, else $KUBECONFIG,
// else ~/.kube/config.
func Load(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	return rc, nil
}

// Config is kubeconfig loaded as Load does, with o applied.
func Config(kubeconfig string, o Options) (*rest.Config, error) {
	rc, err := Load(kubeconfig)
	if err != nil {
		return nil, err
	}
	return Apply(rc, o), nil
}

// Apply sets o on a copy of rc.
func Apply(rc *rest.Config, o Options) *rest.Config {
	rc = rest.CopyConfig(rc)
	if o.QPS > 0 {
		rc.QPS = o.QPS
	}
	if o.Burst > 0 {
		rc.Burst = o.Burst
	}
	if o.Protobuf {
		rc.ContentType = "application/vnd.kubernetes.protobuf"
		rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	if o.UserAgent != "" {
		rc.UserAgent = o.UserAgent
	}
	if o.Timeout > 0 {
		rc.Timeout = o.Timeout
	}
	if o.OwnConnection {
		rc.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return rc
}

// Clientset is a typed client for kubeconfig with o.
func Clientset(kubeconfig string, o Options) (*kubernetes.Clientset, error) {
	rc, err := Config(kubeconfig, o)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}
