package controlplane

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Listener ports are chosen below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768–60999 by default), not with ":0".
// A port is chosen here, its probe socket closed, and the component that
// listens on it starts seconds later in another process. A port from ":0"
// lies inside the ephemeral range, so in those seconds any outgoing
// connection on the machine may be given it as its local port, and the
// listener then fails to start ("address already in use"). Outgoing
// connections are never given a port below the range.
const (
	// listenerFloor keeps clear of the registered ports most often
	// configured by hand (kubelet 10250, controller-manager 10257,
	// scheduler 10259, etcd 2379, Myriad's defaults).
	listenerFloor = 20000
	// minListenerPorts is the smallest window worth choosing from; a
	// machine whose ephemeral range starts lower falls back to ":0".
	minListenerPorts = 1000
)

// cursor walks the window from a random start, so that separate calls
// in one process hand out different ports and separate processes rarely
// start on the same ones.
var cursor struct {
	sync.Mutex
	next int
}

// FreePort returns an unused loopback port, for listeners whose number
// nothing outside this run depends on. Separate calls in one process do
// not repeat a port until the window's ~12,000 ports have been walked.
func FreePort() (int, error) {
	ps, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// FreePorts returns n distinct unused loopback ports, none of them in
// avoid (ports the run was given or chose before but has not bound yet).
// Every probe socket stays open until all n are chosen.
func FreePorts(n int, avoid ...int) ([]int, error) {
	lo, hi, ok := listenerWindow()
	if !ok {
		return kernelPorts(n, avoid)
	}
	cursor.Lock()
	defer cursor.Unlock()
	if cursor.next < lo || cursor.next >= hi {
		cursor.next = lo + rand.IntN(hi-lo)
	}
	ports := make([]int, 0, n)
	for tried := 0; len(ports) < n; tried++ {
		if tried == hi-lo {
			return nil, fmt.Errorf("no %d free loopback ports in %d–%d", n, lo, hi-1)
		}
		p := cursor.next
		if cursor.next++; cursor.next == hi {
			cursor.next = lo
		}
		if slices.Contains(avoid, p) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // in use: the next one
		}
		defer l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// listenerWindow is [lo, hi): from listenerFloor to the start of the
// kernel's ephemeral range, when that is known and wide enough.
func listenerWindow() (lo, hi int, ok bool) {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	return windowBelow(string(raw))
}

// windowBelow parses ip_local_port_range ("32768\t60999\n").
func windowBelow(portRange string) (lo, hi int, ok bool) {
	fields := strings.Fields(portRange)
	if len(fields) != 2 {
		return 0, 0, false
	}
	ephemeralLo, err := strconv.Atoi(fields[0])
	if err != nil || ephemeralLo-listenerFloor < minListenerPorts {
		return 0, 0, false
	}
	return listenerFloor, ephemeralLo, true
}

// kernelPorts asks the kernel (":0"), where no window below the
// ephemeral range is known.
func kernelPorts(n int, avoid []int) ([]int, error) {
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		if p := l.Addr().(*net.TCPAddr).Port; !slices.Contains(avoid, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}
