package nodesim

import (
	"errors"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

var errNoPodIPs = errors.New("no free pod IPs left in the node's /24")

// podIPs hands out addresses from one node's /24. A 256-bit set plus a map
// from pod UID costs ~100 bytes per node and per pod, which is what 10^4
// nodes and 10^5 pods can afford; a scan of four words finds a free address.
type podIPs struct {
	mu     sync.Mutex
	prefix netip.Prefix
	used   [4]uint64
	byPod  map[types.UID]uint8
}

func newPodIPs(prefix netip.Prefix) *podIPs {
	p := &podIPs{prefix: prefix, byPod: map[types.UID]uint8{}}
	p.used[0] = 0b11    // .0 is the network, .1 the gateway
	p.used[3] = 1 << 63 // .255 is broadcast
	return p
}

// allocate returns the pod's address, reusing the one it already holds.
func (p *podIPs) allocate(uid types.UID) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.byPod[uid]; ok {
		return p.addr(o), nil
	}
	for w := range p.used {
		if p.used[w] == ^uint64(0) {
			continue
		}
		for b := range 64 {
			if p.used[w]&(1<<b) == 0 {
				o := uint8(w*64 + b)
				p.used[w] |= 1 << b
				p.byPod[uid] = o
				return p.addr(o), nil
			}
		}
	}
	return netip.Addr{}, errNoPodIPs
}

// claim records an address a pod already reports (rebuilding after a
// restart). It returns false if the address is outside the node's /24 or
// another pod holds it.
func (p *podIPs) claim(uid types.UID, ip netip.Addr) bool {
	if !p.prefix.Contains(ip) {
		return false
	}
	o := ip.As4()[3]
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.byPod[uid]; ok {
		return cur == o
	}
	if p.used[o/64]&(1<<(o%64)) != 0 {
		return false
	}
	p.used[o/64] |= 1 << (o % 64)
	p.byPod[uid] = o
	return true
}

// release frees the pod's address, if it holds one.
func (p *podIPs) release(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.byPod[uid]; ok {
		p.used[o/64] &^= 1 << (o % 64)
		delete(p.byPod, uid)
	}
}

func (p *podIPs) addr(o uint8) netip.Addr {
	a := p.prefix.Addr().As4()
	a[3] = o
	return netip.AddrFrom4(a)
}
