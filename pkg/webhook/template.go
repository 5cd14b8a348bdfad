package webhook

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePodTemplate checks the mistakes in a CloneSet's pod template that
// would otherwise surface only as pods failing to be created, one error per
// reconcile. It is not the full pod validation the API server runs on pods
// (that lives in k8s.io/kubernetes, which this package must not link); what it
// misses still reaches the user as the CloneSet's FailedScale condition.
func validatePodTemplate(t *corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim, path, claimsPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, path.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, path.Child("metadata", "annotations"))...)

	spec := &t.Spec
	specPath := path.Child("spec")
	if spec.RestartPolicy != "" && spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(specPath.Child("restartPolicy"), spec.RestartPolicy,
			[]string{string(corev1.RestartPolicyAlways)}))
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(specPath.Child("activeDeadlineSeconds"),
			"a CloneSet's pods run until they are replaced; remove activeDeadlineSeconds"))
	}
	if len(spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"),
			"ephemeral containers are added to running pods, not to templates; remove them"))
	}
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(specPath.Child("containers"), "a CloneSet's pods need at least one container"))
	}

	volumes := validateVolumeNames(spec.Volumes, claims, specPath.Child("volumes"), claimsPath)
	errs = append(errs, volumes.errs...)

	// Init and regular containers share one namespace of names in a pod.
	names := map[string]bool{}
	for i := range spec.InitContainers {
		errs = append(errs, validateContainer(&spec.InitContainers[i], names, volumes.names, specPath.Child("initContainers").Index(i))...)
	}
	for i := range spec.Containers {
		errs = append(errs, validateContainer(&spec.Containers[i], names, volumes.names, specPath.Child("containers").Index(i))...)
	}
	return errs
}

func validateContainer(c *corev1.Container, seen, volumes map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(path.Child("name"), "name the container"))
	case seen[c.Name]:
		errs = append(errs, field.Duplicate(path.Child("name"), c.Name))
	default:
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), c.Name, msg))
		}
	}
	seen[c.Name] = true

	if c.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), "set the container image"))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, field.Invalid(path.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}

	for j, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			errs = append(errs, field.Invalid(path.Child("volumeMounts").Index(j).Child("name"), m.Name,
				"must name a volume in spec.template.spec.volumes or a claim in spec.volumeClaimTemplates"))
		}
	}
	return errs
}

type volumeNames struct {
	names map[string]bool
	errs  field.ErrorList
}

// validateVolumeNames checks template volumes and volume claim templates
// together: each claim template becomes a pod volume of the same name, so
// the two share one namespace.
func validateVolumeNames(volumes []corev1.Volume, claims []corev1.PersistentVolumeClaim, volumesPath, claimsPath *field.Path) volumeNames {
	v := volumeNames{names: map[string]bool{}}
	check := func(name string, path *field.Path, what string) {
		switch {
		case name == "":
			v.errs = append(v.errs, field.Required(path, "name the "+what))
			return
		case v.names[name]:
			v.errs = append(v.errs, field.Duplicate(path, name))
			return
		}
		for _, msg := range validation.IsDNS1123Label(name) {
			v.errs = append(v.errs, field.Invalid(path, name, msg))
		}
		v.names[name] = true
	}
	for i := range volumes {
		check(volumes[i].Name, volumesPath.Index(i).Child("name"), "volume")
	}
	for i := range claims {
		path := claimsPath.Index(i)
		check(claims[i].Name, path.Child("metadata", "name"), "volume claim template; pods mount it by this name")
		v.errs = append(v.errs, validateClaimSpec(&claims[i].Spec, path.Child("spec"))...)
	}
	return v
}

// validateClaimSpec checks what every PersistentVolumeClaim needs, so a bad
// claim template is rejected here rather than on each pod's first claim.
func validateClaimSpec(spec *corev1.PersistentVolumeClaimSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(path.Child("accessModes"), "set at least one access mode, such as ReadWriteOnce"))
	}
	storagePath := path.Child("resources", "requests").Key(string(corev1.ResourceStorage))
	storage, ok := spec.Resources.Requests[corev1.ResourceStorage]
	switch {
	case !ok:
		errs = append(errs, field.Required(storagePath, "request the storage size, such as 10Gi"))
	case storage.Sign() <= 0:
		errs = append(errs, field.Invalid(storagePath, storage.String(), "must be greater than 0"))
	}
	return errs
}
