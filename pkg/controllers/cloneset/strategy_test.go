package cloneset

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

func TestPartitionCount(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { return ptr.To(intstr.FromString(s)) }
	num := func(n int) *intstr.IntOrString { return ptr.To(intstr.FromInt(n)) }
	cases := []struct {
		name      string
		partition *intstr.IntOrString
		replicas  int
		want      int
	}{
		{"unset updates all", nil, 4, 0},
		{"99% of 4 still updates one", pct("99%"), 4, 3},
		{"90% of 10 rounds up", pct("85%"), 10, 9},
		{"100% keeps every pod", pct("100%"), 4, 4},
		{"1% keeps one", pct("1%"), 4, 1},
		{"99% of a single replica keeps it", pct("99%"), 1, 1},
		{"a number is taken as is", num(4), 4, 4},
		{"a number above replicas is capped", num(7), 4, 4},
		{"0% of 0", pct("0%"), 0, 0},
	}
	for _, tc := range cases {
		if got := partitionCount(tc.partition, tc.replicas); got != tc.want {
			t.Errorf("%s: partition %v of %d = %d, want %d", tc.name, tc.partition, tc.replicas, got, tc.want)
		}
	}
}

func TestResolveRounding(t *testing.T) {
	cs := func(replicas int32, mu, surge *intstr.IntOrString, paused bool) *v1alpha1.CloneSet {
		c := &v1alpha1.CloneSet{}
		c.Spec.Replicas = ptr.To(replicas)
		c.Spec.UpdateStrategy = v1alpha1.CloneSetUpdateStrategy{MaxUnavailable: mu, MaxSurge: surge, Paused: paused}
		return c
	}
	pct := func(s string) *intstr.IntOrString { return ptr.To(intstr.FromString(s)) }
	cases := []struct {
		name              string
		cs                *v1alpha1.CloneSet
		wantMU, wantSurge int
	}{
		// 20% of 8 is 1.6: up without surge, down with it.
		{"default 20% of 8 without surge rounds up", cs(8, nil, nil, false), 2, 0},
		{"20% of 8 with surge rounds down", cs(8, pct("20%"), pct("10%"), false), 1, 1},
		{"paused uses no surge", cs(8, pct("20%"), pct("10%"), true), 2, 0},
		{"0% and no surge still lets one pod go", cs(8, pct("0%"), nil, false), 1, 0},
	}
	for _, tc := range cases {
		r := resolve(tc.cs)
		if r.maxUnavailable != tc.wantMU || r.maxSurge != tc.wantSurge {
			t.Errorf("%s: maxUnavailable %d maxSurge %d, want %d and %d", tc.name, r.maxUnavailable, r.maxSurge, tc.wantMU, tc.wantSurge)
		}
	}
}
