package controlplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers every connection with its own name, then closes.
func echoServer(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, name)
			c.Close()
		}
	}()
	return l.Addr().String()
}

// serveBalancer serves b on a loopback address until the test ends.
func serveBalancer(t *testing.T, b *Balancer) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.Serve(ctx, l)
	return l.Addr().String()
}

// through makes n connections to addr and counts which backend answered.
func through(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			t.Fatalf("connection through the balancer failed: %v", err)
		}
		seen[line[:len(line)-1]]++
	}
	return seen
}

func TestBalancerSpreadsAndSkipsDeadBackends(t *testing.T) {
	dead, _ := FreePort()
	b := &Balancer{Backends: []string{echoServer(t, "a"), fmt.Sprintf("127.0.0.1:%d", dead), echoServer(t, "b")}}
	seen := through(t, serveBalancer(t, b), 30)
	if seen["a"] < 10 || seen["b"] < 10 {
		t.Fatalf("connections not spread over live backends: %v", seen)
	}
}

// A backend that accepts connections but fails its health check (a
// paused process does the first from its kernel backlog) gets none, and
// gets them again once it passes; when all fail, all are tried.
func TestBalancerSkipsUnhealthyBackends(t *testing.T) {
	var sick [2]atomic.Bool
	sick[0].Store(true)
	b := &Balancer{Backends: []string{echoServer(t, "a"), echoServer(t, "b")}, CheckEvery: 20 * time.Millisecond,
		Healthy: func(_ context.Context, i int) error {
			if sick[i].Load() {
				return errors.New("not ready")
			}
			return nil
		}}
	addr := serveBalancer(t, b)
	time.Sleep(100 * time.Millisecond)
	if seen := through(t, addr, 20); seen["a"] != 0 || seen["b"] != 20 {
		t.Fatalf("the unhealthy backend got connections: %v", seen)
	}
	sick[0].Store(false)
	time.Sleep(100 * time.Millisecond)
	if seen := through(t, addr, 20); seen["a"] < 5 {
		t.Fatalf("the recovered backend got no connections: %v", seen)
	}
	sick[0].Store(true)
	sick[1].Store(true)
	time.Sleep(100 * time.Millisecond)
	if seen := through(t, addr, 20); seen["a"]+seen["b"] != 20 {
		t.Fatalf("with every backend unhealthy, connections must still be tried: %v", seen)
	}
}
