package controlplane

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
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

func TestBalancerSpreadsAndSkipsDeadBackends(t *testing.T) {
	dead, _ := FreePort()
	b := &Balancer{Backends: []string{echoServer(t, "a"), fmt.Sprintf("127.0.0.1:%d", dead), echoServer(t, "b")}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Serve(ctx, l)

	seen := map[string]int{}
	for range 30 {
		c, err := net.Dial("tcp", l.Addr().String())
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
	if seen["a"] < 10 || seen["b"] < 10 {
		t.Fatalf("connections not spread over live backends: %v", seen)
	}
}
