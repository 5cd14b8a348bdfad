package syncer

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// object is a typed Kubernetes object pointer.
type object interface {
	comparable
	metav1.Object
	runtime.Object
}

// superAPI is the part of a typed namespaced client syncDown uses.
type superAPI[T object] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
	Get(context.Context, string, metav1.GetOptions) (T, error)
}

// downOps describe one kind for syncDown.
type downOps[T object] struct {
	kind      kind
	tenant    func(ns, name string) (T, error) // lister
	super     func(ns, name string) (T, error) // lister
	api       func(ns string) superAPI[T]
	skip      func(T) bool
	translate func(tenant, superNamespace string, src T) T
	// update returns live changed to match desired, whether it changed,
	// and whether only a new object can carry the change.
	update func(live, desired T) (T, bool, bool)
}

// syncDown makes the super copy of one tenant object match it: created
// under its own name in the mapped namespace, updated, replaced when it
// is from an earlier incarnation (another UID), deleted when the tenant
// object is gone.
func syncDown[T object](ctx context.Context, s *Syncer, tc *tenantCluster, ops downOps[T], ns, name string) error {
	var zero T
	superNs := tenancy.SuperNamespace(tc.name, ns)
	src, err := ops.tenant(ns, name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	live, err := ops.super(superNs, name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	api := ops.api(superNs)
	if src == zero || src.GetDeletionTimestamp() != nil || ops.skip(src) {
		if live != zero && isCopy(live, tc.name) {
			return s.deleteSuper(ctx, tc, ops.kind, live, func(o metav1.DeleteOptions) error { return api.Delete(ctx, name, o) })
		}
		return nil
	}
	if err := s.ensureNamespace(ctx, tc, ns); err != nil {
		return err
	}
	desired := ops.translate(tc.name, superNs, src)
	if live == zero {
		_, err := api.Create(ctx, desired, metav1.CreateOptions{})
		if err == nil {
			s.synced(tc.name, ops.kind)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return s.rejected(tc, src, ops.kind, "create", err)
		}
		// Our cache is behind, or someone else made it: look at it.
		if live, err = api.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
	if !isCopy(live, tc.name) {
		tc.recorder.Eventf(src, corev1.EventTypeWarning, "SyncError",
			"%s %s/%s exists on the super cluster and was not made from this object; it is left alone and this object is not synced",
			ops.kind, superNs, name)
		return fmt.Errorf("%s %s/%s: %w", ops.kind, superNs, name, errNotYet)
	}
	if !sameOrigin(live, src) {
		if err := s.deleteSuper(ctx, tc, ops.kind, live, func(o metav1.DeleteOptions) error { return api.Delete(ctx, name, o) }); err != nil {
			return err
		}
		return fmt.Errorf("replace %s %s/%s of an earlier incarnation: %w", ops.kind, superNs, name, errNotYet)
	}
	out, changed, recreate := ops.update(live, desired)
	switch {
	case !changed:
		return nil
	case recreate:
		if err := s.deleteSuper(ctx, tc, ops.kind, live, func(o metav1.DeleteOptions) error { return api.Delete(ctx, name, o) }); err != nil {
			return err
		}
		return fmt.Errorf("recreate %s %s/%s: %w", ops.kind, superNs, name, errNotYet)
	}
	if _, err := api.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
		return s.rejected(tc, src, ops.kind, "update", err)
	}
	s.synced(tc.name, ops.kind)
	return nil
}

// isCopy says whether a super object is a copy this tenant's syncer made
// of a tenant object of the same kind (not, say, a pod's token Secret).
func isCopy(obj metav1.Object, tenant string) bool {
	return ownedBy(obj, tenant) && obj.GetLabels()[LabelRole] == ""
}

// deleteSuper deletes a super object, only the incarnation that was read.
func (s *Syncer) deleteSuper(ctx context.Context, tc *tenantCluster, k kind, live metav1.Object, del func(metav1.DeleteOptions) error) error {
	var o metav1.DeleteOptions
	if uid := live.GetUID(); uid != "" {
		o.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	if err := del(o); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s/%s: %w", k, live.GetNamespace(), live.GetName(), err)
	}
	s.synced(tc.name, k)
	return nil
}

// rejected records, on the tenant object, a super-cluster write that was
// refused (quota, admission, policy): the tenant's users see why their
// object does not run instead of a silent drop. The error is returned so
// the key is retried with backoff.
func (s *Syncer) rejected(tc *tenantCluster, src runtime.Object, k kind, verb string, err error) error {
	if isRejection(err) {
		tc.recorder.Eventf(src, corev1.EventTypeWarning, "SyncError", "super cluster refused to %s %s: %v", verb, k, err)
	}
	return fmt.Errorf("%s %s: %w", verb, k, err)
}

// isRejection: the super API server understood the write and refused it.
// Missing objects, conflicts, throttling and a namespace being torn down
// are passing states retried quietly.
func isRejection(err error) bool {
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		return false
	}
	code := st.Status().Code
	switch {
	case code < 400 || code >= 500:
		return false
	case code == http.StatusNotFound, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return false
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return false
	}
	return true
}

// ensureNamespace makes the super namespace of tenant namespace ns, or
// refuses one that exists with another origin (tenancy.OwnsNamespace).
func (s *Syncer) ensureNamespace(ctx context.Context, tc *tenantCluster, ns string) error {
	src, err := tc.namespaces.Get(ns)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("tenant namespace %s: %w", ns, errNotYet)
		}
		return err
	}
	superNs := tenancy.SuperNamespace(tc.name, ns)
	live, err := s.super.namespaces.Get(superNs)
	if apierrors.IsNotFound(err) {
		desired := translateNamespace(tc.name, src)
		if _, err = s.o.Super.CoreV1().Namespaces().Create(ctx, desired, metav1.CreateOptions{}); err == nil {
			s.synced(tc.name, kindNamespace)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return s.rejected(tc, src, kindNamespace, "create", err)
		}
		live, err = s.o.Super.CoreV1().Namespaces().Get(ctx, superNs, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	if !tenancy.OwnsNamespace(live.Labels, live.Annotations, tc.name, ns) {
		tc.recorder.Eventf(src, corev1.EventTypeWarning, "SyncError",
			"super-cluster namespace %s exists and does not belong to this namespace; nothing in it is synced", superNs)
		return fmt.Errorf("super namespace %s has another origin: %w", superNs, errNotYet)
	}
	if live.DeletionTimestamp != nil {
		return fmt.Errorf("super namespace %s is terminating: %w", superNs, errNotYet)
	}
	if uid := live.Annotations[tenancy.AnnotationUID]; uid != "" && uid != string(src.UID) {
		// Left by an earlier namespace of the same name: its contents are
		// not this one's.
		if err := s.deleteSuper(ctx, tc, kindNamespace, live, func(o metav1.DeleteOptions) error {
			return s.o.Super.CoreV1().Namespaces().Delete(ctx, superNs, o)
		}); err != nil {
			return err
		}
		return fmt.Errorf("super namespace %s of an earlier incarnation: %w", superNs, errNotYet)
	}
	return nil
}

// syncNamespace makes or removes the super namespace of one tenant
// namespace.
func (s *Syncer) syncNamespace(ctx context.Context, tc *tenantCluster, ns string) error {
	src, err := tc.namespaces.Get(ns)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if src != nil && src.DeletionTimestamp == nil {
		return s.ensureNamespace(ctx, tc, ns)
	}
	superNs := tenancy.SuperNamespace(tc.name, ns)
	live, err := s.super.namespaces.Get(superNs)
	if err != nil || live.DeletionTimestamp != nil || !tenancy.OwnsNamespace(live.Labels, live.Annotations, tc.name, ns) {
		return nil
	}
	return s.deleteSuper(ctx, tc, kindNamespace, live, func(o metav1.DeleteOptions) error {
		return s.o.Super.CoreV1().Namespaces().Delete(ctx, superNs, o)
	})
}

// syncService places a tenant Service on the super cluster, then reports
// the cluster IPs its copy got there (serviceip.go).
func (s *Syncer) syncService(ctx context.Context, tc *tenantCluster, ns, name string) error {
	if err := syncDown(ctx, s, tc, downOps[*corev1.Service]{
		kind:   kindService,
		tenant: func(ns, n string) (*corev1.Service, error) { return tc.services.Services(ns).Get(n) },
		super:  func(ns, n string) (*corev1.Service, error) { return s.super.services.Services(ns).Get(n) },
		api:    func(ns string) superAPI[*corev1.Service] { return s.o.Super.CoreV1().Services(ns) },
		skip:   skipService, translate: translateService,
		update: func(l, d *corev1.Service) (*corev1.Service, bool, bool) {
			out, changed := serviceUpdate(l, d)
			return out, changed, false
		},
	}, ns, name); err != nil {
		return err
	}
	return s.syncServiceIP(ctx, tc, ns, name)
}

func (s *Syncer) syncConfigMap(ctx context.Context, tc *tenantCluster, ns, name string) error {
	return syncDown(ctx, s, tc, downOps[*corev1.ConfigMap]{
		kind:   kindConfigMap,
		tenant: func(ns, n string) (*corev1.ConfigMap, error) { return tc.configMaps.ConfigMaps(ns).Get(n) },
		super:  func(ns, n string) (*corev1.ConfigMap, error) { return s.super.configMaps.ConfigMaps(ns).Get(n) },
		api:    func(ns string) superAPI[*corev1.ConfigMap] { return s.o.Super.CoreV1().ConfigMaps(ns) },
		skip:   skipConfigMap, translate: translateConfigMap, update: configMapUpdate,
	}, ns, name)
}

func (s *Syncer) syncSecret(ctx context.Context, tc *tenantCluster, ns, name string) error {
	return syncDown(ctx, s, tc, downOps[*corev1.Secret]{
		kind:   kindSecret,
		tenant: func(ns, n string) (*corev1.Secret, error) { return tc.secrets.Secrets(ns).Get(n) },
		super:  func(ns, n string) (*corev1.Secret, error) { return s.super.secrets.Secrets(ns).Get(n) },
		api:    func(ns string) superAPI[*corev1.Secret] { return s.o.Super.CoreV1().Secrets(ns) },
		skip:   skipSecret, translate: translateSecret, update: secretUpdate,
	}, ns, name)
}

// syncPVC places a tenant claim on the super cluster, then binds the
// tenant's claim to a mirror of the volume its copy got (volumes.go).
func (s *Syncer) syncPVC(ctx context.Context, tc *tenantCluster, ns, name string) error {
	if err := syncDown(ctx, s, tc, downOps[*corev1.PersistentVolumeClaim]{
		kind: kindPVC,
		tenant: func(ns, n string) (*corev1.PersistentVolumeClaim, error) {
			return tc.claims.PersistentVolumeClaims(ns).Get(n)
		},
		super: func(ns, n string) (*corev1.PersistentVolumeClaim, error) {
			return s.super.claims.PersistentVolumeClaims(ns).Get(n)
		},
		api: func(ns string) superAPI[*corev1.PersistentVolumeClaim] {
			return s.o.Super.CoreV1().PersistentVolumeClaims(ns)
		},
		skip: func(*corev1.PersistentVolumeClaim) bool { return false }, translate: translatePVC,
		update: func(l, d *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, bool, bool) {
			out, changed := pvcUpdate(l, d)
			return out, changed, false
		},
	}, ns, name); err != nil {
		return err
	}
	return s.syncClaimUp(ctx, tc, ns, name)
}
