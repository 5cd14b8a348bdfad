package daemonset

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

func TestOptionsNameTheFlagToFix(t *testing.T) {
	valid := func() Options {
		return Options{Rig: rig.Defaults(20), Images: append([]string(nil), Images...), MaxUnavailable: "10%", Compare: true, PhaseTimeout: time.Minute}
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
		{"absolute maxUnavailable", func(o *Options) { o.MaxUnavailable = "3" }, ""},
		{"whole fleet", func(o *Options) { o.MaxUnavailable = "100%" }, ""},
		{"zero maxUnavailable", func(o *Options) { o.MaxUnavailable = "0" }, `--max-unavailable must be a positive number of nodes or a percentage from 1% to 100%, got "0"`},
		{"zero percent", func(o *Options) { o.MaxUnavailable = "0%" }, "--max-unavailable must be"},
		{"percentage above 100", func(o *Options) { o.MaxUnavailable = "101%" }, "--max-unavailable must be"},
		{"word maxUnavailable", func(o *Options) { o.MaxUnavailable = "some" }, "--max-unavailable must be"},
		{"no nodes", func(o *Options) { o.Rig.Nodes = 0 }, "--nodes must be between 1 and 100000, got 0"},
		{"no timeout", func(o *Options) { o.PhaseTimeout = 0 }, "--phase-timeout must be positive, got 0s"},
		{"two images", func(o *Options) { o.Images = o.Images[:2] }, "--images must name 3 images"},
		{"image twice", func(o *Options) { o.Images[2] = o.Images[1] }, `--images: "registry.k8s.io/pause:3.9" is named twice`},
		{"empty image", func(o *Options) { o.Images[0] = " " }, "--images: image 1 is empty"},
		{"capacity without pods", func(o *Options) { o.NodeCapacity = "cpu=4" }, "--node-capacity must include pods=N"},
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

// A percentage of the nodes is rounded up, as DaemonSet controllers do: a
// rollout of 10% of 15 nodes may take 2 down, not 1.
func TestBudgetRoundsUpAsDaemonSetsDo(t *testing.T) {
	for _, tc := range []struct {
		v     string
		nodes int
		want  int
	}{
		{"10%", 10000, 1000},
		{"10%", 15, 2},
		{"1%", 20, 1},
		{"3", 20, 3},
		{"100%", 7, 7},
	} {
		got, err := Budget(intstr.Parse(tc.v), tc.nodes)
		if err != nil || got != tc.want {
			t.Errorf("Budget(%s of %d nodes) = %d, %v; want %d", tc.v, tc.nodes, got, err, tc.want)
		}
	}
}

func TestPhasesFollowCompare(t *testing.T) {
	o := Options{Images: Images}
	if got := strings.Join(o.Kinds(), ","); got != "create,in-place,recreate" {
		t.Errorf("without --compare: %s", got)
	}
	o.Compare = true
	if got := strings.Join(o.Kinds(), ","); got != "create,in-place,recreate,upstream create,upstream" {
		t.Errorf("with --compare: %s", got)
	}
	// Each rollout needs an image the agents do not run yet.
	for _, k := range []string{InPlace, Recreate, Upstream} {
		before := map[string]string{InPlace: Create, Recreate: InPlace, Upstream: UpstreamCreate}[k]
		if o.image(k) == o.image(before) {
			t.Errorf("%s rolls to %s, the image %s left", k, o.image(k), before)
		}
	}
}
