package sidecarset

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// Enforcer closes the window between a SidecarSet's creation and its
// injection coming into force. The controller writes a SidecarSet's
// policy once it sees the SidecarSet, and the API server applies a policy
// once its own informer and policy refresh see it; pods created meanwhile,
// by a Deployment created in the same breath as the SidecarSet (as
// OpenKruise's users and its own end-to-end specs do: OpenKruise's pod
// webhook reads SidecarSets from an informer, a far shorter window), would
// miss their sidecars. So the SidecarSet's admission calls Enforce, which
// writes the policy first and waits, a bounded time, until a dry-run pod the
// SidecarSet selects comes back injected.
//
// The policy is written without an owner (the SidecarSet has no UID yet);
// the controller adds it, and removes an ownerless policy whose SidecarSet
// never came to be (orphanGrace). Enforce never fails an admission: if the
// policy cannot be written or checked, the controller's path still applies
// it, and pods that miss it are reported by PodsInjected=False.
type Enforcer struct {
	Kube kubernetes.Interface
	// Wait bounds how long Enforce waits for the policy to be in force;
	// Poll is how often it looks.
	Wait, Poll time.Duration
}

// orphanGrace is how long a policy written at admission may stay without
// its SidecarSet: far longer than any admission takes.
const orphanGrace = 30 * time.Second

// Enforce writes ss's injection policy and waits until the API server
// applies it, or Wait passes. It returns whether it saw it in force.
func (e Enforcer) Enforce(ctx context.Context, ss *v1beta1.SidecarSet) bool {
	log := klog.FromContext(ctx).WithValues("sidecarSet", ss.Name)
	if ss.Spec.InjectionStrategy.Paused || ss.Spec.InjectionStrategy.Revision != nil {
		return false // nothing to inject yet, or a pin only the controller resolves
	}
	policy, binding, err := Compile(ss)
	if err != nil {
		return false // the controller reports it on the SidecarSet
	}
	policy.OwnerReferences, binding.OwnerReferences = nil, nil
	if err := e.apply(ctx, policy, binding); err != nil {
		log.Info("Injection policy not written at admission; the controller will", "err", err)
		return false
	}
	probe, err := e.probePod(ctx, ss)
	if err != nil || probe == nil {
		return false
	}
	deadline := time.Now().Add(e.Wait)
	for {
		got, err := e.Kube.CoreV1().Pods(probe.Namespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			log.V(2).Info("Cannot check the injection policy with a dry-run pod", "namespace", probe.Namespace, "err", err)
			return false
		}
		if injected(got, ss) {
			return true
		}
		if time.Now().After(deadline) {
			log.Info("Injection policy not yet in force when admitting the SidecarSet", "waited", e.Wait)
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(e.Poll):
		}
	}
}

func (e Enforcer) apply(ctx context.Context, policy *admissionregistrationv1.MutatingAdmissionPolicy, binding *admissionregistrationv1.MutatingAdmissionPolicyBinding) error {
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: ptr.To(true)}
	body, err := json.Marshal(policy)
	if err != nil {
		return err
	}
	if _, err := e.Kube.AdmissionregistrationV1().MutatingAdmissionPolicies().Patch(ctx, policy.Name, types.ApplyPatchType, body, opts); err != nil {
		return fmt.Errorf("apply MutatingAdmissionPolicy %s: %w", policy.Name, err)
	}
	if body, err = json.Marshal(binding); err != nil {
		return err
	}
	if _, err := e.Kube.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Patch(ctx, binding.Name, types.ApplyPatchType, body, opts); err != nil {
		return fmt.Errorf("apply MutatingAdmissionPolicyBinding %s: %w", binding.Name, err)
	}
	return nil
}

// probePod is a pod ss selects, in a namespace it covers, for a dry-run
// create; nil when there is no such namespace yet.
func (e Enforcer) probePod(ctx context.Context, ss *v1beta1.SidecarSet) (*corev1.Pod, error) {
	ns := ss.Spec.Namespace
	if ns == "" && ss.Spec.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(ss.Spec.NamespaceSelector)
		if err != nil {
			return nil, err
		}
		list, err := e.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel.String(), Limit: 1})
		if err != nil || len(list.Items) == 0 {
			return nil, err
		}
		ns = list.Items[0].Name
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	labels := selectedLabels(ss.Spec.Selector)
	if labels == nil {
		return nil, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "sidecarset-probe-", Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "myriad-sidecarset-probe", Image: "probe"}}},
	}, nil
}

// selectedLabels are labels that sel matches, or nil if it can match
// none this way.
func selectedLabels(sel *metav1.LabelSelector) map[string]string {
	if sel == nil {
		return nil
	}
	labels := map[string]string{}
	for k, v := range sel.MatchLabels {
		labels[k] = v
	}
	for _, r := range sel.MatchExpressions {
		switch r.Operator {
		case metav1.LabelSelectorOpIn:
			if len(r.Values) == 0 {
				return nil
			}
			if v, ok := labels[r.Key]; ok && !slices.Contains(r.Values, v) {
				return nil
			}
			if _, ok := labels[r.Key]; !ok {
				labels[r.Key] = r.Values[0]
			}
		case metav1.LabelSelectorOpExists:
			if _, ok := labels[r.Key]; !ok {
				labels[r.Key] = "probe"
			}
		case metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpDoesNotExist:
			if _, ok := labels[r.Key]; ok && (r.Operator == metav1.LabelSelectorOpDoesNotExist || slices.Contains(r.Values, labels[r.Key])) {
				return nil
			}
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || !s.Matches(k8slabels.Set(labels)) {
		return nil
	}
	return labels
}

// injected: every sidecar of ss is in pod.
func injected(pod *corev1.Pod, ss *v1beta1.SidecarSet) bool {
	has := func(cs []corev1.Container, name string) bool {
		return slices.ContainsFunc(cs, func(c corev1.Container) bool { return c.Name == name })
	}
	for _, c := range ss.Spec.Containers {
		if !has(pod.Spec.Containers, c.Name) {
			return false
		}
	}
	for _, c := range ss.Spec.InitContainers {
		if !has(pod.Spec.InitContainers, c.Name) {
			return false
		}
	}
	return true
}

// orphanLeft is how long an ownerless policy of a SidecarSet that does not
// exist may stay (written at an admission still in flight), 0 when it is
// to be removed now.
func orphanLeft(p *admissionregistrationv1.MutatingAdmissionPolicy, now time.Time) time.Duration {
	if p == nil || len(p.OwnerReferences) > 0 {
		return 0
	}
	return max(p.CreationTimestamp.Add(orphanGrace).Sub(now), 0)
}
