package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
	baseversion "k8s.io/component-base/version"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of myriad and the Kubernetes it runs",
		Long: `Print the Kubernetes version this binary runs (what 'kubectl version'
reports for a cluster started by 'myriad up', and the kubeletVersion of its
simulated nodes), then Myriad's own commit.`,
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			// component-base's answer is the one the API server gives.
			kube := baseversion.Get()
			b := version.Get()
			commit := orUnknown(b.Commit)
			if b.TreeState == "dirty" {
				commit += " (modified)"
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Kubernetes: %s\n", kube.GitVersion)
			fmt.Fprintf(out, "Myriad commit: %s\n", commit)
			fmt.Fprintf(out, "Build date: %s\n", orUnknown(kube.BuildDate))
			fmt.Fprintf(out, "Data format: %d\n", controlplane.FormatVersion)
			fmt.Fprintf(out, "Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
