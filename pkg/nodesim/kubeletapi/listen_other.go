//go:build !linux

package kubeletapi

import (
	"context"
	"errors"
	"net"
)

// ListenLoopback needs Linux, where all of 127.0.0.0/8 is local and a
// socket can be bound to the loopback device.
func ListenLoopback(context.Context, int) (net.Listener, error) {
	return nil, errors.New("the kubelet API of simulated nodes needs Linux (one socket for every node address in 127.16.0.0/12)")
}
