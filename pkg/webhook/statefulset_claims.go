package webhook

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// ValidateClaimTemplateResize checks a change of volumeClaimTemplates under
// volumeClaimUpdateStrategy OnPodRollingUpdate, where claims follow their
// templates by growing (pkg/controllers/statefulset claims_resize.go):
// templates may not be added, removed or renamed, may change only in
// size, and may grow only where their storage class allows volume
// expansion. class finds a template's storage class (nil name: the
// cluster's default class, nil result when there is none). The rules are
// OpenKruise's, so what it admits Myriad admits.
func ValidateClaimTemplateResize(sts, old *v1beta1.StatefulSet, class func(name *string) (*storagev1.StorageClass, error)) field.ErrorList {
	if sts.Spec.VolumeClaimUpdateStrategy.Type != v1beta1.OnPodRollingUpdateVolumeClaimUpdateStrategyType {
		return nil
	}
	path := field.NewPath("spec", "volumeClaimTemplates")
	if len(sts.Spec.VolumeClaimTemplates) != len(old.Spec.VolumeClaimTemplates) {
		return field.ErrorList{field.Forbidden(path, "templates cannot be added or removed with volumeClaimUpdateStrategy OnPodRollingUpdate")}
	}
	var errs field.ErrorList
	for i := range sts.Spec.VolumeClaimTemplates {
		tmpl := &sts.Spec.VolumeClaimTemplates[i]
		at := path.Index(i)
		j := slices.IndexFunc(old.Spec.VolumeClaimTemplates, func(o corev1.PersistentVolumeClaim) bool { return o.Name == tmpl.Name })
		if j < 0 {
			errs = append(errs, field.Forbidden(at.Child("metadata", "name"), "templates cannot be renamed with volumeClaimUpdateStrategy OnPodRollingUpdate"))
			continue
		}
		prev := &old.Spec.VolumeClaimTemplates[j]
		if !sameExceptStorage(prev, tmpl) {
			errs = append(errs, field.Forbidden(at.Child("spec"), "only the storage size may change with volumeClaimUpdateStrategy OnPodRollingUpdate"))
			continue
		}
		if sameStorage(prev, tmpl) {
			continue
		}
		sc, err := class(tmpl.Spec.StorageClassName)
		if err != nil {
			errs = append(errs, field.InternalError(at.Child("spec", "storageClassName"), fmt.Errorf("read the storage class: %w", err)))
			continue
		}
		if sc != nil && sc.AllowVolumeExpansion != nil && !*sc.AllowVolumeExpansion {
			errs = append(errs, field.Forbidden(at.Child("spec", "resources", "requests", "storage"),
				fmt.Sprintf("storage class %s does not allow volume expansion", sc.Name)))
		}
	}
	return errs
}

// sameExceptStorage: the templates differ at most in storage size (or
// OpenKruise's sense of compatible: class, when both name one, and access
// modes).
func sameExceptStorage(a, b *corev1.PersistentVolumeClaim) bool {
	if a.Spec.StorageClassName != nil && b.Spec.StorageClassName != nil && *a.Spec.StorageClassName != *b.Spec.StorageClassName {
		return false
	}
	return apiequality.Semantic.DeepEqual(a.Spec.AccessModes, b.Spec.AccessModes)
}

func sameStorage(a, b *corev1.PersistentVolumeClaim) bool {
	ar, br := a.Spec.Resources.Requests[corev1.ResourceStorage], b.Spec.Resources.Requests[corev1.ResourceStorage]
	al, bl := a.Spec.Resources.Limits[corev1.ResourceStorage], b.Spec.Resources.Limits[corev1.ResourceStorage]
	return ar.Cmp(br) == 0 && al.Cmp(bl) == 0
}

// isDefaultClass is the annotation that marks the cluster's default
// storage class.
const isDefaultClass = "storageclass.kubernetes.io/is-default-class"

// storageClassOf reads a storage class by name, or the default one (the
// newest so marked, as the API server's admission picks it) for nil.
func storageClassOf(ctx context.Context, r client.Reader, name *string) (*storagev1.StorageClass, error) {
	if name != nil && *name != "" {
		var sc storagev1.StorageClass
		if err := r.Get(ctx, client.ObjectKey{Name: *name}, &sc); err != nil {
			return nil, err
		}
		return &sc, nil
	}
	var list storagev1.StorageClassList
	if err := r.List(ctx, &list); err != nil {
		return nil, err
	}
	var def *storagev1.StorageClass
	for i := range list.Items {
		sc := &list.Items[i]
		if sc.Annotations[isDefaultClass] == "true" && (def == nil || def.CreationTimestamp.Before(&sc.CreationTimestamp)) {
			def = sc
		}
	}
	return def, nil
}
