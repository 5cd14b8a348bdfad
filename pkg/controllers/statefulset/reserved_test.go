package statefulset

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParseReserveOrdinal(t *testing.T) {
	for in, want := range map[string][2]int{"3-5": {3, 5}, "0-0": {0, 0}, "10-12": {10, 12}} {
		a, b, err := ParseReserveOrdinal(intstr.FromString(in))
		if err != nil || a != want[0] || b != want[1] {
			t.Errorf("%q: got %d-%d, %v; want %v", in, a, b, err, want)
		}
	}
	for _, bad := range []string{"", "3", "-3", "3-", "+1-2", "1-2-3", " 1-2", "2-1"} {
		if _, _, err := ParseReserveOrdinal(intstr.FromString(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReservedOrdinals(t *testing.T) {
	entries := []intstr.IntOrString{intstr.FromInt32(1), intstr.FromString("3-4"), intstr.FromString("100-1000000")}
	got, err := ReservedOrdinals(entries, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[1] || !got[3] || !got[4] {
		t.Errorf("reserved %v, want 1, 3 and 4 only (100-1000000 is beyond the set's reach)", got)
	}
	if o := DesiredOrdinals(3, 0, got); !slices.Equal(o, []int{0, 2, 5}) {
		t.Errorf("ordinals %v, want [0 2 5]", o)
	}
	// ordinals.start: reserved ordinals below it do not matter, and a
	// range straddling it reserves only its part from start.
	got, _ = ReservedOrdinals([]intstr.IntOrString{intstr.FromString("0-11")}, 10, 2)
	if o := DesiredOrdinals(2, 10, got); !slices.Equal(o, []int{12, 13}) {
		t.Errorf("ordinals from 10 with 0-11 reserved: %v, want [12 13]", o)
	}
	if _, err := ReservedOrdinals([]intstr.IntOrString{intstr.FromString("5-2")}, 0, 1); err == nil {
		t.Error("a backwards range was accepted")
	}
}
