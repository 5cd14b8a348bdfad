package controlplane

import "testing"

// Components of one run must never be handed the same port: a clash makes
// the second one fail to listen and `up` give up on it.
func TestFreePortsDistinctAndAvoided(t *testing.T) {
	first, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(64, first[0])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p == first[0] {
			t.Errorf("port %d was to be avoided", p)
		}
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// Separate calls hand out different ports, and none from the ephemeral
// range the kernel gives outgoing connections, which could take a chosen
// port before its listener binds it.
func TestFreePortsStayBelowTheEphemeralRange(t *testing.T) {
	lo, hi, ok := listenerWindow()
	if !ok {
		t.Skip("this machine's ephemeral port range is unknown or starts too low")
	}
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < lo || p >= hi {
			t.Fatalf("port %d outside %d–%d", p, lo, hi-1)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice by separate calls", p)
		}
		seen[p] = true
	}
}

func TestWindowBelowTheEphemeralRange(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"32768\t60999\n", 20000, 32768, true},
		{"49152 65535", 20000, 49152, true},
		{"20500 60999", 0, 0, false}, // too narrow: the kernel chooses
		{"1024 65535", 0, 0, false},
		{"", 0, 0, false},
		{"x y", 0, 0, false},
	} {
		lo, hi, ok := windowBelow(c.in)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("%q: got %d, %d, %v; want %d, %d, %v", c.in, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}
