package statefulset

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func TestOptionsNameTheFlagToFix(t *testing.T) {
	valid := func() Options {
		return Options{Rig: rig.Defaults(100), Replicas: 1000, Images: append([]string(nil), Images...), MaxUnavailable: "10%", Compare: true, PhaseTimeout: time.Minute}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	kubeconfig := t.TempDir()
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"absolute maxUnavailable", func(o *Options) { o.MaxUnavailable = "3" }, ""},
		{"small run", func(o *Options) { o.Rig.Nodes, o.Replicas = 5, 20 }, ""},
		{"zero maxUnavailable", func(o *Options) { o.MaxUnavailable = "0" }, `--max-unavailable must be a positive number of pods or a percentage from 1% to 100%, got "0"`},
		{"percentage above 100", func(o *Options) { o.MaxUnavailable = "101%" }, "--max-unavailable must be"},
		{"no replicas", func(o *Options) { o.Replicas = 0 }, "--replicas must be between 1 and 100000, got 0"},
		{"replicas beyond the nodes", func(o *Options) { o.Rig.Nodes = 9 }, "--replicas 1000 do not fit on --nodes 9 with 110 pods each"},
		{"capacity too small", func(o *Options) { o.NodeCapacity = "pods=5" }, "--replicas 1000 do not fit on --nodes 100 with 5 pods each"},
		{"capacity without pods", func(o *Options) { o.NodeCapacity = "cpu=4" }, "--node-capacity must include pods=N"},
		{"no nodes", func(o *Options) { o.Rig.Nodes = 0 }, "--nodes must be between 1 and 100000, got 0"},
		{"no timeout", func(o *Options) { o.PhaseTimeout = 0 }, "--phase-timeout must be positive, got 0s"},
		{"two images", func(o *Options) { o.Images = o.Images[:2] }, "--images must name 3 images"},
		{"image twice", func(o *Options) { o.Images[2] = o.Images[0] }, `--images: "registry.k8s.io/pause:3.8" is named twice`},
		{"kubeconfig", func(o *Options) { o.Rig.Kubeconfig = kubeconfig }, "--kubeconfig is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.change(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

// A percentage of the replicas is rounded up and at least 1, as both
// StatefulSet controllers resolve it.
func TestBudgetRoundsUpAsStatefulSetsDo(t *testing.T) {
	for _, tc := range []struct {
		v        string
		replicas int
		want     int
	}{
		{"10%", 1000, 100},
		{"10%", 15, 2},
		{"1%", 20, 1},
		{"5", 20, 5},
	} {
		got, err := Budget(intstr.Parse(tc.v), tc.replicas)
		if err != nil || got != tc.want {
			t.Errorf("Budget(%s of %d) = %d, %v; want %d", tc.v, tc.replicas, got, err, tc.want)
		}
	}
}
