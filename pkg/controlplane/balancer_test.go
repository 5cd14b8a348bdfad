package controlplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
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

// holdServer greets every connection with its own name, then echoes it
// until the client closes: a long-lived connection, like a watch.
func holdServer(t *testing.T, name string) string {
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
			go func() {
				defer c.Close()
				fmt.Fprintln(c, name)
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}

// held is a long-lived connection through the balancer to backend name.
type held struct {
	net.Conn
	r    *bufio.Reader
	name string
}

func hold(t *testing.T, addr string) *held {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &held{Conn: c, r: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := h.r.ReadString('\n')
	if err != nil {
		t.Fatalf("connection through the balancer failed: %v", err)
	}
	h.name = strings.TrimSuffix(line, "\n")
	return h
}

// holdEach connects through addr until every backend in names holds a
// connection, and returns those by backend.
func holdEach(t *testing.T, addr string, names ...string) map[string]*held {
	t.Helper()
	byName := map[string]*held{}
	for range 10 * len(names) {
		h := hold(t, addr)
		if _, ok := byName[h.name]; !ok {
			byName[h.name] = h
		}
		if len(byName) == len(names) {
			return byName
		}
	}
	t.Fatalf("could not reach every backend of %v: %v", names, byName)
	return nil
}

// alive says whether h still carries data both ways.
func (h *held) alive() bool {
	_ = h.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintln(h, "ping"); err != nil {
		return false
	}
	line, err := h.r.ReadString('\n')
	return err == nil && line == "ping\n"
}

// severed waits up to 2 s for the balancer to close h.
func (h *held) severed() bool {
	_ = h.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := h.r.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// health is a Healthy that fails backend i while fail[i], counting the
// failed checks.
type health struct {
	fail, failures [2]atomic.Int64
}

func (h *health) check(_ context.Context, i int) error {
	if h.fail[i].Load() != 0 {
		h.failures[i].Add(1)
		return errors.New("not ready")
	}
	return nil
}

// A connection to a backend that keeps failing its check is closed after
// SeverAfter (by default 3) failed checks, so its client reconnects to a
// healthy backend; a connection to a healthy backend stays open.
func TestBalancerSeversConnectionsToADownBackend(t *testing.T) {
	var h health
	b := &Balancer{Backends: []string{holdServer(t, "a"), holdServer(t, "b")}, CheckEvery: 20 * time.Millisecond, Healthy: h.check}
	addr := serveBalancer(t, b)
	conns := holdEach(t, addr, "a", "b")
	h.fail[0].Store(1)
	if !conns["a"].severed() {
		t.Fatal("the connection to the failing backend was not closed")
	}
	if n := h.failures[0].Load(); n < 3 {
		t.Fatalf("closed after %d failed checks, want 3", n)
	}
	if !conns["b"].alive() {
		t.Fatal("the connection to the healthy backend was closed")
	}
	if c := hold(t, addr); c.name != "b" || !c.alive() {
		t.Fatalf("a client reconnecting reached %q, want the healthy b", c.name)
	}
}

// With every backend failing there is none better to reconnect to, so
// nothing is severed; when one passes again, the connections to the one
// still failing are.
func TestBalancerSeversNothingWhenAllBackendsFail(t *testing.T) {
	var h health
	h.fail[0].Store(1)
	h.fail[1].Store(1)
	b := &Balancer{Backends: []string{holdServer(t, "a"), holdServer(t, "b")}, CheckEvery: 20 * time.Millisecond, SeverAfter: 3, Healthy: h.check}
	addr := serveBalancer(t, b)
	conns := holdEach(t, addr, "a", "b") // all failing, all are tried
	// The round deciding on the 3rd failure has ended once the 5th begins.
	waitFor(t, func() bool { return h.failures[0].Load() >= 5 && h.failures[1].Load() >= 5 })
	if !conns["a"].alive() || !conns["b"].alive() {
		t.Fatal("a connection was severed while every backend failed its check")
	}
	h.fail[1].Store(0)
	if !conns["a"].severed() {
		t.Fatal("the connection to the still failing backend was not closed once another passed")
	}
	if !conns["b"].alive() {
		t.Fatal("the connection to the recovered backend was closed")
	}
}

// A passing check resets the count: failures short of SeverAfter, each
// run followed by a pass, sever nothing; nor does a negative SeverAfter.
func TestBalancerDoesNotSeverOnFailuresThatPass(t *testing.T) {
	for _, severAfter := range []int{3, -1} {
		var flaky atomic.Bool
		var calls atomic.Int64
		b := &Balancer{Backends: []string{holdServer(t, "a"), holdServer(t, "b")}, CheckEvery: 20 * time.Millisecond, SeverAfter: severAfter,
			Healthy: func(_ context.Context, i int) error {
				if i != 0 || !flaky.Load() {
					return nil
				}
				// fail, fail, pass; with SeverAfter -1, fail always
				if n := calls.Add(1); n%3 != 0 || severAfter < 0 {
					return errors.New("not ready")
				}
				return nil
			}}
		addr := serveBalancer(t, b)
		conns := holdEach(t, addr, "a", "b")
		flaky.Store(true)
		waitFor(t, func() bool { return calls.Load() >= 10 })
		if !conns["a"].alive() || !conns["b"].alive() {
			t.Fatalf("SeverAfter %d: a connection was severed", severAfter)
		}
	}
}
