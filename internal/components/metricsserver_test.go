package components

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/kube-openapi/pkg/common"
	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// The command line `myriad up` gives metrics-server is one metrics-server
// accepts, at every resolution `up` allows: its validation runs before it
// serves, so a flag it refuses would only show as a crash loop.
func TestMetricsServerAcceptsUpsFlags(t *testing.T) {
	plan := controlplane.Plan{Dir: controlplane.DataDir{Root: t.TempDir()}, MetricsServerPort: 4443}
	for _, res := range []time.Duration{10 * time.Second, controlplane.MetricsResolution(100), controlplane.MetricsResolution(10000)} {
		o := options.NewOptions()
		fs := pflag.NewFlagSet("metrics-server", pflag.ContinueOnError)
		for _, f := range o.Flags().FlagSets {
			fs.AddFlagSet(f)
		}
		if err := fs.Parse(plan.MetricsServerArgs(res)); err != nil {
			t.Fatalf("resolution %s: %v", res, err)
		}
		for _, err := range o.Validate() {
			// Logging is applied once per process; this test validates
			// three command lines in one.
			if !strings.Contains(err.Error(), "logging configuration was already applied") {
				t.Errorf("resolution %s: metrics-server refuses its flags: %v", res, err)
			}
		}
		if o.MetricResolution != res {
			t.Errorf("resolution %s reached metrics-server as %s", res, o.MetricResolution)
		}
	}
}

// The OpenAPI repair serves every definition under its model name too.
func TestWithModelNames(t *testing.T) {
	defs := addModelNames(map[string]common.OpenAPIDefinition{"k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics": {}})
	for _, want := range []string{"k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics", "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"} {
		if _, ok := defs[want]; !ok {
			t.Errorf("no definition named %s among %s", want, strings.Join(keys(defs), ", "))
		}
	}
}

func keys[V any](m map[string]V) (out []string) {
	for k := range m {
		out = append(out, k)
	}
	return out
}
