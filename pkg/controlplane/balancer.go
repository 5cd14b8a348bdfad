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

// Balancer spreads TCP connections over several API servers (or webhook
// servers), the seed's "API Server load balancing" at its simplest:
// round-robin per connection, skipping backends that refuse or fail their
// health check. TLS passes through untouched, so clients still verify the
// server certificate end to end. Written by hand because it is ~120 lines
// and a proxy library would add more than it saves; the API servers'
// --goaway-chance does the rebalancing of long-lived HTTP/2 connections.
type Balancer struct {
	Backends []string // host:port
	// Healthy, when set, is asked every CheckEvery (default 1 s) whether
	// backend i serves, and a backend that fails is skipped until it
	// passes again: a paused or hung process still completes TCP
	// handshakes from its kernel backlog, so only a check above TCP sees
	// it. When every backend fails its check, all are tried.
	Healthy    func(ctx context.Context, i int) error
	CheckEvery time.Duration

	next  atomic.Uint64
	conns sync.WaitGroup
	down  []atomic.Bool // by backend; written only by the checks
}

// Serve accepts on l until ctx ends.
func (b *Balancer) Serve(ctx context.Context, l net.Listener) error {
	b.down = make([]atomic.Bool, len(b.Backends))
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	if b.Healthy != nil {
		go b.check(ctx)
	}
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

// dial tries each healthy backend once, starting from the next in turn,
// then the others.
func (b *Balancer) dial(ctx context.Context) net.Conn {
	start := b.next.Add(1)
	d := net.Dialer{Timeout: time.Second}
	for _, healthy := range []bool{true, false} {
		for i := range b.Backends {
			j := (int(start) + i) % len(b.Backends)
			if b.down[j].Load() == healthy {
				continue
			}
			if c, err := d.DialContext(ctx, "tcp", b.Backends[j]); err == nil {
				return c
			}
		}
	}
	return nil
}

// check runs every backend's health check each period until ctx ends;
// each check may take at most the period.
func (b *Balancer) check(ctx context.Context) {
	every := b.CheckEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var wg sync.WaitGroup
	for {
		for i := range b.Backends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, every)
				defer cancel()
				b.down[i].Store(b.Healthy(cctx, i) != nil)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
