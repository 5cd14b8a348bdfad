package controlplane

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

// A tenant's control plane, as files and command lines.
//
// Each tenant of `myriad up` gets a kube-apiserver and a
// kube-controller-manager of the cluster's own version, run by the same
// supervisor as every other component. Its state lives on the shared etcd
// under EtcdPrefix, reached with an etcd identity of its own that etcd's
// auth confines to that prefix (etcdauth.go); everything else is its own:
// a CA, service-account keys, a Secrets encryption key, an admin identity.
// Its files live in <data-dir>/tenants/<name>/.

// Identities inside a tenant.
const (
	// TenantAdminUser is the tenant's owner: in AdminGroup of the tenant,
	// which the tenant host binds to cluster-admin once (so deleting that
	// binding revokes the admin certificate), and of nothing else: the
	// tenant CA signs it. It is what `myriad tenant kubeconfig` hands out.
	TenantAdminUser = "myriad-tenant-admin"
	// TenantSuperAdminUser is in the tenant's system:masters: the tenant
	// host's own identity in it, kept in the data directory only.
	TenantSuperAdminUser = "myriad-tenant-super-admin"
	// SyncerUser is the syncer's identity, both on the super cluster and
	// inside each tenant.
	SyncerUser = "myriad:syncer"
)

// tenantControllers are kube-controller-manager's controllers in a tenant:
// all but those that manage nodes and volumes. A tenant's nodes are
// virtual (the syncer keeps them, with the placement of the tenant's pods
// on the super cluster), so the node lifecycle controller would only mark
// them NotReady and evict; volumes are bound and attached by the super
// cluster and mirrored by the syncer.
var tenantControllers = "*,-node-lifecycle-controller,-node-ipam-controller,-ttl-controller,-taint-eviction-controller," +
	"-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller,-persistentvolume-expander-controller," +
	"-bootstrap-signer-controller,-token-cleaner-controller"

// TenantPlan is one tenant's control plane.
type TenantPlan struct {
	Name string
	// Dir is <data-dir>/tenants/<name>.
	Dir string
	// APIPort and ControllerManagerPort are the tenant's loopback ports,
	// chosen once and kept (tenant.json), so its kubeconfigs stay valid.
	APIPort, ControllerManagerPort int
	// EtcdPorts (every member's client port) and EtcdCA are the shared
	// etcd's.
	EtcdPorts []int
	EtcdCA    string
	// KubeletCA is the cluster's tenant kubelet CA (Certs.TenantKubeletCA):
	// the tenant's API server verifies its virtual nodes' kubelet, the
	// syncer's kubelet proxy, with it. Empty: no kubelet API.
	KubeletCA string
	// Address is the IP the API server listens on and advertises:
	// 127.0.0.1 when empty (loopback unless the host is told otherwise).
	Address string
	Certs   TenantCerts
	// EncryptionConfig encrypts the tenant's Secrets with its own key.
	EncryptionConfig string
}

// TenantCerts are the files of a tenant's PKI.
type TenantCerts struct {
	CA, CAKey                                   string
	APIServerCert, APIServerKey                 string
	ControllerManagerCert, ControllerManagerKey string
	ServiceAccountKey, ServiceAccountPub        string
	// EtcdClientCert is signed by the shared etcd's CA for the tenant's
	// etcd user (TenantEtcdUser).
	EtcdClientCert, EtcdClientKey string
	// Admin, SuperAdmin, ControllerManager, Syncer and KubeletClient are
	// client certificate/key pairs of the tenant CA; KubeletClient is the
	// API server's toward kubelets, which the syncer's kubelet proxy
	// admits by that CA and name.
	Admin, SuperAdmin, ControllerManager, Syncer, KubeletClient [2]string
}

// TenantEtcdUser is the etcd user (certificate common name) of tenant.
func TenantEtcdUser(tenant string) string { return "myriad-tenant-" + tenant }

// TenantEtcdPrefix is the etcd key prefix holding all of tenant's state;
// its API server stores under TenantEtcdPrefix+"registry".
func TenantEtcdPrefix(tenant string) string { return "/tenants/" + tenant + "/" }

// TenantDir is where the tenant's files live.
func (d DataDir) TenantDir(tenant string) string { return filepath.Join(d.Root, "tenants", tenant) }

// TenantProcessNames are the supervisor's names for the tenant's API
// server and controller manager.
func TenantProcessNames(tenant string) (apiserver, controllerManager string) {
	return "tenant-" + tenant + "-apiserver", "tenant-" + tenant + "-controller-manager"
}

// EnsureTenantCerts issues whatever is missing of tenant's PKI under dir,
// and its etcd client certificate from the shared etcd's CA in superPKI.
// The API server's certificate names loopback and address, if one is given.
func EnsureTenantCerts(dir, superPKI, tenant, address string) (TenantCerts, error) {
	pkiDir := filepath.Join(dir, "pki")
	ca, err := pki.LoadOrCreateCA(pkiDir, "ca", "myriad-tenant-"+tenant+"-ca")
	if err != nil {
		return TenantCerts{}, err
	}
	etcdCA, err := pki.LoadOrCreateCA(superPKI, "etcd-ca", "myriad-etcd-ca")
	if err != nil {
		return TenantCerts{}, err
	}
	c := TenantCerts{CA: ca.CertFile, CAKey: filepath.Join(pkiDir, "ca.key")}
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	serving := append([]net.IP{net.ParseIP(kubernetesServiceIP)}, loopback...)
	if ip := net.ParseIP(address); ip != nil && !ip.IsLoopback() {
		serving = append(serving, ip)
	}
	type issue struct {
		ca        *pki.CA
		dir, name string
		req       pki.Request
		cert, key *string
	}
	for _, is := range []issue{
		{ca, pkiDir, "apiserver", pki.Request{CommonName: "kube-apiserver", Server: true,
			IPs:      serving,
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
			&c.APIServerCert, &c.APIServerKey},
		{ca, pkiDir, "controller-manager-serving", pki.Request{CommonName: "kube-controller-manager", Server: true, IPs: loopback, DNSNames: []string{"localhost"}},
			&c.ControllerManagerCert, &c.ControllerManagerKey},
		{ca, pkiDir, "admin-client", pki.Request{CommonName: TenantAdminUser, Organization: []string{AdminGroup}, Client: true}, &c.Admin[0], &c.Admin[1]},
		{ca, pkiDir, "super-admin-client", pki.Request{CommonName: TenantSuperAdminUser, Organization: []string{"system:masters"}, Client: true}, &c.SuperAdmin[0], &c.SuperAdmin[1]},
		{ca, pkiDir, "controller-manager-client", pki.Request{CommonName: ControllerManagerUser, Client: true}, &c.ControllerManager[0], &c.ControllerManager[1]},
		{ca, pkiDir, "syncer-client", pki.Request{CommonName: SyncerUser, Client: true}, &c.Syncer[0], &c.Syncer[1]},
		{ca, pkiDir, "apiserver-kubelet-client", pki.Request{CommonName: KubeletClientUser, Client: true}, &c.KubeletClient[0], &c.KubeletClient[1]},
		{etcdCA, pkiDir, "etcd-client", pki.Request{CommonName: TenantEtcdUser(tenant), Client: true}, &c.EtcdClientCert, &c.EtcdClientKey},
	} {
		if *is.cert, *is.key, err = is.ca.EnsureCert(is.dir, is.name, is.req); err != nil {
			return TenantCerts{}, fmt.Errorf("tenant %s: %s certificate: %w", tenant, is.name, err)
		}
	}
	if c.ServiceAccountKey, c.ServiceAccountPub, err = pki.EnsureKeyPair(pkiDir, "sa"); err != nil {
		return TenantCerts{}, err
	}
	return c, nil
}

// URL is the tenant API server's address.
func (t TenantPlan) URL() string {
	return "https://" + net.JoinHostPort(t.address(), strconv.Itoa(t.APIPort))
}

func (t TenantPlan) address() string {
	if t.Address == "" {
		return "127.0.0.1"
	}
	return t.Address
}

// Kubeconfig is the path of the tenant kubeconfig for who ("admin", "super-admin",
// "controller-manager", "syncer").
func (t TenantPlan) Kubeconfig(who string) string {
	return filepath.Join(t.Dir, "kubeconfigs", who+".kubeconfig")
}

// APIServerArgs is the tenant's kube-apiserver command line. It differs
// from the super cluster's in what isolates it: its own CA, keys and etcd
// identity and prefix, RBAC only (no Node authorizer: a tenant has no
// kubelets), kubelet client credentials of its own CA that only the
// syncer's kubelet proxy accepts (which takes logs and exec on to the
// super cluster's API server), and no compaction of its own: revisions are
// the shared etcd's, which the super cluster's API server compacts.
func (t TenantPlan) APIServerArgs() []string {
	c := t.Certs
	var kubelet []string
	if t.KubeletCA != "" {
		kubelet = []string{"--kubelet-client-certificate=" + c.KubeletClient[0], "--kubelet-client-key=" + c.KubeletClient[1],
			"--kubelet-certificate-authority=" + t.KubeletCA, "--kubelet-preferred-address-types=InternalIP,Hostname"}
	}
	return append([]string{
		"--bind-address=" + t.address(),
		"--secure-port=" + strconv.Itoa(t.APIPort),
		"--advertise-address=" + t.address(),
		"--etcd-servers=" + strings.Join(etcdEndpoints(t.EtcdPorts), ","),
		"--etcd-cafile=" + t.EtcdCA,
		"--etcd-certfile=" + c.EtcdClientCert,
		"--etcd-keyfile=" + c.EtcdClientKey,
		"--etcd-prefix=" + TenantEtcdPrefix(t.Name) + "registry",
		"--etcd-compaction-interval=0",
		"--tls-cert-file=" + c.APIServerCert,
		"--tls-private-key-file=" + c.APIServerKey,
		"--client-ca-file=" + c.CA,
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--allow-privileged=true",
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.ServiceAccountPub,
		"--service-account-signing-key-file=" + c.ServiceAccountKey,
		"--encryption-provider-config=" + t.EncryptionConfig,
		"--encryption-provider-config-automatic-reload=true",
		"--endpoint-reconciler-type=none",
		// A tenant is small: a tenth of the super cluster's concurrency
		// keeps a busy tenant from taking the machine.
		"--max-requests-inflight=200",
		"--max-mutating-requests-inflight=100",
		"--profiling=false",
		"--v=1",
	}, kubelet...)
}

// ControllerManagerArgs is the tenant's kube-controller-manager command
// line: one replica, no leader election, the tenant's controllers.
func (t TenantPlan) ControllerManagerArgs() []string {
	kc := t.Kubeconfig("controller-manager")
	c := t.Certs
	return []string{
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(t.ControllerManagerPort),
		"--tls-cert-file=" + c.ControllerManagerCert,
		"--tls-private-key-file=" + c.ControllerManagerKey,
		"--client-ca-file=" + c.CA,
		"--kubeconfig=" + kc,
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + c.ServiceAccountKey,
		"--root-ca-file=" + c.CA,
		"--cluster-signing-cert-file=" + c.CA,
		"--cluster-signing-key-file=" + c.CAKey,
		"--controllers=" + tenantControllers,
		"--leader-elect=false",
		"--kube-api-qps=100",
		"--kube-api-burst=200",
		"--profiling=false",
		"--v=1",
	}
}
