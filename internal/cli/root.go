// Package cli builds the myriad command tree, one file per subcommand. It
// parses flags and prints; the work lives in pkg/.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Execute runs the command line and returns the process exit code. Errors
// are printed as one line naming what to fix, never with a usage dump.
func Execute() int {
	// Linked Kubernetes packages register flags such as --version on
	// pflag's global set at init, and cobra shows that set on every command.
	// Those flags belong to the upstream components, which run before this
	// point; myriad's own commands start from a clean set.
	pflag.CommandLine = pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
	root := NewRoot()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C asks for an orderly stop; the second must not be
	// swallowed while that stop waits on a child: once ctx is done the
	// default disposition is back and the process exits at once (children
	// follow through Pdeathsig).
	go func() { <-ctx.Done(); stop() }()
	cmd, err := root.ExecuteContextC(ctx)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "%s: %v (see '%s --help')\n", cmd.CommandPath(), err, cmd.CommandPath())
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", cmd.CommandPath(), err)
	default:
		return 0
	}
	return 1
}

// usageError marks a mistake on the command line, where pointing at --help
// helps; other errors stand alone.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// NewRoot returns the root command with every subcommand attached.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "myriad",
		Short:         "A Kubernetes platform for very large clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newUpCommand(), newNodesCommand(), newEtcdCommand(), newCertsCommand(), newVersionCommand(), newBenchCommand(), newSchedulerCommand(), newManagerCommand(), newStorageCommand(), newTenantCommand(), newTenantHostCommand(), newSyncerCommand())
	strictArgs(root)
	return root
}

// strictArgs makes every mistake in the words of a command line an error
// that exits non-zero. Cobra answers a command that only groups others
// (myriad, myriad bench) with its help and success whatever follows it, so
// `myriad tenant create x` would look to a script as if it had worked: such
// commands accept no arguments and print help only when given none. Every
// argument check is also a usage error, so its message points at --help.
func strictArgs(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.NoArgs
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	if check := c.Args; check != nil {
		c.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		strictArgs(sub)
	}
}
