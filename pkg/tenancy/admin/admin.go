// Package admin is what `myriad tenant` does against a cluster: create,
// list and delete Tenants, wait for them, and read a tenant's admin
// kubeconfig. It speaks only to the cluster's API (Tenant objects and the
// kubeconfig Secret the tenant host publishes), so it works against any
// cluster where Myriad's tenancy runs, and it never touches a tenant's
// control plane or etcd itself.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	tenancyv1 "github.com/myriad-dev/myriad/pkg/apis/tenancy/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/tenancy"
)

var tenantsGVR = tenancyv1.SchemeGroupVersion.WithResource("tenants")

// Client manages tenants on one cluster.
type Client struct {
	Dynamic dynamic.Interface
	Core    kubernetes.Interface
	// Out receives progress lines while waiting.
	Out io.Writer
	// Poll is how often a wait looks again (default 500ms).
	Poll time.Duration
}

// ErrNoTenancy says the cluster does not serve the Tenant API.
var ErrNoTenancy = errors.New("this cluster does not serve tenancy.myriad.dev Tenants: start it with 'myriad up' (or install Myriad's tenancy)")

// Create makes the Tenant name with spec, and waits until it is Ready or
// Failed, or wait passes (0: do not wait).
func (c *Client) Create(ctx context.Context, name string, spec tenancyv1.TenantSpec, wait time.Duration) (*tenancyv1.Tenant, error) {
	if err := tenancy.ValidateName(name); err != nil {
		return nil, err
	}
	if spec.Host != "" {
		if err := tenancy.ValidateHostName(spec.Host); err != nil {
			return nil, err
		}
	}
	t := &tenancyv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	t.SetGroupVersionKind(tenancyv1.SchemeGroupVersion.WithKind("Tenant"))
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(t)
	if err != nil {
		return nil, err
	}
	if _, err := c.Dynamic.Resource(tenantsGVR).Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err):
			return nil, fmt.Errorf("tenant %q already exists; choose another name or 'myriad tenant delete %s' first", name, name)
		case apierrors.IsNotFound(err):
			return nil, ErrNoTenancy
		}
		return nil, err
	}
	if wait == 0 {
		return c.Get(ctx, name)
	}
	return c.waitReady(ctx, name, spec.Host, wait)
}

func (c *Client) waitReady(ctx context.Context, name, host string, wait time.Duration) (*tenancyv1.Tenant, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// A Failed tenant is retried by the host with backoff, so Failed is
	// reported and waited on like any other phase until the time is up.
	began, last, why := time.Now(), "", ""
	for {
		t, err := c.Get(ctx, name)
		if err == nil {
			now := string(phaseOrPending(t.Status.Phase))
			if t.Status.Phase == tenancyv1.TenantFailed {
				why = readyMessage(t)
				now += ": " + why
			}
			if now != last && c.Out != nil {
				fmt.Fprintf(c.Out, "  tenant %s: %s (%.1fs)\n", name, now, time.Since(began).Seconds())
			}
			last = now
			if t.Status.Phase == tenancyv1.TenantReady {
				return t, nil
			}
		} else if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if err := c.sleep(ctx); err != nil {
			if why != "" {
				return nil, fmt.Errorf("tenant %s not Ready after %s: %s", name, wait, why)
			}
			who := "is 'myriad up' (or a 'myriad tenant-host' without --name) running?"
			if host != "" {
				who = fmt.Sprintf("is 'myriad tenant-host --name %s' running?", host)
			}
			return nil, fmt.Errorf("tenant %s not Ready after %s (%s); %s", name, wait, phaseOrPending(tenancyv1.TenantPhase(last)), who)
		}
	}
}

// Get returns one tenant.
func (c *Client) Get(ctx context.Context, name string) (*tenancyv1.Tenant, error) {
	u, err := c.Dynamic.Resource(tenantsGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return fromUnstructured(u)
}

// List returns every tenant.
func (c *Client) List(ctx context.Context) ([]tenancyv1.Tenant, error) {
	l, err := c.Dynamic.Resource(tenantsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, ErrNoTenancy
		}
		return nil, err
	}
	out := make([]tenancyv1.Tenant, 0, len(l.Items))
	for i := range l.Items {
		t, err := fromUnstructured(&l.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, nil
}

// Delete deletes the tenant and waits (up to wait; 0: not at all) until
// the tenant host has removed everything it had and the object is gone.
func (c *Client) Delete(ctx context.Context, name string, wait time.Duration) error {
	if err := c.Dynamic.Resource(tenantsGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no tenant %q ('myriad tenant list' shows them)", name)
		}
		return err
	}
	if wait == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		_, err := c.Get(ctx, name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err := c.sleep(ctx); err != nil {
			return fmt.Errorf("tenant %s still being removed after %s; is 'myriad up' running?", name, wait)
		}
	}
}

// Kubeconfig returns the tenant's admin kubeconfig.
func (c *Client) Kubeconfig(ctx context.Context, name string) ([]byte, error) {
	if err := tenancy.ValidateName(name); err != nil {
		return nil, err
	}
	s, err := c.Core.CoreV1().Secrets(tenancy.SystemNamespace).Get(ctx, tenancy.KubeconfigSecret(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, terr := c.Get(ctx, name); apierrors.IsNotFound(terr) {
			return nil, fmt.Errorf("no tenant %q ('myriad tenant list' shows them)", name)
		}
		return nil, fmt.Errorf("tenant %s has no kubeconfig yet: it is not Ready ('myriad tenant list' shows its phase)", name)
	}
	if err != nil {
		return nil, err
	}
	raw := s.Data[tenancy.AdminKubeconfigKey]
	if len(raw) == 0 {
		return nil, fmt.Errorf("secret %s/%s holds no %s", tenancy.SystemNamespace, s.Name, tenancy.AdminKubeconfigKey)
	}
	return raw, nil
}

func (c *Client) sleep(ctx context.Context) error {
	poll := c.Poll
	if poll == 0 {
		poll = 500 * time.Millisecond
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(poll):
		return nil
	}
}

func fromUnstructured(u *unstructured.Unstructured) (*tenancyv1.Tenant, error) {
	var t tenancyv1.Tenant
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", u.GetName(), err)
	}
	return &t, nil
}

func phaseOrPending(p tenancyv1.TenantPhase) tenancyv1.TenantPhase {
	if p == "" {
		return tenancyv1.TenantPending
	}
	return p
}

func readyMessage(t *tenancyv1.Tenant) string {
	for _, c := range t.Status.Conditions {
		if c.Type == tenancyv1.ConditionReady {
			return c.Message
		}
	}
	return "no reason given"
}

// GVR is the Tenant resource, for fake clients in tests.
func GVR() schema.GroupVersionResource { return tenantsGVR }
