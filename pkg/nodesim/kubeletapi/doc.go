// Package kubeletapi serves the kubelet's HTTPS API for simulated nodes:
// container logs, exec, attach and port-forward, so that `kubectl logs`,
// `kubectl exec`, `kubectl attach` and `kubectl port-forward` work against
// them as against real kubelets, and /metrics/resource and /stats/summary
// with usage from a model a pod's annotations choose (package usage; by
// default a stable share of each container's requests).
//
// One listener serves every node. Each node has its own InternalIP in
// 127.16.0.0/12 (nodesim.NodeAddressRange) and reports the same kubelet
// port, as real kubelets do; the listening socket is bound to the wildcard
// address but to the loopback device (SO_BINDTODEVICE "lo"), so it accepts
// connections to any of those addresses and only from this machine. The
// address a connection came to names its node: that is what lets requests
// that do not name one (/metrics/resource, /stats/summary) reach the
// right node without a socket, port, goroutine or accept loop per node.
// Measured at 10,000 nodes on the 2-core machine: one descriptor and one
// accept goroutine, against 10,000 descriptors (half the process limit of
// 20,000, which one scraper connection per node would then exhaust),
// 10,000 goroutines and +29 MB of Go heap and stacks for a listener and
// accept loop per node. The serving certificates cost +6.3 MB in the
// simulator (loaded in 0.11 s; one key, ~640 B of PEM per node) and 1.4 s
// to issue at the first `myriad up` (0.25 s to re-check at a restart).
//
// One consequence of loopback node addresses: the API server refuses to
// proxy nodes/proxy requests to loopback addresses ("address not
// allowed"), so `kubectl get --raw /api/v1/nodes/NODE/proxy/...` does not
// reach a simulated node; logs, exec, attach and port-forward are not
// proxied that way and work, and scrapers (metrics-server) dial the node
// address directly.
//
// Requests are authenticated as a kubelet's are with x509 client
// certificates: TLS requires a client certificate chained to the cluster
// CA, and only the common names in Config.AllowedClients (the API server's
// kubelet client under `myriad up`) are authorized, plus those in
// Config.MetricsClients (metrics-server) for metrics and stats only;
// everyone else gets 403.
// Each node presents its own serving certificate for its address, issued
// by `myriad up` from the cluster CA; this package never holds a CA key.
//
// What the containers print and run is data, never a host process: log
// lines are generated on demand from the pod (never stored), exec runs a
// few built-in commands, and port-forward reaches an in-process HTTP stub
// that answers with the pod's identity. The package must never start a
// host command, open a connection to a pod IP, read files from disk at
// request time, or keep state per pod beyond a CPU counter per running
// container of a scraped node (see counters).
package kubeletapi
