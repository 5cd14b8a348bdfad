package loopback

import (
	"net"
	"net/netip"
)

// LocalAddr is the address a connection was accepted on: on the one
// socket, it says which node address the client dialled.
func LocalAddr(c net.Conn) (netip.Addr, bool) {
	if c == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
