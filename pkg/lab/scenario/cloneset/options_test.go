package cloneset

import (
	"strings"
	"testing"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func TestOptionsNameWhatToFix(t *testing.T) {
	valid := func() Options {
		return Options{Rig: rig.Defaults(20), Pods: 200, MaxUnavailable: "20%", PhaseTimeout: 60e9,
			Rollouts: []string{InPlace, Recreate, InPlace}, Images: Images}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	kubeconfig := t.TempDir()
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"pods do not fit", func(o *Options) { o.Pods = 20*110 + 1 }, "--pods 2201 do not fit on --nodes 20 with 110 pods each"},
		{"capacity raised", func(o *Options) { o.Pods, o.NodeCapacity = 4000, "cpu=32,memory=256Gi,pods=250" }, ""},
		{"capacity without pods", func(o *Options) { o.NodeCapacity = "cpu=32" }, "--node-capacity must include pods="},
		{"percentage out of range", func(o *Options) { o.MaxUnavailable = "120%" }, "--max-unavailable must be a number of pods or a percentage"},
		{"not a number", func(o *Options) { o.MaxUnavailable = "some" }, "--max-unavailable must be"},
		{"rounds to zero", func(o *Options) { o.MaxUnavailable = "0%" }, "--max-unavailable 0% of 200 pods is 0"},
		{"absolute number", func(o *Options) { o.MaxUnavailable = "50" }, ""},
		{"unknown rollout", func(o *Options) { o.Rollouts = []string{"inplace"} }, `--rollouts: unknown rollout "inplace"`},
		{"too few images", func(o *Options) { o.Images = o.Images[:3] }, "--images must name 4 images"},
		{"repeated image", func(o *Options) { o.Images = []string{"a", "b", "a", "c"} }, `--images: "a" is named twice`},
		{"scale only", func(o *Options) { o.Rollouts, o.Images = nil, []string{"a"} }, ""},
		{"data dir with kubeconfig", func(o *Options) { o.Rig.Kubeconfig, o.Rig.DataDir = kubeconfig, "d" }, "--data-dir is for a cluster the bench starts"},
		{"no nodes needed with kubeconfig", func(o *Options) { o.Rig.Kubeconfig, o.Rig.Nodes, o.Pods = kubeconfig, 0, 50000 }, ""},
		{"no nodes", func(o *Options) { o.Rig.Nodes = 0 }, "--nodes must be at least 1"},
		{"timeout", func(o *Options) { o.PhaseTimeout = 0 }, "--phase-timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.change(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestMaxUnavailableResolvesAsTheController(t *testing.T) {
	for _, tc := range []struct {
		flag string
		pods int
		want int
	}{{"20%", 10000, 2000}, {"20%", 12, 2}, {"3", 10, 3}, {"100%", 7, 7}} {
		o := Options{MaxUnavailable: tc.flag, Pods: tc.pods}
		if got, err := o.MaxUnavailablePods(); err != nil || got != tc.want {
			t.Errorf("%s of %d pods = %d, %v; want %d", tc.flag, tc.pods, got, err, tc.want)
		}
	}
}
