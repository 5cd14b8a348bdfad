package core

import (
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"
)

const bindAllHostIP = "0.0.0.0"

type hostPortKey struct {
	ip       string
	protocol string
	port     int32
}

func sanitizePort(p v1.ContainerPort) hostPortKey {
	k := hostPortKey{ip: p.HostIP, protocol: string(p.Protocol), port: p.HostPort}
	if k.ip == "" {
		k.ip = bindAllHostIP
	}
	if k.protocol == "" {
		k.protocol = string(v1.ProtocolTCP)
	}
	return k
}

// NodeInfo is one node and the pods on it, with aggregates kept current by
// Snapshot. Generation changes on every change to the node or its pods and
// is globally unique, so (slot, Generation) keys caches precisely.
type NodeInfo struct {
	// Node is nil for a placeholder that holds pods of a node not yet seen.
	Node        *v1.Node
	Allocatable Resource
	Requested   Resource
	// NonZeroCPU/NonZeroMem are the scoring view (kube's NonZeroRequested).
	NonZeroCPU int64
	NonZeroMem int64
	Pods       []*PodInfo
	Generation uint64
	// labelGen changes only when the node's labels do (a generation of
	// the snapshot, so unique across nodes).
	labelGen uint64

	podIndex  map[string]int
	usedPorts map[hostPortKey]int
	images    map[string]int64 // image name -> size, from status.images
	// System-default spreading reads these per candidate: the zone label
	// value interned by the snapshot (0 for "" or no label) and which of
	// its topology keys the node has.
	zone                 int32
	hasZone, hasHostname bool
	slot                 int // index in Snapshot.nodes, -1 when not listed
}

// Name is the node's name.
func (n *NodeInfo) Name() string { return n.Node.Name }

// UsedPortConflict reports whether a wanted host port collides with one in
// use, with kube's HostPortInfo.CheckConflict semantics (0.0.0.0 collides
// with every IP of the same protocol and port).
func (n *NodeInfo) UsedPortConflict(p v1.ContainerPort) bool {
	if len(n.usedPorts) == 0 || p.HostPort <= 0 {
		return false
	}
	k := sanitizePort(p)
	if k.ip == bindAllHostIP {
		for used, c := range n.usedPorts {
			if c > 0 && used.port == k.port && used.protocol == k.protocol {
				return true
			}
		}
		return false
	}
	if n.usedPorts[k] > 0 {
		return true
	}
	k.ip = bindAllHostIP
	return n.usedPorts[k] > 0
}

func (n *NodeInfo) addPod(pi *PodInfo, gen uint64) {
	if n.podIndex == nil {
		n.podIndex = make(map[string]int)
	}
	n.podIndex[pi.Key] = len(n.Pods)
	n.Pods = append(n.Pods, pi)
	n.account(pi, 1)
	n.Generation = gen
}

func (n *NodeInfo) removePod(pi *PodInfo, gen uint64) bool {
	i, ok := n.podIndex[pi.Key]
	if !ok {
		return false
	}
	old := n.Pods[i]
	last := len(n.Pods) - 1
	n.Pods[i] = n.Pods[last]
	n.podIndex[n.Pods[i].Key] = i
	n.Pods[last] = nil
	n.Pods = n.Pods[:last]
	delete(n.podIndex, pi.Key)
	n.account(old, -1)
	n.Generation = gen
	return true
}

func (n *NodeInfo) account(pi *PodInfo, sign int64) {
	n.Requested.add(&pi.Requests, sign)
	n.NonZeroCPU += sign * pi.NonZeroCPU
	n.NonZeroMem += sign * pi.NonZeroMem
	for _, p := range pi.HostPorts {
		if n.usedPorts == nil {
			n.usedPorts = make(map[hostPortKey]int)
		}
		k := sanitizePort(p)
		n.usedPorts[k] += int(sign)
		if n.usedPorts[k] <= 0 {
			delete(n.usedPorts, k)
		}
	}
}

// clone returns a detached copy to simulate changes on (reservations,
// preemption victims) without touching the snapshot or its caches.
func (n *NodeInfo) clone() *NodeInfo {
	c := &NodeInfo{
		Node:        n.Node,
		Allocatable: n.Allocatable,
		Requested:   n.Requested,
		NonZeroCPU:  n.NonZeroCPU,
		NonZeroMem:  n.NonZeroMem,
		Pods:        slices.Clone(n.Pods),
		Generation:  n.Generation,
		podIndex:    maps.Clone(n.podIndex),
		usedPorts:   maps.Clone(n.usedPorts),
		images:      n.images, // read-only
		zone:        n.zone,
		hasZone:     n.hasZone,
		hasHostname: n.hasHostname,
		slot:        -1,
	}
	c.Requested.Scalar = maps.Clone(n.Requested.Scalar)
	return c
}
