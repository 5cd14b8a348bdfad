// Package cli builds the myriad command tree, one file per subcommand. It
// parses flags and prints; the work lives in pkg/.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Execute runs the command line and returns the process exit code. Errors
// are printed as one line naming what to fix, never with a usage dump.
func Execute() int {
	root := NewRoot()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (see '%s --help')\n", cmd.CommandPath(), err, cmd.CommandPath())
		return 1
	}
	return 0
}

// NewRoot returns the root command with every subcommand attached.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "myriad",
		Short:         "A Kubernetes platform for very large clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	root.AddCommand(newUpCommand(), newNodesCommand(), newEtcdCommand(), newVersionCommand())
	return root
}
