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
// server certificate end to end. Written by hand because it is ~200 lines
// and a proxy library would add more than it saves; the API servers'
// --goaway-chance does the rebalancing of long-lived HTTP/2 connections.
//
// A backend that keeps failing its check also loses the connections
// already proxied to it, as HAProxy's "on-marked-down shutdown-sessions"
// does: the kernel of a paused or hung process keeps them established,
// so their clients (informers, the node simulator's heartbeats,
// controllers) would hang until their own HTTP/2 ping timeout (~45 s),
// longer than a node's heartbeat grace period. Closed, they reconnect
// through the balancer to a healthy backend.
type Balancer struct {
	Backends []string // host:port
	// Healthy, when set, is asked every CheckEvery (default 1 s) whether
	// backend i serves, and a backend that fails is skipped until it
	// passes again: a paused or hung process still completes TCP
	// handshakes from its kernel backlog, so only a check above TCP sees
	// it. When every backend fails its check, all are tried.
	Healthy    func(ctx context.Context, i int) error
	CheckEvery time.Duration
	// SeverAfter is how many consecutive failed checks close every
	// connection proxied to a backend, client and server side, once each
	// time it goes down (0 means 3, negative never). It is more than one
	// because a single slow /readyz under load must not cut thousands of
	// connections; one failure only stops new ones.
	SeverAfter int

	next  atomic.Uint64
	conns sync.WaitGroup
	down  []atomic.Bool // by backend; written only by the checks
	mu    sync.Mutex
	live  []map[net.Conn]net.Conn // by backend: client side to server side of each proxied connection; under mu
}

// Serve accepts on l until ctx ends.
func (b *Balancer) Serve(ctx context.Context, l net.Listener) error {
	b.down = make([]atomic.Bool, len(b.Backends))
	b.live = make([]map[net.Conn]net.Conn, len(b.Backends))
	for i := range b.live {
		b.live[i] = map[net.Conn]net.Conn{}
	}
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
	server, j := b.dial(ctx)
	if server == nil {
		return
	}
	defer server.Close()
	b.mu.Lock()
	b.live[j][client] = server
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.live[j], client)
		b.mu.Unlock()
	}()
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
// then the others; it returns the connection and the backend's index.
func (b *Balancer) dial(ctx context.Context) (net.Conn, int) {
	start := b.next.Add(1)
	d := net.Dialer{Timeout: time.Second}
	for _, healthy := range []bool{true, false} {
		for i := range b.Backends {
			j := (int(start) + i) % len(b.Backends)
			if b.down[j].Load() == healthy {
				continue
			}
			if c, err := d.DialContext(ctx, "tcp", b.Backends[j]); err == nil {
				return c, j
			}
		}
	}
	return nil, -1
}

// sever closes both sides of every connection proxied to backend j;
// their copies then fail and their proxies end and forget them.
func (b *Balancer) sever(j int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for client, server := range b.live[j] {
		client.Close()
		server.Close()
	}
}

// check runs every backend's health check each period until ctx ends;
// each check may take at most the period. After SeverAfter consecutive
// failures of a backend it severs that backend's connections, once until
// the backend passes a check again.
func (b *Balancer) check(ctx context.Context) {
	every := b.CheckEvery
	if every <= 0 {
		every = time.Second
	}
	severAfter := b.SeverAfter
	if severAfter == 0 {
		severAfter = 3
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failed := make([]bool, len(b.Backends))  // this round, by backend
	fails := make([]int, len(b.Backends))    // consecutive failed checks, by backend
	severed := make([]bool, len(b.Backends)) // since the backend last passed
	var wg sync.WaitGroup
	for {
		for i := range b.Backends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, every)
				defer cancel()
				failed[i] = b.Healthy(cctx, i) != nil
				b.down[i].Store(failed[i])
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		// With every backend failing there is nothing better to
		// reconnect to (dial then tries them all), so nothing is severed
		// until one passes again.
		someUp := false
		for _, f := range failed {
			someUp = someUp || !f
		}
		for i, f := range failed {
			if !f {
				fails[i], severed[i] = 0, false
				continue
			}
			fails[i]++
			if severAfter > 0 && fails[i] >= severAfter && !severed[i] && someUp {
				b.sever(i)
				severed[i] = true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
