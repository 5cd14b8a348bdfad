package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of myriad and the Kubernetes it runs",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "myriad (Kubernetes %s, data format %d, %s)\n",
				controlplane.KubernetesVersion, controlplane.FormatVersion, runtime.Version())
		},
	}
}
