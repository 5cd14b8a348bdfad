package webhook

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// DefaultCloneSetPath is where the CloneSet defaulting webhook is served.
const DefaultCloneSetPath = "/mutate-apps-kruise-io-v1alpha1-cloneset"

// TemplateDefaults apply Kubernetes' own defaults for pods and
// PersistentVolumeClaims (terminationMessagePath, protocol TCP, dnsPolicy,
// schedulerName, ...) to the templates a CloneSet carries. Those defaults
// live in k8s.io/kubernetes, which this package must not link, so the
// binary hands them in (see internal/components); a nil function skips
// that part.
type TemplateDefaults struct {
	PodTemplate func(*corev1.PodTemplateSpec)
	Claim       func(*corev1.PersistentVolumeClaim)
}

// DefaultCloneSet fills what a CloneSet leaves unset with OpenKruise's
// defaults, so that a CloneSet reads back as it does from OpenKruise:
//
//   - replicas 1, revisionHistoryLimit 10;
//   - updateStrategy: type ReCreate, partition 0, maxUnavailable 20%,
//     maxSurge 0, and an empty inPlaceUpdateStrategy for the in-place types;
//   - with templates: containers' imagePullPolicy Always (an in-place image
//     change must pull even a tag seen before), then the pod and claim
//     defaults of td.
//
// The templates are defaulted only when templates is true: on create, and
// on an update that changes the pod template. Defaulting an unchanged
// template could change it, and with it the revision, when the defaults
// of the running Kubernetes differ from those it was first written with.
// progressDeadlineSeconds is left unset, as in OpenKruise: unset means
// the Progressing condition is not kept.
func DefaultCloneSet(cs *v1alpha1.CloneSet, templates bool, td TemplateDefaults) {
	spec := &cs.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptr.To[int32](1)
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To(v1alpha1.DefaultRevisionHistoryLimit)
	}
	if templates {
		for i := range spec.Template.Spec.Containers {
			if c := &spec.Template.Spec.Containers[i]; c.ImagePullPolicy == "" {
				c.ImagePullPolicy = corev1.PullAlways
			}
		}
		if td.PodTemplate != nil {
			td.PodTemplate(&spec.Template)
		}
		if td.Claim != nil {
			for i := range spec.VolumeClaimTemplates {
				td.Claim(&spec.VolumeClaimTemplates[i])
			}
		}
	}
	u := &spec.UpdateStrategy
	switch u.Type {
	case "":
		u.Type = v1alpha1.RecreateCloneSetUpdateStrategyType
	case v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType, v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType:
		if u.InPlaceUpdateStrategy == nil {
			u.InPlaceUpdateStrategy = &pub.InPlaceUpdateStrategy{}
		}
	}
	if u.Partition == nil {
		u.Partition = ptr.To(intstr.FromInt32(0))
	}
	if u.MaxUnavailable == nil {
		u.MaxUnavailable = ptr.To(intstr.FromString(v1alpha1.DefaultCloneSetMaxUnavailable))
	}
	if u.MaxSurge == nil {
		u.MaxSurge = ptr.To(intstr.FromInt32(0))
	}
}

// CloneSetDefaulter is the mutating admission for CloneSets: it applies
// DefaultCloneSet to creates and updates. Like validation it reads nothing
// from the cluster and is never in the path of a pod write.
type CloneSetDefaulter struct {
	Templates TemplateDefaults
}

var _ admission.Defaulter[*v1alpha1.CloneSet] = (*CloneSetDefaulter)(nil)

// Default defaults cs in place; the webhook turns the change into a patch.
func (d *CloneSetDefaulter) Default(ctx context.Context, cs *v1alpha1.CloneSet) error {
	templates := true
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		var old v1alpha1.CloneSet
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
			return fmt.Errorf("decode the stored CloneSet %s/%s: %w", cs.Namespace, cs.Name, err)
		}
		templates = !apiequality.Semantic.DeepEqual(old.Spec.Template, cs.Spec.Template)
	}
	DefaultCloneSet(cs, templates, d.Templates)
	return nil
}
