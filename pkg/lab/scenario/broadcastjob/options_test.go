package broadcastjob

import (
	"strings"
	"testing"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func TestOptionsNameTheFlagToFix(t *testing.T) {
	valid := func() Options {
		return Options{Rig: rig.Defaults(20), Parallelism: "100%", RunFor: 10 * time.Second, Image: DefaultImage,
			Compare: true, PhaseTimeout: time.Minute}
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
		{"absolute parallelism", func(o *Options) { o.Parallelism = "500" }, ""},
		{"percentage above 100", func(o *Options) { o.Parallelism = "120%" }, `--parallelism must be a positive number of pods or a percentage from 1% to 100%, got "120%"`},
		{"zero parallelism", func(o *Options) { o.Parallelism = "0" }, "--parallelism must be"},
		{"word parallelism", func(o *Options) { o.Parallelism = "all" }, "--parallelism must be"},
		{"no nodes", func(o *Options) { o.Rig.Nodes = 0 }, "--nodes must be between 1 and 100000, got 0"},
		{"negative run", func(o *Options) { o.RunFor = -time.Second }, "--run-for must be between 0s and 1h"},
		{"instant run", func(o *Options) { o.RunFor = 0 }, ""},
		{"empty image", func(o *Options) { o.Image = " " }, "--image must be an image reference"},
		{"timeout below run", func(o *Options) { o.PhaseTimeout = 5 * time.Second }, "--phase-timeout 5s must be longer than --run-for 10s"},
		{"kubeconfig", func(o *Options) { o.Rig.Kubeconfig = kubeconfig }, "--kubeconfig is not supported"},
		{"rig flags checked", func(o *Options) { o.Rig.APIServers = 0 }, "--apiservers must be between 1 and 16"},
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
