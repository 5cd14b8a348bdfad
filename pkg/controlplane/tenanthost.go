package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/durable"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/supervisor"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// The tenant host: the side of multi-tenancy that runs control planes.
// `myriad up` runs one for its cluster; `myriad tenant-host` runs one on
// any machine, against any cluster (tenanthostrun.go).
//
// It watches Tenant objects on the cluster and, for each of its own (the
// Tenant's spec.host names it), provisions a
// control plane (tenantplan.go) as supervised processes, publishes the
// tenant's kubeconfigs in a Secret the syncer and `myriad tenant
// kubeconfig` read, and reports the result in the Tenant's status. On
// deletion (a finalizer holds the object) it stops the processes, deletes
// every super-cluster namespace the syncer made for the tenant and waits
// until they are gone, deletes the tenant's etcd keys and identity, and
// only then lets the Tenant go. It never touches a namespace that does not
// carry the tenant's label.

// TenantsGVR is the Tenant resource.
var TenantsGVR = tenancyv1.SchemeGroupVersion.WithResource("tenants")

// tenantFinalizer holds a deleted Tenant until its leftovers are gone.
const tenantFinalizer = "tenancy.myriad.dev/cleanup"

// TenantHosting is where a tenant host runs control planes.
type TenantHosting struct {
	// Name is the host's name: it serves the Tenants whose spec.host is
	// Name, and "" is the cluster's default host.
	Name string
	// Supervisor runs the tenants' processes.
	Supervisor *supervisor.Supervisor
	// Dir holds each tenant's files (Dir.TenantDir) and their logs, and
	// the etcd CA in Dir.PKI() that signs the tenants' etcd identities.
	Dir DataDir
	// Certs are etcd's CA and the host's own identity on etcd, which
	// holds the root role: it grants and revokes tenants' prefixes.
	Certs     Certs
	EtcdPorts []int
	// KubeletCA is given to the tenants' API servers for their virtual
	// nodes' kubelet (the syncer's kubelet proxy). Empty: no kubelet API.
	KubeletCA string
	// Address is the IP the tenants' API servers listen on and advertise
	// (127.0.0.1 when empty).
	Address string
	// Reserved are ports of the host's own components: no tenant gets one.
	Reserved []int
}

// DisplayName is the host's name in a Tenant's status.
func (h TenantHosting) DisplayName() string {
	if h.Name == "" {
		return "default"
	}
	return h.Name
}

// TenantHost provisions and removes tenant control planes.
type TenantHost struct {
	Hosting TenantHosting
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Out     io.Writer
	// ReadyTimeout bounds a tenant API server's start.
	ReadyTimeout time.Duration

	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	marks    provisionMarks
}

// startTenantHost runs the tenant host for the life of the cluster.
func (c *Cluster) startTenantHost(o Options) error {
	cfg, err := kubeclient.Config(c.Plan.Dir.SuperAdminKubeconfig(), kubeclient.Options{QPS: 50, Burst: 100, UserAgent: "myriad-tenant-host"})
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
	ctx, cancel := context.WithCancel(context.Background())
	c.cancelTenants = cancel
	hosting := TenantHosting{Supervisor: c.Supervisor, Dir: c.Plan.Dir, Certs: c.Plan.Certs, EtcdPorts: c.Plan.EtcdClientPorts(),
		KubeletCA: c.Plan.Certs.TenantKubeletCA, Reserved: c.Plan.Ports}
	h := &TenantHost{Hosting: hosting, Client: cs, Dynamic: dyn, Out: o.Out, ReadyTimeout: o.ReadyTimeout}
	go func() { _ = h.Run(ctx) }()
	return nil
}

// tenantState is what is kept of a tenant between runs: its ports, and the
// address its API server's certificate names (so a renewal keeps it).
type tenantState struct {
	APIPort               int    `json:"apiPort"`
	ControllerManagerPort int    `json:"controllerManagerPort"`
	Address               string `json:"address,omitempty"`
}

// Run serves Tenants until ctx ends. Two tenants are provisioned at once:
// each takes an API server start (seconds of CPU) on a small machine.
func (h *TenantHost) Run(ctx context.Context) error {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(h.Dynamic, 10*time.Minute)
	h.informer = factory.ForResource(TenantsGVR).Informer()
	h.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "tenants"})
	defer h.queue.ShutDown()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			h.queue.Add(key)
		}
	}
	if _, err := h.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), h.informer.HasSynced) {
		return ctx.Err()
	}
	for range 2 {
		go wait.UntilWithContext(ctx, h.work, time.Second)
	}
	<-ctx.Done()
	return nil
}

func (h *TenantHost) work(ctx context.Context) {
	for {
		name, quit := h.queue.Get()
		if quit {
			return
		}
		requeue, err := h.reconcile(ctx, name)
		switch {
		case err != nil:
			fmt.Fprintf(h.Out, "%s  tenant %s: %v\n", time.Now().Format(time.TimeOnly), name, err)
			h.queue.AddRateLimited(name)
		case requeue > 0:
			h.queue.Forget(name)
			h.queue.AddAfter(name, requeue)
		default:
			h.queue.Forget(name)
		}
		h.queue.Done(name)
	}
}

func (h *TenantHost) reconcile(ctx context.Context, name string) (time.Duration, error) {
	obj, exists, err := h.informer.GetStore().GetByKey(name)
	if err != nil || !exists {
		return 0, err
	}
	var t tenancyv1.Tenant
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.(*unstructured.Unstructured).Object, &t); err != nil {
		return 0, err
	}
	if t.Spec.Host != h.Hosting.Name {
		return 0, nil // another host's
	}
	if t.DeletionTimestamp != nil {
		return h.remove(ctx, &t)
	}
	if !hasString(t.Finalizers, tenantFinalizer) {
		t.Finalizers = append(t.Finalizers, tenantFinalizer)
		return 0, h.update(ctx, &t)
	}
	if err := tenancy.ValidateName(t.Name); err != nil {
		return 0, h.setStatus(ctx, &t, tenancyv1.TenantFailed, "InvalidName", err.Error())
	}
	// The host's own status write comes back as an event: a tenant
	// provisioned at this generation, whose processes run, is provisioned
	// again only when the drift repair is due.
	apiName, cmName := TenantProcessNames(t.Name)
	pids := h.Hosting.Supervisor.Pids()
	_, apiUp := pids[apiName]
	_, cmUp := pids[cmName]
	mark, marked := h.marks.get(t.Name)
	if skip, again := provisionedAgo(mark, marked, &t, apiUp && cmUp, time.Now()); skip {
		return again, nil
	}
	plan, err := h.provision(ctx, t.Name)
	if err != nil {
		_ = h.setStatus(ctx, &t, tenancyv1.TenantFailed, "ProvisioningFailed", err.Error())
		return 0, err
	}
	t.Status.Endpoint, t.Status.Host = plan.URL(), h.Hosting.DisplayName()
	t.Status.KubeconfigSecret = tenancy.KubeconfigSecret(t.Name)
	if err := h.setStatus(ctx, &t, tenancyv1.TenantReady, "ControlPlaneServing", "the tenant's API server and controller manager run"); err != nil {
		return 0, err
	}
	h.marks.record(&t, time.Now())
	return reprovisionEvery, nil
}

// provision makes the tenant's control plane exist and serve: files,
// etcd identity, processes, the syncer's RBAC inside the tenant and the
// kubeconfig Secret. Each step is idempotent, so a restart of `myriad up`
// (or a retry) repeats them harmlessly.
func (h *TenantHost) provision(ctx context.Context, name string) (TenantPlan, error) {
	host := h.Hosting
	t := TenantPlan{Name: name, Dir: host.Dir.TenantDir(name), EtcdPorts: host.EtcdPorts, EtcdCA: host.Certs.EtcdCA,
		KubeletCA: host.KubeletCA, Address: host.Address}
	for _, sub := range []string{"kubeconfigs", "pki"} {
		if err := os.MkdirAll(filepath.Join(t.Dir, sub), 0o700); err != nil {
			return t, err
		}
	}
	// A component between restarts leaves its port free, and so does a
	// stopped tenant: neither may be given to this one. Read only when a
	// new tenant's ports are chosen, not at every reconcile.
	avoid := func() []int { return append(slices.Clone(host.Reserved), tenantPorts(host.Dir)...) }
	state, err := loadTenantState(t.Dir, avoid)
	if err != nil {
		return t, err
	}
	t.APIPort, t.ControllerManagerPort = state.APIPort, state.ControllerManagerPort
	if state.Address != t.Address {
		// The host now listens elsewhere: the tenant follows it (its
		// certificate is reissued below, its processes start anew).
		state.Address = t.Address
		if err := saveTenantState(t.Dir, state); err != nil {
			return t, err
		}
	}
	if t.Certs, err = EnsureTenantCerts(t.Dir, host.Dir.PKI(), name, t.Address); err != nil {
		return t, err
	}
	if t.EncryptionConfig, err = EnsureEncryptionConfig(DataDir{Root: t.Dir}); err != nil {
		return t, err
	}
	for _, k := range []struct {
		who  string
		pair [2]string
		user string
	}{{"admin", t.Certs.Admin, TenantAdminUser}, {"super-admin", t.Certs.SuperAdmin, TenantSuperAdminUser}, {"controller-manager", t.Certs.ControllerManager, ControllerManagerUser}, {"syncer", t.Certs.Syncer, SyncerUser}} {
		if err := WriteKubeconfig(t.Kubeconfig(k.who), t.URL(), t.Certs.CA, k.pair[0], k.pair[1], k.user); err != nil {
			return t, err
		}
	}
	etcd, err := EtcdClient(host.Certs, host.EtcdPorts...)
	if err != nil {
		return t, err
	}
	defer etcd.Close()
	if err := GrantEtcdPrefix(ctx, etcd, TenantEtcdUser(name), TenantEtcdPrefix(name)); err != nil {
		return t, err
	}
	apiName, cmName := TenantProcessNames(name)
	running := host.Supervisor.Pids()
	if _, ok := running[apiName]; !ok {
		ready, err := httpsProbe(t.URL()+"/readyz", t.Certs.CA, t.Certs.SuperAdmin[0], t.Certs.SuperAdmin[1], "")
		if err != nil {
			return t, err
		}
		if err := h.start(ctx, supervisor.Process{Name: apiName, Ready: ready, Expendable: true,
			Args: append([]string{"kube-apiserver"}, t.APIServerArgs()...)}); err != nil {
			return t, err
		}
	}
	tenant, err := kubeclient.Clientset(t.Kubeconfig("super-admin"), kubeclient.Options{QPS: 50, Burst: 100, UserAgent: "myriad-tenant-host"})
	if err != nil {
		return t, err
	}
	if err := bindAdmins(ctx, tenant, filepath.Join(t.Dir, "pki", "admin-bound")); err != nil {
		return t, fmt.Errorf("tenant admin: %w", err)
	}
	if err := grant(ctx, tenant, SyncerUser, tenantSyncerRules, "", nil); err != nil {
		return t, fmt.Errorf("syncer's RBAC in the tenant: %w", err)
	}
	if _, ok := running[cmName]; !ok {
		ready, err := httpsProbe(fmt.Sprintf("https://127.0.0.1:%d/healthz", t.ControllerManagerPort), t.Certs.CA, t.Certs.SuperAdmin[0], t.Certs.SuperAdmin[1], "")
		if err != nil {
			return t, err
		}
		if err := h.start(ctx, supervisor.Process{Name: cmName, Ready: ready, Expendable: true,
			Args: append([]string{"kube-controller-manager"}, t.ControllerManagerArgs()...)}); err != nil {
			return t, err
		}
	}
	return t, h.publishKubeconfigs(ctx, t)
}

func (h *TenantHost) start(ctx context.Context, p supervisor.Process) error {
	p.LogFile = filepath.Join(h.Hosting.Dir.Logs(), p.Name+".log")
	began := time.Now()
	if err := h.Hosting.Supervisor.Start(ctx, p, h.ReadyTimeout); err != nil {
		_ = h.Hosting.Supervisor.Remove(p.Name)
		return err
	}
	fmt.Fprintf(h.Out, "%s  %s: ready (%.1fs)\n", time.Now().Format(time.TimeOnly), p.Name, time.Since(began).Seconds())
	return nil
}

// publishKubeconfigs writes the tenant's admin and syncer kubeconfigs to
// the Secret the syncer and `myriad tenant kubeconfig` read.
func (h *TenantHost) publishKubeconfigs(ctx context.Context, t TenantPlan) error {
	data := map[string][]byte{}
	for key, who := range map[string]string{tenancy.AdminKubeconfigKey: "admin", tenancy.SyncerKubeconfigKey: "syncer"} {
		raw, err := os.ReadFile(t.Kubeconfig(who))
		if err != nil {
			return err
		}
		data[key] = raw
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tenancy.KubeconfigSecret(t.Name), Namespace: tenancy.SystemNamespace,
		Labels: map[string]string{tenancy.LabelTenant: t.Name}}, Data: data}
	secrets := h.Client.CoreV1().Secrets(tenancy.SystemNamespace)
	return apply(ctx, s, secrets.Create, secrets.Update, secrets.Get)
}

// remove tears a deleted tenant down, and reports how long to wait when
// its namespaces are still going.
func (h *TenantHost) remove(ctx context.Context, t *tenancyv1.Tenant) (time.Duration, error) {
	h.marks.forget(t.Name)
	if !hasString(t.Finalizers, tenantFinalizer) {
		return 0, nil
	}
	if t.Status.Phase != tenancyv1.TenantTerminating {
		if err := h.setStatus(ctx, t, tenancyv1.TenantTerminating, "Deleting", "removing the tenant's control plane and its objects on the cluster"); err != nil {
			return 0, err
		}
	}
	apiName, cmName := TenantProcessNames(t.Name)
	for _, n := range []string{cmName, apiName} {
		if _, ok := h.Hosting.Supervisor.Pids()[n]; ok {
			if err := h.Hosting.Supervisor.Remove(n); err != nil {
				return 0, err
			}
		}
	}
	nss, err := h.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: tenancy.LabelTenant + "=" + t.Name})
	if err != nil {
		return 0, err
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp == nil {
			if err := h.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
		}
	}
	if len(nss.Items) > 0 {
		return 2 * time.Second, nil
	}
	secrets := h.Client.CoreV1().Secrets(tenancy.SystemNamespace)
	if err := secrets.Delete(ctx, tenancy.KubeconfigSecret(t.Name), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	host := h.Hosting
	etcd, err := EtcdClient(host.Certs, host.EtcdPorts...)
	if err != nil {
		return 0, err
	}
	defer etcd.Close()
	if _, err := etcd.Delete(ctx, TenantEtcdPrefix(t.Name), clientv3.WithPrefix()); err != nil {
		return 0, fmt.Errorf("delete the tenant's etcd keys: %w", err)
	}
	if err := RevokeEtcdUser(ctx, etcd, TenantEtcdUser(t.Name)); err != nil {
		return 0, err
	}
	if err := os.RemoveAll(host.Dir.TenantDir(t.Name)); err != nil {
		return 0, err
	}
	t.Finalizers = removeString(t.Finalizers, tenantFinalizer)
	if err := h.update(ctx, t); err != nil {
		return 0, err
	}
	fmt.Fprintf(h.Out, "%s  tenant %s: deleted\n", time.Now().Format(time.TimeOnly), t.Name)
	return 0, nil
}

func (h *TenantHost) update(ctx context.Context, t *tenancyv1.Tenant) error {
	u, err := toUnstructured(t)
	if err != nil {
		return err
	}
	_, err = h.Dynamic.Resource(TenantsGVR).Update(ctx, u, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (h *TenantHost) setStatus(ctx context.Context, t *tenancyv1.Tenant, phase tenancyv1.TenantPhase, reason, msg string) error {
	cond := metav1.Condition{Type: tenancyv1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: t.Generation}
	if phase == tenancyv1.TenantReady {
		cond.Status = metav1.ConditionTrue
	}
	before := t.Status.DeepCopy()
	t.Status.Phase, t.Status.ObservedGeneration = phase, t.Generation
	meta.SetStatusCondition(&t.Status.Conditions, cond)
	if equalStatus(before, &t.Status) {
		return nil
	}
	u, err := toUnstructured(t)
	if err != nil {
		return err
	}
	_, err = h.Dynamic.Resource(TenantsGVR).UpdateStatus(ctx, u, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func equalStatus(a, b *tenancyv1.TenantStatus) bool {
	ra, _ := json.Marshal(a)
	rb, _ := json.Marshal(b)
	return string(ra) == string(rb)
}

func toUnstructured(t *tenancyv1.Tenant) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(t)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(tenancyv1.SchemeGroupVersion.WithKind("Tenant"))
	return u, nil
}

// loadTenantState reads the tenant's ports, choosing and saving them the
// first time, none of avoid's (nil: none to avoid).
func loadTenantState(dir string, avoid func() []int) (tenantState, error) {
	path := filepath.Join(dir, "tenant.json")
	var s tenantState
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, fmt.Errorf("%s is damaged (%v); delete the tenant and create it again", path, err)
		}
		return s, nil
	case !errors.Is(err, os.ErrNotExist):
		return s, err
	}
	var taken []int
	if avoid != nil {
		taken = avoid()
	}
	ports, err := FreePorts(2, taken...)
	if err != nil {
		return s, err
	}
	s = tenantState{APIPort: ports[0], ControllerManagerPort: ports[1]}
	return s, saveTenantState(dir, s)
}

func saveTenantState(dir string, s tenantState) error {
	raw, _ := json.Marshal(s)
	return durable.WriteFile(filepath.Join(dir, "tenant.json"), raw, 0o600)
}

// tenantAddress is the address the tenant in dir was last served on
// ("" when unknown: loopback).
func tenantAddress(dir string) string {
	var s tenantState
	raw, err := os.ReadFile(filepath.Join(dir, "tenant.json"))
	if err != nil || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s.Address
}

// tenantPorts are the ports every tenant of the data directory keeps;
// a tenant whose state cannot be read has none yet.
func tenantPorts(d DataDir) []int {
	files, _ := filepath.Glob(filepath.Join(d.TenantDir("*"), "tenant.json"))
	var ports []int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		var s tenantState
		if err == nil && json.Unmarshal(raw, &s) == nil {
			ports = append(ports, s.APIPort, s.ControllerManagerPort)
		}
	}
	return ports
}

func hasString(list []string, s string) bool { return slices.Contains(list, s) }

func removeString(list []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == s })
}
