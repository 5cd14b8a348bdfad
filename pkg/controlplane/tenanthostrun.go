package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/supervisor"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// A tenant host on its own: `myriad tenant-host`.
//
// It serves the Tenants of any cluster, one `myriad up` did not start
// included: it needs only a kubeconfig of that cluster and a data
// directory of its own. Tenants' state cannot live on that cluster's etcd
// (another cluster's etcd is not ours to reach), so the host runs an etcd
// of its own, the same embedded member `myriad up` runs, with the same
// TLS and auth: each tenant's API server reaches only its own prefix, and
// the host's identity holds root. Nothing else compacts that etcd (tenant
// API servers never compact: revisions are shared), so etcd compacts
// itself every TenantEtcdCompaction.
//
// On the cluster the host needs: Tenants (get, list, watch, update, and
// their status), Secrets in tenancy.SystemNamespace, and namespaces (list,
// delete: a deleted tenant's). It installs no CRD and grants no RBAC.

// TenantEtcdCompaction is how much history the tenant host's etcd keeps;
// the API server's own compaction interval is the same.
const TenantEtcdCompaction = 5 * time.Minute

// HostOptions configure `myriad tenant-host`.
type HostOptions struct {
	// Kubeconfig reaches the cluster whose Tenants the host serves.
	Kubeconfig string
	DataDir    string
	// Name is the host's name (Tenants' spec.host); "" is the default host.
	Name string
	// EtcdPort is the host's etcd client port (peer: the next); 0 chooses
	// a free one the first time. The data directory keeps it.
	EtcdPort int
	// Address is the IP tenants' API servers listen on and advertise.
	Address string
	// KubeletCA, when set, is the CA of the syncer's kubelet proxy's
	// serving certificates, given to the tenants' API servers.
	KubeletCA    string
	Binary       string
	Out          io.Writer
	ReadyTimeout time.Duration
}

// Validate says, in one line, what to fix in o.
func (o HostOptions) Validate() error {
	switch {
	case o.DataDir == "":
		return errors.New("--data-dir is required: the host keeps its etcd and its tenants' files there")
	case o.EtcdPort < 0 || o.EtcdPort > 65534:
		return fmt.Errorf("--etcd-port must be between 1 and 65534 (0 chooses one), got %d", o.EtcdPort)
	case net.ParseIP(o.Address) == nil:
		return fmt.Errorf("--address must be an IP address, got %q", o.Address)
	}
	if o.Name != "" {
		if err := tenancy.ValidateHostName(o.Name); err != nil {
			return fmt.Errorf("--name: %w", err)
		}
	}
	if o.KubeletCA != "" {
		if _, err := os.Stat(o.KubeletCA); err != nil {
			return fmt.Errorf("--kubelet-ca: %v", err)
		}
	}
	return nil
}

// RunTenantHost serves tenants until ctx ends, then stops their control
// planes and its etcd. It returns early with an error when the data
// directory, the etcd or the cluster cannot be used.
func RunTenantHost(ctx context.Context, o HostOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	dir := DataDir{Root: o.DataDir}
	release, stamp, err := openHostDir(dir, o.EtcdPort)
	if err != nil {
		return err
	}
	defer release()
	if err := dir.MakeDirs(); err != nil {
		return fmt.Errorf("prepare %s: %w", o.DataDir, err)
	}
	// The whole PKI of a data directory is issued, though only etcd's
	// part is used here: one layout for both kinds of directory keeps
	// `myriad certs check` and renewal the same.
	certs, err := EnsureCerts(dir)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	cfg, err := kubeclient.Config(o.Kubeconfig, kubeclient.Options{QPS: 50, Burst: 100, UserAgent: "myriad-tenant-host"})
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := checkTenantAPI(ctx, dyn, cs); err != nil {
		return err
	}

	events := make(chan supervisor.Event, 64)
	go printEvents(o.Out, events)
	sup := &supervisor.Supervisor{Binary: o.Binary, Events: events, StopTimeout: 20 * time.Second}
	defer sup.Stop()
	plan := Plan{Dir: dir, Certs: certs, EtcdPort: stamp.EtcdPort, EtcdMembers: 1}
	etcd, err := etcdProcess(Options{DataDir: o.DataDir, EtcdPort: stamp.EtcdPort, EtcdQuota: DefaultEtcdQuota}, plan, 0, "")
	if err != nil {
		return err
	}
	etcd.Args = append(etcd.Args, "--compaction-retention", TenantEtcdCompaction.String())
	etcd.LogFile = filepath.Join(dir.Logs(), "etcd.log")
	began := time.Now()
	if err := sup.Start(ctx, etcd, o.ReadyTimeout); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "  etcd ready on 127.0.0.1:%d (%.1fs)\n", stamp.EtcdPort, time.Since(began).Seconds())
	if err := enableEtcdAuth(ctx, certs, plan.EtcdClientPorts()); err != nil {
		return err
	}
	client, peer := EtcdMemberPorts(stamp.EtcdPort, 0)
	hosting := TenantHosting{Name: o.Name, Supervisor: sup, Dir: dir, Certs: certs, EtcdPorts: plan.EtcdClientPorts(),
		KubeletCA: o.KubeletCA, Address: o.Address, Reserved: []int{client, peer}}
	h := &TenantHost{Hosting: hosting, Client: cs, Dynamic: dyn, Out: o.Out, ReadyTimeout: o.ReadyTimeout}
	fmt.Fprintf(o.Out, "myriad tenant-host %s: serving tenants whose spec.host is %q, data in %s\n", hosting.DisplayName(), o.Name, o.DataDir)
	failed := make(chan error, 1)
	go func() {
		select {
		case err := <-sup.Failed():
			// A tenant's crash loop is its own (its processes are
			// expendable); etcd's ends the host.
			failed <- err
		case <-ctx.Done():
		}
	}()
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = h.Run(hctx) }()
	select {
	case <-ctx.Done():
		fmt.Fprintf(o.Out, "myriad tenant-host: stopping the tenants' control planes and etcd; their state stays in %s\n", o.DataDir)
		return nil
	case err := <-failed:
		return err
	}
}

// openHostDir opens (creating it if new) and locks a tenant host's data
// directory, refusing a cluster's, and returns its stamp with the etcd
// port it keeps.
func openHostDir(dir DataDir, etcdPort int) (release func(), _ Stamp, err error) {
	stamp, fresh, err := dir.Inspect(etcdPort)
	if err != nil {
		return nil, stamp, err
	}
	if !fresh && stamp.Role != RoleTenantHost {
		return nil, stamp, fmt.Errorf("data directory %s holds a cluster of 'myriad up', not a tenant host; choose another --data-dir", dir.Root)
	}
	if !fresh && etcdPort != 0 && stamp.EtcdPort != etcdPort {
		return nil, stamp, fmt.Errorf("data directory %s was created with --etcd-port %d; etcd keeps its address, so use that port", dir.Root, stamp.EtcdPort)
	}
	if fresh {
		if err := dir.Create(); err != nil {
			return nil, stamp, err
		}
	}
	if release, err = dir.Lock(); err != nil {
		return nil, stamp, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	if fresh {
		stamp.Role = RoleTenantHost
		if stamp.EtcdPort == 0 {
			if stamp.EtcdPort, err = freeEtcdPort(); err != nil {
				return nil, stamp, err
			}
		}
	}
	client, peer := EtcdMemberPorts(stamp.EtcdPort, 0)
	for _, p := range []int{client, peer} {
		if err := CheckPortFree("127.0.0.1", p, "--etcd-port"); err != nil {
			return nil, stamp, err
		}
	}
	if fresh || stamp.Upgraded {
		if err := dir.WriteStamp(stamp); err != nil {
			return nil, stamp, err
		}
	}
	return release, stamp, nil
}

// checkTenantAPI fails with what to do when the cluster does not serve
// Tenants, or the host's identity cannot list them, before anything starts.
// The namespace of kubeconfig Secrets is made if missing.
func checkTenantAPI(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface) error {
	_, err := dyn.Resource(TenantsGVR).List(ctx, metav1.ListOptions{Limit: 1})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("the cluster does not serve %s: install it first with 'myriad tenant crd | kubectl apply --server-side -f -'", TenantsGVR.GroupResource())
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return fmt.Errorf("the --kubeconfig identity may not list %s: %v", TenantsGVR.GroupResource(), err)
	case err != nil:
		return fmt.Errorf("reach the cluster: %w", err)
	}
	if err := ensureNamespace(ctx, cs, tenancy.SystemNamespace); err != nil {
		return fmt.Errorf("namespace %s, where tenants' kubeconfigs are kept: %w", tenancy.SystemNamespace, err)
	}
	return nil
}

// freeEtcdPort is a free client port whose peer port (the next) is free too.
func freeEtcdPort() (int, error) {
	var tried []int
	for range 20 {
		ports, err := FreePorts(1, tried...)
		if err != nil {
			return 0, err
		}
		if CheckPortFree("127.0.0.1", ports[0]+1, "") == nil {
			return ports[0], nil
		}
		tried = append(tried, ports[0], ports[0]+1)
	}
	return 0, errors.New("no two free ports in a row for etcd; choose --etcd-port")
}
