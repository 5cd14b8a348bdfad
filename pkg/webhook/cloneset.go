package webhook

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// ValidateCloneSetPath is where the CloneSet validating webhook is served.
const ValidateCloneSetPath = "/validate-apps-kruise-io-v1alpha1-cloneset"

// CloneSetValidator admits CloneSet creates and updates that pass
// ValidateCloneSet and ValidateCloneSetUpdate, and every delete.
type CloneSetValidator struct {
	// InPlace is what the cluster can change in place; see
	// ValidateCloneSetUpdate.
	InPlace inplace.EligibilityOptions
}

var _ admission.Validator[*v1alpha1.CloneSet] = (*CloneSetValidator)(nil)

// ValidateCreate rejects an invalid CloneSet.
func (v *CloneSetValidator) ValidateCreate(_ context.Context, cs *v1alpha1.CloneSet) (admission.Warnings, error) {
	return nil, invalid(cs, ValidateCloneSet(cs))
}

// ValidateUpdate rejects an invalid change to a CloneSet.
func (v *CloneSetValidator) ValidateUpdate(_ context.Context, old, cs *v1alpha1.CloneSet) (admission.Warnings, error) {
	return nil, invalid(cs, ValidateCloneSetUpdate(cs, old, v.InPlace))
}

// ValidateDelete allows every delete: nothing about a CloneSet's spec can
// make removing it unsafe, and its pods are deleted by the garbage collector.
func (v *CloneSetValidator) ValidateDelete(context.Context, *v1alpha1.CloneSet) (admission.Warnings, error) {
	return nil, nil
}

// invalid is the 422 Invalid error the API server itself returns for invalid
// objects, so kubectl prints each field error as it does for built-in kinds.
func invalid(cs *v1alpha1.CloneSet, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(v1alpha1.Kind("CloneSet"), cs.Name, errs)
}

// Register serves the CloneSet webhooks on mgr's webhook server: defaulting
// at DefaultCloneSetPath, validation at ValidateCloneSetPath. mgr's scheme
// must include apps.kruise.io/v1alpha1. inPlace must be the options the
// CloneSet controller uses (see ValidateCloneSetUpdate); td are the pod and
// claim defaults (see TemplateDefaults).
func Register(mgr manager.Manager, inPlace inplace.EligibilityOptions, td TemplateDefaults) error {
	err := builder.WebhookManagedBy(mgr, &v1alpha1.CloneSet{}).
		WithDefaulter(&CloneSetDefaulter{Templates: td}).
		WithDefaulterCustomPath(DefaultCloneSetPath).
		WithValidator(&CloneSetValidator{InPlace: inPlace}).
		WithValidatorCustomPath(ValidateCloneSetPath).
		Complete()
	if err != nil {
		return fmt.Errorf("register CloneSet webhooks at %s and %s: %w", DefaultCloneSetPath, ValidateCloneSetPath, err)
	}
	return nil
}
