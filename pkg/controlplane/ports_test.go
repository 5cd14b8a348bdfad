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
