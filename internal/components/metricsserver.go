package components

import (
	"flag"
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/logs"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"
)

// newMetricsServerCommand is metrics-server's own command (its options,
// flags and server) with one repair. metrics-server v0.8.0's generated
// OpenAPI definitions are keyed by Go import path
// ("k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics"), while the
// Kubernetes v1.37 libraries it runs on here name models by their
// OpenAPIModelName ("io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"),
// so its server refuses to start ("cannot find model definition"). The
// definitions are served under both names; nothing else differs from
// `metrics-server` built on its own.
func newMetricsServerCommand() *cobra.Command {
	o := options.NewOptions()
	cmd := &cobra.Command{
		Use:   "metrics-server",
		Short: "Launch metrics-server",
		RunE: func(*cobra.Command, []string) error {
			if errs := o.Validate(); len(errs) > 0 {
				return errs[0]
			}
			config, err := o.ServerConfig()
			if err != nil {
				return err
			}
			v2, v3 := config.Apiserver.OpenAPIConfig, config.Apiserver.OpenAPIV3Config
			v2.GetDefinitions, v2.Definitions = withModelNames(v2.GetDefinitions), addModelNames(v2.Definitions)
			v3.GetDefinitions, v3.Definitions = withModelNames(v3.GetDefinitions), addModelNames(v3.Definitions)
			s, err := config.Complete()
			if err != nil {
				return err
			}
			return s.RunUntil(genericapiserver.SetupSignalHandler())
		},
	}
	nfs := o.Flags()
	local := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	logs.AddGoFlags(local)
	nfs.FlagSet("logging").AddGoFlagSet(local)
	for _, f := range nfs.FlagSets {
		cmd.Flags().AddFlagSet(f)
	}
	return cmd
}

// withModelNames adds each definition of get under its REST-friendly
// model name too.
func withModelNames(get common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		return addModelNames(get(ref))
	}
}

func addModelNames(defs map[string]common.OpenAPIDefinition) map[string]common.OpenAPIDefinition {
	if defs == nil {
		return nil
	}
	out := make(map[string]common.OpenAPIDefinition, 2*len(defs))
	for name, d := range defs {
		out[name] = d
		out[util.ToRESTFriendlyName(name)] = d
	}
	return out
}
