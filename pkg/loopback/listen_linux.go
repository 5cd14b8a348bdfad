package loopback

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Listen opens one socket that serves every loopback address: TCP port on
// the wildcard address, bound to the loopback device. Linux routes all of
// 127.0.0.0/8 through that device, so the socket accepts connections to
// any loopback address (and only from this machine: packets from other hosts
// arrive on other devices and are refused).
func Listen(ctx context.Context, port int) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = syscall.BindToDevice(int(fd), "lo") }); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(ctx, "tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("port %d on the loopback device: %w", port, err)
	}
	return l, nil
}
