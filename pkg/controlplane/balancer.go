package controlplane

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Balancer spreads TCP connections over several API servers, the seed's
// "API Server load balancing" at its simplest: round-robin per connection,
// skipping backends that refuse. TLS passes through untouched, so clients
// still verify the API server certificate end to end. Written by hand
// because it is ~80 lines and a proxy library would add more than it saves;
// the API servers' --goaway-chance does the rebalancing of long-lived
// HTTP/2 connections.
type Balancer struct {
	Backends []string // host:port
	next     atomic.Uint64
	conns    sync.WaitGroup
}

// Serve accepts on l until ctx ends.
func (b *Balancer) Serve(ctx context.Context, l net.Listener) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: back off, don't spin
			continue
		}
		b.conns.Add(1)
		go b.proxy(ctx, c)
	}
}

func (b *Balancer) proxy(ctx context.Context, client net.Conn) {
	defer b.conns.Done()
	defer client.Close()
	server := b.dial(ctx)
	if server == nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	select {
	case <-done:
		<-done
	case <-ctx.Done():
	}
}

// dial tries each backend once, starting from the next in turn.
func (b *Balancer) dial(ctx context.Context) net.Conn {
	start := b.next.Add(1)
	d := net.Dialer{Timeout: time.Second}
	for i := range b.Backends {
		addr := b.Backends[(int(start)+i)%len(b.Backends)]
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			return c
		}
	}
	return nil
}
