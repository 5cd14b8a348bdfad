package cli

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/config"
	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/durable"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/tenancy/admin"
)

func newTenantCommand() *cobra.Command {
	var kubeconfig string
	client := func(cmd *cobra.Command) (*admin.Client, error) {
		cfg, err := kubeclient.Config(kubeconfig, kubeclient.Options{UserAgent: "myriad-tenant"})
		if err != nil {
			return nil, err
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		return &admin.Client{Dynamic: dyn, Core: cs, Out: cmd.OutOrStdout()}, nil
	}
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Create, list and delete virtual clusters (tenants) on a shared cluster",
		Long: `A tenant is a virtual cluster: its own kube-apiserver and
kube-controller-manager, CA, admin kubeconfig and service-account keys, its
state on an etcd under a prefix only it can reach: run by 'myriad up' on the
cluster's own etcd, or by a 'myriad tenant-host' (any cluster, any machine)
on that host's. Inside, it is
plain Kubernetes (its own namespaces, CRDs, RBAC, workloads); its pods run
on the shared cluster, placed there by the syncer ('myriad syncer') in
namespaces that belong to it alone, and it sees the nodes they landed on.`,
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the shared cluster (default: $KUBECONFIG or ~/.kube/config)")

	var weight int32
	var host string
	var wait time.Duration
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a tenant and wait until its control plane serves",
		Example: "  myriad tenant create team-a\n  myriad tenant kubeconfig team-a > team-a.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if weight < 1 || weight > 100 {
				return usageError{fmt.Errorf("--weight must be between 1 and 100, got %d", weight)}
			}
			c, err := client(cmd)
			if err != nil {
				return err
			}
			t, err := c.Create(cmd.Context(), args[0], tenancyv1.TenantSpec{Weight: weight, Host: host}, wait)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s %s at %s\n  myriad tenant kubeconfig %s > %s.kubeconfig\n", t.Name, t.Status.Phase, t.Status.Endpoint, t.Name, t.Name)
			return nil
		},
	}
	create.Flags().Int32Var(&weight, "weight", 1, "the tenant's share of the syncer's work when tenants compete (1-100)")
	create.Flags().StringVar(&host, "host", "", "the tenant host to run its control plane ('myriad tenant-host --name'); default: the cluster's own")
	create.Flags().DurationVar(&wait, "wait", 3*time.Minute, "how long to wait for the control plane (0: do not wait)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ts, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tPHASE\tWEIGHT\tHOST\tENDPOINT\tAGE")
			for _, t := range ts {
				host := t.Spec.Host
				if host == "" {
					host = "default"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", t.Name, t.Status.Phase, t.Spec.Weight, host, t.Status.Endpoint,
					duration.HumanDuration(time.Since(t.CreationTimestamp.Time)))
			}
			return w.Flush()
		},
	}

	var delWait time.Duration
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a tenant, its control plane and everything it placed on the shared cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), args[0], delWait); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s deleted\n", args[0])
			return nil
		},
	}
	del.Flags().DurationVar(&delWait, "wait", 3*time.Minute, "how long to wait until everything is removed (0: do not wait)")

	var out string
	kc := &cobra.Command{
		Use:     "kubeconfig NAME",
		Short:   "Print a tenant's admin kubeconfig",
		Example: "  myriad tenant kubeconfig team-a > team-a.kubeconfig\n  myriad tenant kubeconfig team-a -o team-a.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Kubeconfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(raw)
				return err
			}
			// It holds a private key.
			if err := durable.WriteFile(out, raw, 0o600); err != nil {
				return fmt.Errorf("-o %s: %w", out, err)
			}
			fmt.Fprintf(os.Stderr, "wrote %s\n", out)
			return nil
		},
	}
	kc.Flags().StringVarP(&out, "output", "o", "", "write to this file (mode 0600) instead of standard output")
	crd := &cobra.Command{
		Use:     "crd",
		Short:   "Print the Tenant CustomResourceDefinition, for a cluster 'myriad up' did not start",
		Example: "  myriad tenant crd | kubectl apply --server-side -f -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := config.CRDs.ReadFile("crd/tenancy.myriad.dev_tenants.yaml")
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(raw)
			return err
		},
	}
	cmd.AddCommand(create, list, del, kc, crd)
	return cmd
}
