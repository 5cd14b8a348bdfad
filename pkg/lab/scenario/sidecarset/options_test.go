package sidecarset

import (
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func validOptions() Options {
	return Options{Rig: rig.Defaults(20), Pods: 200, SidecarSets: 100, Concurrency: 32, MaxUnavailable: "10%",
		PhaseTimeout: time.Minute, Images: Images}
}

func TestOptionsNameTheFlagToFix(t *testing.T) {
	if err := validOptions().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	kubeconfig := t.TempDir()
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no pods", func(o *Options) { o.Pods = 0 }, "--pods must be between 1 and 1000000, got 0"},
		{"one SidecarSet", func(o *Options) { o.SidecarSets = 1 }, "--sidecarsets must be between 2 and 1000"},
		{"more SidecarSets than pods", func(o *Options) { o.SidecarSets = 300 }, "--sidecarsets 300 exceeds --pods 200"},
		{"no concurrency", func(o *Options) { o.Concurrency = 0 }, "--concurrency must be between 1 and 1000"},
		{"maxUnavailable rounds to zero", func(o *Options) { o.MaxUnavailable = "0%" }, "--max-unavailable 0% of 200 pods is 0"},
		{"maxUnavailable not a number", func(o *Options) { o.MaxUnavailable = "most" }, "--max-unavailable must be a number of pods or a percentage"},
		{"too few images", func(o *Options) { o.Images = Images[:3] }, "--images must name 4 images"},
		{"repeated image", func(o *Options) { o.Images = []string{"a", "b", "c", "b"} }, `--images: "b" is named twice`},
		{"pods do not fit", func(o *Options) { o.Pods = 20*110 + 1 }, "--pods 2201 do not fit on --nodes 20"},
		{"timeout", func(o *Options) { o.PhaseTimeout = 0 }, "--phase-timeout must be positive"},
		{"data dir with kubeconfig", func(o *Options) { o.Rig.Kubeconfig, o.Rig.DataDir = kubeconfig, "d" }, "--data-dir is for a cluster the bench starts"},
		{"any nodes with kubeconfig", func(o *Options) { o.Rig.Kubeconfig, o.Rig.Nodes, o.Pods = kubeconfig, 0, 50000 }, ""},
		{"absolute maxUnavailable", func(o *Options) { o.MaxUnavailable = "7" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.change(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
