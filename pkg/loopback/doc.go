// Package loopback opens, and reads the address of connections to, the one socket that serves every simulated node's
// address: the simulated kubelets' API (pkg/nodesim) and the tenants'
// kubelet proxy (pkg/tenancy/syncer) both answer on node addresses in
// 127.0.0.0/8. It must never listen on anything but the loopback device.
package loopback
