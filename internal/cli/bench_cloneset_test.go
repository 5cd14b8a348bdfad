package cli

import (
	"strings"
	"testing"
	"time"
)

func TestCloneSetBenchFlagsNameWhatToFix(t *testing.T) {
	valid := func() cloneSetBenchOptions {
		return cloneSetBenchOptions{
			cluster: soakOptions{nodes: 20, out: "/tmp/out", apiservers: 1, sampleInterval: 5 * time.Second, scrapeInterval: 15 * time.Second},
			pods:    200, maxUnavailable: "20%", phaseTimeout: time.Minute,
			rollouts: []string{"in-place", "recreate", "in-place"}, images: cloneSetBenchImages,
		}
	}
	if err := valid().validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*cloneSetBenchOptions)
		want   string
	}{
		{"pods do not fit", func(o *cloneSetBenchOptions) { o.pods = 20*110 + 1 }, "--pods 2201 do not fit on --nodes 20 with 110 pods each"},
		{"capacity raised", func(o *cloneSetBenchOptions) { o.pods, o.nodeCapacity = 4000, "cpu=32,memory=256Gi,pods=250" }, ""},
		{"capacity without pods", func(o *cloneSetBenchOptions) { o.nodeCapacity = "cpu=32" }, "--node-capacity must include pods="},
		{"percentage out of range", func(o *cloneSetBenchOptions) { o.maxUnavailable = "120%" }, "--max-unavailable must be a number of pods or a percentage"},
		{"not a number", func(o *cloneSetBenchOptions) { o.maxUnavailable = "some" }, "--max-unavailable must be"},
		{"rounds to zero", func(o *cloneSetBenchOptions) { o.maxUnavailable = "0%" }, "--max-unavailable 0% of 200 pods is 0"},
		{"absolute number", func(o *cloneSetBenchOptions) { o.maxUnavailable = "50" }, ""},
		{"unknown rollout", func(o *cloneSetBenchOptions) { o.rollouts = []string{"inplace"} }, `--rollouts: unknown rollout "inplace"`},
		{"too few images", func(o *cloneSetBenchOptions) { o.images = o.images[:3] }, "--images must name 4 images"},
		{"repeated image", func(o *cloneSetBenchOptions) { o.images = []string{"a", "b", "a", "c"} }, `--images: "a" is named twice`},
		{"scale only", func(o *cloneSetBenchOptions) { o.rollouts, o.images = nil, []string{"a"} }, ""},
		{"data dir with kubeconfig", func(o *cloneSetBenchOptions) { o.kubeconfig, o.cluster.dataDir = "k", "d" }, "--data-dir is for a cluster the bench starts"},
		{"no nodes needed with kubeconfig", func(o *cloneSetBenchOptions) { o.kubeconfig, o.cluster.nodes, o.pods = "k", 0, 50000 }, ""},
		{"no out", func(o *cloneSetBenchOptions) { o.cluster.out = "" }, "--out is required"},
		{"timeout", func(o *cloneSetBenchOptions) { o.phaseTimeout = 0 }, "--phase-timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.change(&o)
			err := o.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestCloneSetMaxUnavailableResolvesAsTheController(t *testing.T) {
	for _, tc := range []struct {
		flag string
		pods int
		want int
	}{{"20%", 10000, 2000}, {"20%", 12, 2}, {"3", 10, 3}, {"100%", 7, 7}} {
		o := cloneSetBenchOptions{maxUnavailable: tc.flag, pods: tc.pods}
		if got, err := o.maxUnavailablePods(); err != nil || got != tc.want {
			t.Errorf("%s of %d pods = %d, %v; want %d", tc.flag, tc.pods, got, err, tc.want)
		}
	}
}
