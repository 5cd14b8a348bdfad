package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

func newCertsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check and renew the certificates of a 'myriad up' data directory",
		Long: `Every certificate of a data directory other than its certificate authorities
lasts a year; 'myriad up' re-issues any within 30 days of its end at start.
'check' lists them all, the cluster's and its tenants', with their ends;
'renew' re-issues every one of them now (the cluster must be stopped), and
the next 'myriad up' rewrites the kubeconfigs. Certificate authorities last
ten years and are never renewed on their own: 'myriad up' warns from a
year before one ends.`,
		Args: cobra.NoArgs,
	}
	var dataDir string
	check := &cobra.Command{
		Use:   "check",
		Short: "List every certificate with its identity, issuer and end; exit 1 if one has ended",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := controlplane.DataDir{Root: dataDir}
			if _, fresh, err := dir.Inspect(0); err != nil {
				return err
			} else if fresh {
				return fmt.Errorf("%s holds no cluster; pass the --data-dir of 'myriad up'", dataDir)
			}
			report, err := controlplane.CertReport(dir)
			if err != nil {
				return err
			}
			expired := printCerts(cmd, report, time.Now())
			if expired > 0 {
				return fmt.Errorf("%d certificate(s) have expired: run 'myriad certs renew --data-dir %s' with the cluster stopped", expired, dataDir)
			}
			return nil
		},
	}
	renew := &cobra.Command{
		Use:   "renew",
		Short: "Re-issue every certificate that is not a CA, with new keys (the cluster must be stopped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			report, err := controlplane.RenewCerts(controlplane.DataDir{Root: dataDir})
			if err != nil {
				return err
			}
			printCerts(cmd, report, time.Now())
			fmt.Fprintln(cmd.OutOrStdout(), "renewed; 'myriad up' uses them and rewrites the kubeconfigs")
			return nil
		},
	}
	for _, c := range []*cobra.Command{check, renew} {
		c.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory of the cluster ('myriad up --data-dir')")
	}
	cmd.AddCommand(check, renew)
	return cmd
}

// printCerts writes the table and returns how many have expired.
func printCerts(cmd *cobra.Command, report []pki.CertInfo, now time.Time) (expired int) {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CERTIFICATE\tIDENTITY\tISSUER\tEXPIRES\tLEFT\tSTATE")
	for _, c := range report {
		state := c.State(now)
		if state == "expired" {
			expired++
		}
		if c.IsCA {
			state += " (CA)"
		}
		file := c.File
		if c.Count > 1 {
			file += fmt.Sprintf(" (%d, first to end)", c.Count)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", file, c.Identity(), c.Issuer, c.NotAfter.Format("2006-01-02 15:04"), c.Left(now), state)
	}
	_ = w.Flush()
	return expired
}
