package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/sidecarset"
)

// ValidateSidecarSetPath is where the SidecarSet webhook is served; it
// takes v1beta1, the stored version (v1alpha1 writes arrive converted).
const ValidateSidecarSetPath = "/validate-apps-kruise-io-v1beta1-sidecarset"

// SidecarSetWebhookName names the SidecarSet webhook in the configuration.
const SidecarSetWebhookName = "sidecarsets.validate.myriad.dev"

// ValidateSidecarSet checks what can be checked on the SidecarSet alone;
// ValidateSidecarSetConflicts checks it against the other SidecarSets.
func ValidateSidecarSet(ss *v1beta1.SidecarSet) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for _, msg := range validation.IsDNS1123Subdomain(sidecarset.PolicyName(ss.Name)) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), ss.Name, "the injection policy is named "+sidecarset.PolicyPrefix+"<name>: "+msg))
	}
	labelOpts := metav1validation.LabelSelectorValidationOptions{}
	switch sel := ss.Spec.Selector; {
	case sel == nil:
		errs = append(errs, field.Required(spec.Child("selector"), "select the pods to inject"))
	case len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0:
		errs = append(errs, field.Invalid(spec.Child("selector"), sel, "an empty selector selects no pod; give matchLabels or matchExpressions"))
	default:
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, labelOpts, spec.Child("selector"))...)
	}
	if ss.Spec.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(ss.Spec.NamespaceSelector, labelOpts, spec.Child("namespaceSelector"))...)
	}
	if ns := ss.Spec.Namespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(spec.Child("namespace"), ns, msg))
		}
	}
	if u := ss.Spec.UpdateStrategy.Selector; u != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(u, labelOpts, spec.Child("updateStrategy", "selector"))...)
	}

	volumes := sets.New[string]()
	for i, v := range ss.Spec.Volumes {
		p := spec.Child("volumes").Index(i).Child("name")
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(p, "name the volume"))
		case volumes.Has(v.Name):
			errs = append(errs, field.Duplicate(p, v.Name))
		}
		volumes.Insert(v.Name)
	}
	names := sets.New[string]()
	if len(ss.Spec.Containers) == 0 && len(ss.Spec.InitContainers) == 0 && len(ss.Spec.Volumes) == 0 {
		errs = append(errs, field.Required(spec.Child("containers"), "a SidecarSet injects containers, initContainers or volumes"))
	}
	for i := range ss.Spec.InitContainers {
		errs = append(errs, validateSidecar(&ss.Spec.InitContainers[i], names, spec.Child("initContainers").Index(i), true)...)
	}
	for i := range ss.Spec.Containers {
		errs = append(errs, validateSidecar(&ss.Spec.Containers[i], names, spec.Child("containers").Index(i), false)...)
	}
	if r := ss.Spec.InjectionStrategy.Revision; r != nil {
		switch r.Policy {
		case "", v1beta1.AlwaysSidecarSetInjectRevisionPolicy, v1beta1.PartialSidecarSetInjectRevisionPolicy:
		default:
			errs = append(errs, field.NotSupported(spec.Child("injectionStrategy", "revision", "policy"), r.Policy,
				[]string{string(v1beta1.AlwaysSidecarSetInjectRevisionPolicy), string(v1beta1.PartialSidecarSetInjectRevisionPolicy)}))
		}
	}
	switch t := ss.Spec.UpdateStrategy.Type; t {
	case "", v1beta1.RollingUpdateSidecarSetStrategyType, v1beta1.NotUpdateSidecarSetStrategyType:
	default:
		errs = append(errs, field.NotSupported(spec.Child("updateStrategy", "type"), t,
			[]string{string(v1beta1.RollingUpdateSidecarSetStrategyType), string(v1beta1.NotUpdateSidecarSetStrategyType)}))
	}
	if len(errs) == 0 {
		// What passed the checks above must also compile into the policy
		// that injects it; its error names the field.
		if _, _, err := sidecarset.Compile(ss); err != nil {
			errs = append(errs, field.Invalid(spec, "", err.Error()))
		}
	}
	return errs
}

func validateSidecar(c *v1beta1.SidecarContainer, names sets.Set[string], path *field.Path, init bool) field.ErrorList {
	var errs field.ErrorList
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(path.Child("name"), "name the container"))
	case names.Has(c.Name):
		errs = append(errs, field.Duplicate(path.Child("name"), c.Name))
	default:
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), c.Name, msg))
		}
	}
	names.Insert(c.Name)
	if c.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), "set the container image"))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, field.Invalid(path.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	switch c.PodInjectPolicy {
	case "", v1beta1.BeforeAppContainerType, v1beta1.AfterAppContainerType:
	default:
		errs = append(errs, field.NotSupported(path.Child("podInjectPolicy"), c.PodInjectPolicy,
			[]string{string(v1beta1.BeforeAppContainerType), string(v1beta1.AfterAppContainerType)}))
	}
	us := c.UpgradeStrategy
	switch us.UpgradeType {
	case "", v1beta1.SidecarContainerColdUpgrade:
		if us.HotUpgradeEmptyImage != "" {
			errs = append(errs, field.Forbidden(path.Child("upgradeStrategy", "hotUpgradeEmptyImage"), "only for upgradeType HotUpgrade"))
		}
	case v1beta1.SidecarContainerHotUpgrade:
		switch {
		case init:
			errs = append(errs, field.Forbidden(path.Child("upgradeStrategy", "upgradeType"), "an init container cannot be hot-upgraded"))
		case us.HotUpgradeEmptyImage == "":
			errs = append(errs, field.Required(path.Child("upgradeStrategy", "hotUpgradeEmptyImage"), "a HotUpgrade sidecar needs the empty image its idle twin runs"))
		case us.HotUpgradeEmptyImage == c.Image:
			errs = append(errs, field.Invalid(path.Child("upgradeStrategy", "hotUpgradeEmptyImage"), us.HotUpgradeEmptyImage, "must differ from the sidecar's image"))
		}
		// The pod gets the pair <name>-1 and <name>-2, which must not
		// meet another sidecar of those names.
		for _, twin := range []string{c.Name + "-1", c.Name + "-2"} {
			if names.Has(twin) {
				errs = append(errs, field.Invalid(path.Child("name"), c.Name, "a HotUpgrade sidecar is injected as "+c.Name+"-1 and "+c.Name+"-2; another sidecar is named "+twin))
			}
			names.Insert(twin)
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("upgradeStrategy", "upgradeType"), us.UpgradeType,
			[]string{string(v1beta1.SidecarContainerColdUpgrade), string(v1beta1.SidecarContainerHotUpgrade)}))
	}
	for _, p := range []struct {
		policy *v1beta1.ShareVolumePolicy
		name   string
	}{{&c.ShareVolumePolicy, "shareVolumePolicy"}, {c.ShareVolumeDevicePolicy, "shareVolumeDevicePolicy"}} {
		if p.policy == nil {
			continue
		}
		switch p.policy.Type {
		case "", v1beta1.ShareVolumePolicyEnabled, v1beta1.ShareVolumePolicyDisabled:
		default:
			errs = append(errs, field.NotSupported(path.Child(p.name, "type"), p.policy.Type,
				[]string{string(v1beta1.ShareVolumePolicyEnabled), string(v1beta1.ShareVolumePolicyDisabled)}))
		}
	}
	return errs
}

// SidecarSetAdmission validates SidecarSets.
type SidecarSetAdmission struct {
	// SidecarSets reads the other SidecarSets, from the manager's cache:
	// a write is checked against them without a request to the API
	// server.
	SidecarSets client.Reader
	// Enforce, when set, writes a new SidecarSet's injection policy and
	// waits a bounded time for the API server to apply it, so pods created
	// right after the SidecarSet get their sidecars
	// (sidecarset.Enforcer). It never fails the admission.
	Enforce func(context.Context, *v1beta1.SidecarSet) bool
}

var _ admission.Validator[*v1beta1.SidecarSet] = SidecarSetAdmission{}

// ValidateCreate rejects an invalid SidecarSet, and puts a valid one's
// injection in force before it is stored (Enforce).
func (a SidecarSetAdmission) ValidateCreate(ctx context.Context, ss *v1beta1.SidecarSet) (admission.Warnings, error) {
	if err := a.validate(ctx, ss); err != nil {
		return nil, err
	}
	if a.Enforce != nil && !dryRun(ctx) {
		a.Enforce(ctx, ss)
	}
	return nil, nil
}

// dryRun: the request being admitted is a dry run, which must have no
// side effects (the webhook declares NoneOnDryRun).
func dryRun(ctx context.Context) bool {
	req, err := admission.RequestFromContext(ctx)
	return err == nil && req.DryRun != nil && *req.DryRun
}

// ValidateUpdate rejects an invalid change; spec-preserving writes pass.
func (a SidecarSetAdmission) ValidateUpdate(ctx context.Context, old, ss *v1beta1.SidecarSet) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, ss.Spec) {
		return nil, nil
	}
	return nil, a.validate(ctx, ss)
}

func (a SidecarSetAdmission) validate(ctx context.Context, ss *v1beta1.SidecarSet) error {
	errs := ValidateSidecarSet(ss)
	if a.SidecarSets != nil {
		var list v1beta1.SidecarSetList
		if err := a.SidecarSets.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list SidecarSets to check for sidecars of the same name: %w", err)
		}
		errs = append(errs, ValidateSidecarSetConflicts(ss, list.Items)...)
	}
	return invalidJob(v1beta1.Kind("SidecarSet"), ss.Name, errs)
}

// ValidateDelete allows every delete.
func (SidecarSetAdmission) ValidateDelete(context.Context, *v1beta1.SidecarSet) (admission.Warnings, error) {
	return nil, nil
}

// RegisterSidecarSet serves the SidecarSet webhook on mgr's webhook
// server; enforce is SidecarSetAdmission.Enforce.
func RegisterSidecarSet(mgr manager.Manager, enforce func(context.Context, *v1beta1.SidecarSet) bool) error {
	return builder.WebhookManagedBy(mgr, &v1beta1.SidecarSet{}).
		WithValidator(SidecarSetAdmission{SidecarSets: mgr.GetCache(), Enforce: enforce}).WithValidatorCustomPath(ValidateSidecarSetPath).
		Complete()
}

// SidecarSetEnforceWait bounds how long admitting a new SidecarSet waits
// for its injection to be in force.
const SidecarSetEnforceWait = 4 * time.Second

// sidecarSetValidatingWebhook is the SidecarSet entry of the
// ValidatingWebhookConfiguration: SidecarSet writes only (cluster-scoped),
// failing closed as CloneSet's does; pods never reach it.
func sidecarSetValidatingWebhook(client admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.ValidatingWebhook {
	w := jobWebhook(client, "sidecarsets", ValidateSidecarSetPath)
	scope := admissionregistrationv1.ClusterScope
	w.rules[0].Rule.Scope = &scope
	// Admitting a new SidecarSet writes its injection policy and waits up
	// to SidecarSetEnforceWait for it to be in force; dry runs write nothing.
	sideEffects := admissionregistrationv1.SideEffectClassNoneOnDryRun
	timeout := int32((SidecarSetEnforceWait + 5*time.Second) / time.Second)
	w.sideEffects, w.timeout = &sideEffects, &timeout
	return admissionregistrationv1.ValidatingWebhook{Name: SidecarSetWebhookName, ClientConfig: w.client, Rules: w.rules,
		FailurePolicy: w.failurePolicy, MatchPolicy: w.matchPolicy, SideEffects: w.sideEffects, TimeoutSeconds: w.timeout,
		AdmissionReviewVersions: []string{"v1"}}
}
