package controlplane

import (
	"fmt"
	"net"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// Identities of the components. Each has its own certificate so that RBAC
// grants each only what it needs; the built-in ClusterRoles of Kubernetes
// already bind the controller-manager and scheduler names below.
const (
	// EtcdClientName and EtcdPeerName are the only client identities etcd
	// accepts (on its client and peer ports).
	EtcdClientName = "kube-apiserver-etcd-client"
	EtcdPeerName   = "etcd-peer"

	// AdminUser is the admin kubeconfig's user. It is in AdminGroup,
	// which the ClusterRoleBinding of that name makes cluster-admin
	// through RBAC (as kubeadm's admin.conf since 1.29): deleting the
	// binding revokes every admin certificate, and the admin's requests
	// go through authorization, API Priority and Fairness and audit like
	// any user's. SuperAdminUser is the break-glass identity in
	// system:masters, which nothing can revoke: `up` binds AdminGroup
	// with it, and its kubeconfig is for emergencies only.
	AdminUser             = "myriad-admin"
	AdminGroup            = "myriad:cluster-admins"
	SuperAdminUser        = "myriad-super-admin"
	ControllerManagerUser = "system:kube-controller-manager"
	SchedulerUser         = "system:kube-scheduler"
	NodeSimUser           = "myriad:nodesim"
	// KubeletClientUser is the API server's identity toward kubelets
	// (--kubelet-client-certificate): the simulated nodes' kubelet API
	// admits it and nobody else.
	KubeletClientUser = "kube-apiserver-kubelet-client"
	// ServiceClusterIPRange gives the "kubernetes" Service 10.96.0.1.
	ServiceClusterIPRange = "10.96.0.0/16"
	kubernetesServiceIP   = "10.96.0.1"
)

// Certs lists every file the components read.
type Certs struct {
	CA, FrontProxyCA string
	// EtcdCA signs etcd's server, peer and client certificates and nothing
	// else, as kubeadm's etcd/ca does: etcd trusts only it, so no identity
	// the cluster CA signs (components, approved CSRs) can reach etcd
	// around the API server's authorization.
	EtcdCA string
	// TenantKubeletCA signs the serving certificates of the syncer's
	// kubelet proxy (EnsureTenantKubeletServingCerts) and nothing else:
	// tenants' API servers trust it for their virtual nodes' kubelets,
	// and nothing trusts it as a client.
	TenantKubeletCA                             string
	APIServerCert, APIServerKey                 string
	EtcdServerCert, EtcdServerKey               string
	EtcdPeerCert, EtcdPeerKey                   string
	EtcdClientCert, EtcdClientKey               string
	FrontProxyClientCert, FrontProxyClientKey   string
	ControllerManagerCert, ControllerManagerKey string
	SchedulerCert, SchedulerKey                 string
	WebhookCert, WebhookKey                     string
	// The serving certificates of the simulator's, storage's and the
	// syncer's own endpoints (/metrics, probes); myriad-scheduler serves
	// with kube-scheduler's, whose place it takes.
	NodesCert, NodesKey                  string
	StorageCert, StorageKey              string
	SyncerCert, SyncerKey                string
	MetricsServerCert, MetricsServerKey  string
	KubeletClientCert, KubeletClientKey  string
	WebhookClientCert, WebhookClientKey  string
	CAKey                                string
	ServiceAccountKey, ServiceAccountPub string
	clients                              map[string][2]string
}

// Client returns the client certificate and key issued for user.
func (c Certs) Client(user string) (cert, key string) {
	p := c.clients[user]
	return p[0], p[1]
}

// EnsureCerts issues whatever is missing under d.PKI(). Existing valid
// certificates are kept, so a restart keeps every kubeconfig working.
// apiIPs are extra addresses the API server certificate must name, for
// clients that reach it through a non-loopback --bind-address.
func EnsureCerts(d DataDir, apiIPs ...net.IP) (Certs, error) {
	dir := d.PKI()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "myriad-ca")
	if err != nil {
		return Certs{}, err
	}
	fpCA, err := pki.LoadOrCreateCA(dir, "front-proxy-ca", "myriad-front-proxy-ca")
	if err != nil {
		return Certs{}, err
	}
	// Data directories from before etcd had its own CA get their etcd
	// certificates reissued from it: EnsureCert keeps only pairs signed by
	// the CA it is asked for.
	etcdCA, err := pki.LoadOrCreateCA(dir, "etcd-ca", "myriad-etcd-ca")
	if err != nil {
		return Certs{}, err
	}
	tenantKubeletCA, err := pki.LoadOrCreateCA(dir, tenantKubeletCAName, "myriad-tenant-kubelet-ca")
	if err != nil {
		return Certs{}, err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	c := Certs{CA: ca.CertFile, CAKey: dir + "/ca.key", FrontProxyCA: fpCA.CertFile, EtcdCA: etcdCA.CertFile,
		TenantKubeletCA: tenantKubeletCA.CertFile, clients: map[string][2]string{}}

	type issue struct {
		ca        *pki.CA
		name      string
		req       pki.Request
		cert, key *string
	}
	apiIPs = append(append([]net.IP{net.ParseIP(kubernetesServiceIP)}, loopback...), apiIPs...)
	issues := []issue{
		{ca, "apiserver", pki.Request{CommonName: "kube-apiserver", Server: true, IPs: apiIPs,
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
			&c.APIServerCert, &c.APIServerKey},
		{etcdCA, "etcd-server", pki.Request{CommonName: "etcd-server", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.EtcdServerCert, &c.EtcdServerKey},
		{etcdCA, "etcd-peer", pki.Request{CommonName: EtcdPeerName, Server: true, Client: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.EtcdPeerCert, &c.EtcdPeerKey},
		{etcdCA, "apiserver-etcd-client", pki.Request{CommonName: EtcdClientName, Client: true}, &c.EtcdClientCert, &c.EtcdClientKey},
		{fpCA, "front-proxy-client", pki.Request{CommonName: "front-proxy-client", Client: true}, &c.FrontProxyClientCert, &c.FrontProxyClientKey},
		{ca, "controller-manager-serving", pki.Request{CommonName: "kube-controller-manager", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.ControllerManagerCert, &c.ControllerManagerKey},
		{ca, "scheduler-serving", pki.Request{CommonName: "kube-scheduler", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.SchedulerCert, &c.SchedulerKey},
		// Not in system:masters: it only ever talks to kubelets, which
		// authorize it by name.
		{ca, "apiserver-kubelet-client", pki.Request{CommonName: KubeletClientUser, Client: true}, &c.KubeletClientCert, &c.KubeletClientKey},
		// Nor this one: the manager's webhook admits only it.
		{ca, "apiserver-webhook-client", pki.Request{CommonName: WebhookClientUser, Client: true}, &c.WebhookClientCert, &c.WebhookClientKey},
		// The aggregator checks the name of the Service it reaches
		// metrics-server through (metricsserver.go).
		{ca, "metrics-server-serving", pki.Request{CommonName: "metrics-server", Server: true, IPs: loopback,
			DNSNames: []string{"localhost", metricsServerName + ".kube-system.svc"}}, &c.MetricsServerCert, &c.MetricsServerKey},
		{ca, "manager-webhook", pki.Request{CommonName: "myriad-manager-webhook", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.WebhookCert, &c.WebhookKey},
		{ca, "nodes-serving", pki.Request{CommonName: "myriad-nodes", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.NodesCert, &c.NodesKey},
		{ca, "storage-serving", pki.Request{CommonName: "myriad-storage", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.StorageCert, &c.StorageKey},
		{ca, "syncer-serving", pki.Request{CommonName: "myriad-syncer", Server: true, IPs: loopback, DNSNames: []string{"localhost"}}, &c.SyncerCert, &c.SyncerKey},
	}
	for _, is := range issues {
		if *is.cert, *is.key, err = is.ca.EnsureCert(dir, is.name, is.req); err != nil {
			return Certs{}, err
		}
	}
	for _, u := range []struct{ file, cn, org string }{
		{"admin", AdminUser, AdminGroup},
		{"super-admin", SuperAdminUser, "system:masters"},
		{"controller-manager", ControllerManagerUser, ""},
		{"scheduler", SchedulerUser, ""},
		{"nodesim", NodeSimUser, ""},
		{"manager", ManagerUser, ""},
		{"storage", StorageUser, ""},
		{"metrics-server", MetricsServerUser, ""},
		{"syncer", SyncerUser, ""},
	} {
		var orgs []string
		if u.org != "" {
			orgs = []string{u.org}
		}
		cert, key, err := ca.EnsureCert(dir, u.file+"-client", pki.Request{CommonName: u.cn, Organization: orgs, Client: true})
		if err != nil {
			return Certs{}, fmt.Errorf("client certificate for %s: %w", u.cn, err)
		}
		c.clients[u.cn] = [2]string{cert, key}
	}
	if c.ServiceAccountKey, c.ServiceAccountPub, err = pki.EnsureKeyPair(dir, "sa"); err != nil {
		return Certs{}, err
	}
	return c, nil
}

const tenantKubeletCAName = "tenant-kubelet-ca"

// EnsureTenantKubeletServingCerts issues the syncer's kubelet proxy its
// serving certificates, one per node address as for the simulated
// kubelets, from the tenants' kubelet CA, with a key of its own: the
// proxy answers tenants' API servers on the nodes' addresses, and holds
// neither a CA key nor the simulated kubelets' key.
func EnsureTenantKubeletServingCerts(d DataDir, nodes int) (certFile, keyFile string, err error) {
	ca, err := pki.LoadOrCreateCA(d.PKI(), tenantKubeletCAName, "myriad-tenant-kubelet-ca")
	if err != nil {
		return "", "", err
	}
	return ca.EnsureServingBundle(d.PKI(), "tenant-kubelet-serving", nodeAddresses(nodes))
}

// nodeAddresses are simulated nodes 0..nodes-1's addresses.
func nodeAddresses(nodes int) []net.IP {
	ips := make([]net.IP, nodes)
	for i := range ips {
		ips[i] = net.IP(nodesim.NodeAddress(i).AsSlice())
	}
	return ips
}

// EnsureNodeServingCerts issues the kubelet serving certificates of
// simulated nodes 0..nodes-1 (one per node address) from the cluster CA, so
// the node simulator can serve the kubelet API without the CA key.
func EnsureNodeServingCerts(d DataDir, nodes int) (certFile, keyFile string, err error) {
	ca, err := pki.LoadOrCreateCA(d.PKI(), "ca", "myriad-ca")
	if err != nil {
		return "", "", err
	}
	return ca.EnsureServingBundle(d.PKI(), "kubelet-serving", nodeAddresses(nodes))
}
