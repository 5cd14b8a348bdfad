package webhook

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/sidecarset"
)

// DefaultSidecarSetPath is where the SidecarSet defaulting webhook is
// served (v1beta1; v1alpha1 writes arrive converted).
const DefaultSidecarSetPath = "/mutate-apps-kruise-io-v1beta1-sidecarset"

// SidecarSetDefaultingWebhookName names it in the mutating configuration.
const SidecarSetDefaultingWebhookName = "sidecarsets.default.myriad.dev"

// DefaultSidecarSet fills what a SidecarSet leaves unset with OpenKruise's
// defaults, so that it reads back, injects and upgrades as it does there:
//
//   - updateStrategy: type RollingUpdate, maxUnavailable 1, partition 0;
//   - containers podInjectPolicy BeforeAppContainer, init containers
//     AfterAppContainer; upgradeType ColdUpgrade; shareVolumePolicy
//     disabled; then Kubernetes' container defaults (td);
//   - revisionHistoryLimit 10; patchPodMetadata patchPolicy Retain;
//     injectionStrategy.revision.policy Always;
//
// and records, as OpenKruise does, the revision the spec makes in the
// annotations kruise.io/sidecarset-hash and -hash-without-image (the same
// hashes the controller writes to the pods, so a pod can be compared with
// its SidecarSet by reading both).
func DefaultSidecarSet(ss *v1beta1.SidecarSet, td TemplateDefaults) error {
	u := &ss.Spec.UpdateStrategy
	if u.Type == "" {
		u.Type = v1beta1.RollingUpdateSidecarSetStrategyType
	}
	if u.MaxUnavailable == nil {
		u.MaxUnavailable = ptr.To(intstr.FromInt32(1))
	}
	if u.Partition == nil {
		u.Partition = ptr.To(intstr.FromInt32(0))
	}
	defaultSidecars(ss.Spec.Containers, v1beta1.BeforeAppContainerType, td, false)
	defaultSidecars(ss.Spec.InitContainers, v1beta1.AfterAppContainerType, td, true)
	if ss.Spec.RevisionHistoryLimit == nil {
		ss.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	for i := range ss.Spec.PatchPodMetadata {
		if ss.Spec.PatchPodMetadata[i].PatchPolicy == "" {
			ss.Spec.PatchPodMetadata[i].PatchPolicy = v1beta1.SidecarSetRetainPatchPolicy
		}
	}
	if r := ss.Spec.InjectionStrategy.Revision; r != nil && r.Policy == "" {
		r.Policy = v1beta1.AlwaysSidecarSetInjectRevisionPolicy
	}
	rev, err := sidecarset.Revisions(ss)
	if err != nil {
		return err
	}
	if ss.Annotations == nil {
		ss.Annotations = map[string]string{}
	}
	ss.Annotations[v1beta1.SidecarSetHashAnnotation] = rev.Hash
	ss.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation] = rev.HashWithoutImage
	return nil
}

// defaultSidecars defaults each sidecar's OpenKruise fields, then its
// container fields the way the API server defaults a pod's, through a
// template holding the sidecars as the pod's containers.
func defaultSidecars(list []v1beta1.SidecarContainer, inject v1beta1.PodInjectPolicyType, td TemplateDefaults, init bool) {
	if len(list) == 0 {
		return
	}
	tmpl := &corev1.PodTemplateSpec{}
	for i := range list {
		c := &list[i]
		if c.PodInjectPolicy == "" {
			c.PodInjectPolicy = inject
		}
		if c.UpgradeStrategy.UpgradeType == "" {
			c.UpgradeStrategy.UpgradeType = v1beta1.SidecarContainerColdUpgrade
		}
		if c.ShareVolumePolicy.Type == "" {
			c.ShareVolumePolicy.Type = v1beta1.ShareVolumePolicyDisabled
		}
		if init {
			tmpl.Spec.InitContainers = append(tmpl.Spec.InitContainers, c.Container)
		} else {
			tmpl.Spec.Containers = append(tmpl.Spec.Containers, c.Container)
		}
	}
	if td.PodTemplate == nil {
		return
	}
	td.PodTemplate(tmpl)
	out := tmpl.Spec.Containers
	if init {
		out = tmpl.Spec.InitContainers
	}
	for i := range list {
		list[i].Container = out[i]
	}
}

// SidecarSetDefaulter is the admission.Defaulter for SidecarSets.
type SidecarSetDefaulter struct {
	Templates TemplateDefaults
}

var _ admission.Defaulter[*v1beta1.SidecarSet] = (*SidecarSetDefaulter)(nil)

// Default defaults ss in place; the webhook turns the change into a patch.
func (d *SidecarSetDefaulter) Default(_ context.Context, ss *v1beta1.SidecarSet) error {
	if err := DefaultSidecarSet(ss, d.Templates); err != nil {
		return fmt.Errorf("default SidecarSet %s: %w", ss.Name, err)
	}
	return nil
}

// sidecarSetMutatingWebhook is the SidecarSet entry of the
// MutatingWebhookConfiguration: SidecarSet writes only, never pods.
func sidecarSetMutatingWebhook(client admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.MutatingWebhook {
	w := jobWebhook(client, "sidecarsets", DefaultSidecarSetPath)
	scope := admissionregistrationv1.ClusterScope
	w.rules[0].Rule.Scope = &scope
	reinvocation := admissionregistrationv1.NeverReinvocationPolicy
	return admissionregistrationv1.MutatingWebhook{Name: SidecarSetDefaultingWebhookName, ClientConfig: w.client, Rules: w.rules,
		FailurePolicy: w.failurePolicy, MatchPolicy: w.matchPolicy, SideEffects: w.sideEffects, TimeoutSeconds: w.timeout,
		ReinvocationPolicy: &reinvocation, AdmissionReviewVersions: []string{"v1"}}
}

// RegisterSidecarSetDefaults serves the SidecarSet defaulting webhook at
// DefaultSidecarSetPath on mgr's webhook server.
func RegisterSidecarSetDefaults(mgr manager.Manager, td TemplateDefaults) error {
	if err := builder.WebhookManagedBy(mgr, &v1beta1.SidecarSet{}).
		WithDefaulter(&SidecarSetDefaulter{Templates: td}).WithDefaulterCustomPath(DefaultSidecarSetPath).
		Complete(); err != nil {
		return fmt.Errorf("register SidecarSet defaulting at %s: %w", DefaultSidecarSetPath, err)
	}
	return nil
}
