//go:build !linux

package loopback

import (
	"context"
	"errors"
	"net"
)

// Listen needs Linux, where all of 127.0.0.0/8 is local and a
// socket can be bound to the loopback device.
func Listen(context.Context, int) (net.Listener, error) {
	return nil, errors.New("one socket for every loopback address needs Linux")
}
