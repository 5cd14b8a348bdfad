package syncer

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/tenancy"
)

// syncPod makes the super pod of a tenant pod, keeps what may change in
// place in step, and plays the kubelet's part in the tenant pod's
// deletion: stop the super pod within the tenant's grace period, then
// confirm the tenant pod's deletion once the super pod is gone.
func (s *Syncer) syncPod(ctx context.Context, tc *tenantCluster, ns, name string) error {
	superNs := tenancy.SuperNamespace(tc.name, ns)
	src, err := tc.pods.Pods(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	live, err := s.super.pods.Pods(superNs).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	api := s.o.Super.CoreV1().Pods(superNs)
	del := func(o metav1.DeleteOptions) error { return api.Delete(ctx, name, o) }
	switch {
	case live != nil && !isCopy(live, tc.name):
		if src != nil {
			tc.recorder.Eventf(src, corev1.EventTypeWarning, "SyncError",
				"pod %s/%s exists on the super cluster and was not made from this pod; this pod does not run", superNs, name)
		}
		return nil // never touched; looked at again at the next resync
	case src == nil:
		if live != nil {
			if err := s.deleteSuper(ctx, tc, kindPod, live, del); err != nil {
				return err
			}
		}
		return s.deleteToken(ctx, tc, superNs, name)
	case live != nil && !sameOrigin(live, src):
		zero := int64(0)
		if err := s.deleteSuper(ctx, tc, kindPod, live, func(o metav1.DeleteOptions) error {
			o.GracePeriodSeconds = &zero
			return del(o)
		}); err != nil {
			return err
		}
		return fmt.Errorf("replace pod %s/%s of an earlier incarnation: %w", superNs, name, errNotYet)
	case src.DeletionTimestamp != nil:
		if live != nil {
			if live.DeletionTimestamp != nil {
				return nil // its deletion will bring us back
			}
			return s.deleteSuper(ctx, tc, kindPod, live, func(o metav1.DeleteOptions) error {
				o.GracePeriodSeconds = src.DeletionGracePeriodSeconds
				return del(o)
			})
		}
		if err := s.deleteToken(ctx, tc, superNs, name); err != nil {
			return err
		}
		return s.confirmTenantPodDeletion(ctx, tc, src)
	case live == nil && (src.Status.Phase == corev1.PodSucceeded || src.Status.Phase == corev1.PodFailed):
		return nil // finished; nothing to run again
	case live == nil && src.Spec.NodeName != "" && reported(src):
		// Its super pod ran and is gone: the tenant pod is lost, as on a
		// failed node; the upward sync deletes it.
		s.enqueue(key{Tenant: tc.name, Kind: kindPodStatus, Namespace: ns, Name: name})
		return nil
	}

	if err := s.ensureNamespace(ctx, tc, ns); err != nil {
		return err
	}
	secret, refreshAt, err := s.ensureToken(ctx, tc, superNs, src)
	if err != nil {
		return err
	}
	if !refreshAt.IsZero() {
		s.queue.AddAfter(key{Tenant: tc.name, Kind: kindPod, Namespace: ns, Name: name}, refreshAt.Sub(s.o.Clock.Now()))
	}
	desired := translatePod(tc.name, superNs, src, secret)
	if live == nil {
		_, err := api.Create(ctx, desired, metav1.CreateOptions{})
		if err == nil {
			s.synced(tc.name, kindPod)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return s.rejected(tc, src, kindPod, "create", err)
		}
		if live, err = api.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
		if !isCopy(live, tc.name) {
			tc.recorder.Eventf(src, corev1.EventTypeWarning, "SyncError",
				"pod %s/%s exists on the super cluster and was not made from this pod; this pod does not run", superNs, name)
			return fmt.Errorf("pod %s/%s: %w", superNs, name, errNotYet)
		}
		if !sameOrigin(live, src) {
			return fmt.Errorf("pod %s/%s of an earlier incarnation: %w", superNs, name, errNotYet)
		}
	}
	out, changed := podUpdate(live, desired)
	if !changed || live.DeletionTimestamp != nil {
		return nil
	}
	if _, err := api.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
		return s.rejected(tc, src, kindPod, "update", err)
	}
	s.synced(tc.name, kindPod)
	return nil
}

// reported says whether a super pod ever reported status to the tenant
// pod, telling a pod the syncer bound from one a user bound by hand.
func reported(p *corev1.Pod) bool { return p.Status.StartTime != nil || p.Status.HostIP != "" }

// confirmTenantPodDeletion is the kubelet's final, zero-grace deletion of
// a terminating pod, for this incarnation only.
func (s *Syncer) confirmTenantPodDeletion(ctx context.Context, tc *tenantCluster, p *corev1.Pod) error {
	zero := int64(0)
	err := tc.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete tenant pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	s.synced(tc.name, kindPodStatus)
	return nil
}

// ensureToken writes the Secret that stands in for the pod's projected
// service-account token, requesting a new token from the tenant when the
// pod is new or the token is due for renewal (at 80% of its life, as the
// kubelet does). It returns the Secret's name and when to renew; an empty
// name if the pod mounts no token.
func (s *Syncer) ensureToken(ctx context.Context, tc *tenantCluster, superNs string, pod *corev1.Pod) (string, time.Time, error) {
	ta, ok := findTokenVolume(pod)
	if !ok {
		return "", time.Time{}, nil
	}
	name := tokenSecretName(pod.Name)
	now := s.o.Clock.Now()
	live, err := s.super.secrets.Secrets(superNs).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return "", time.Time{}, err
	}
	if live != nil {
		if !ownedBy(live, tc.name) || live.Labels[LabelRole] != RolePodToken {
			tc.recorder.Eventf(pod, corev1.EventTypeWarning, "SyncError",
				"secret %s/%s, where this pod's service-account token goes, is taken by another object", superNs, name)
			return "", time.Time{}, fmt.Errorf("token secret %s/%s taken: %w", superNs, name, errNotYet)
		}
		if at := tokenRefreshAt(live); sameOrigin(live, pod) && now.Before(at) {
			return name, at, nil
		}
	}
	ca, err := tc.configMaps.ConfigMaps(pod.Namespace).Get("kube-root-ca.crt")
	if err != nil {
		return "", time.Time{}, fmt.Errorf("tenant CA for pod %s/%s: %w", pod.Namespace, pod.Name, errNotYet)
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &ta.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if ta.Audience != "" {
		req.Spec.Audiences = []string{ta.Audience}
	}
	tr, err := tc.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("request token of service account %s/%s for pod %s: %w", pod.Namespace, sa, pod.Name, err)
	}
	if tr.Status.Token == "" {
		return "", time.Time{}, fmt.Errorf("tenant returned an empty token for service account %s/%s", pod.Namespace, sa)
	}
	refreshAt := now.Add(time.Duration(ta.ExpirationSeconds) * time.Second * 8 / 10)
	desired := tokenSecret(tc.name, superNs, pod, []byte(tr.Status.Token), []byte(ca.Data[caKey]), refreshAt)
	api := s.o.Super.CoreV1().Secrets(superNs)
	if live == nil {
		if _, err := api.Create(ctx, desired, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return "", time.Time{}, fmt.Errorf("token secret %s/%s: %w", superNs, name, errNotYet)
			}
			return "", time.Time{}, s.rejected(tc, pod, kindSecret, "create token", err)
		}
	} else {
		out := live.DeepCopy()
		out.Labels, out.Annotations, out.Data = desired.Labels, desired.Annotations, desired.Data
		if _, err := api.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
			return "", time.Time{}, s.rejected(tc, pod, kindSecret, "update token", err)
		}
	}
	s.synced(tc.name, kindSecret)
	return name, refreshAt, nil
}

// deleteToken removes a pod's token Secret.
func (s *Syncer) deleteToken(ctx context.Context, tc *tenantCluster, superNs, pod string) error {
	name := tokenSecretName(pod)
	live, err := s.super.secrets.Secrets(superNs).Get(name)
	if err != nil || !ownedBy(live, tc.name) || live.Labels[LabelRole] != RolePodToken {
		return nil
	}
	return s.deleteSuper(ctx, tc, kindSecret, live, func(o metav1.DeleteOptions) error {
		return s.o.Super.CoreV1().Secrets(superNs).Delete(ctx, name, o)
	})
}
