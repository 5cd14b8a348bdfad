package storage

import (
	"fmt"
	"maps"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	// ProvisionerName is the provisioner of the volumes this package
	// creates, in StorageClasses and PVs' pv.kubernetes.io/provisioned-by.
	ProvisionerName = "myriad.dev/local"
	// DefaultClassName is the StorageClass `myriad up` creates, named as
	// kind's so charts written against kind find it.
	DefaultClassName = "standard"
	// DefaultClassAnnotation marks the StorageClass that claims without a
	// storageClassName get.
	DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
	// volumeRoot is where a volume would live on its node.
	volumeRoot = "/var/lib/myriad/volumes"
)

// DefaultClass is the cluster's default StorageClass: volumes bound where
// their first pod is scheduled, deleted with their claim, and growable.
func DefaultClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultClassName, Annotations: map[string]string{
			DefaultClassAnnotation: "true",
		}, Labels: map[string]string{"app.kubernetes.io/managed-by": "myriad"}},
		Provisioner:          ProvisionerName,
		ReclaimPolicy:        ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
		AllowVolumeExpansion: ptr.To(true),
	}
}

// volumeRequest is what newVolume needs to know of a claim and its class.
type volumeRequest struct {
	name     string // the PV's name, chosen by the library (pvc-<claim UID>)
	claim    *corev1.PersistentVolumeClaim
	class    *storagev1.StorageClass
	node     string // the node the scheduler selected ("" if none)
	hostname string // that node's kubernetes.io/hostname label
}

// newVolume is the PersistentVolume for r: a local volume of the claimed
// size and access modes on the selected node. The library adds the claim
// reference, class name and provisioned-by annotation. Errors name the
// field to fix.
func newVolume(r volumeRequest) (*corev1.PersistentVolume, error) {
	c := r.claim
	where := fmt.Sprintf("claim %s/%s", c.Namespace, c.Name)
	size, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || size.Sign() <= 0 {
		return nil, fmt.Errorf("%s: spec.resources.requests.storage must be set and positive", where)
	}
	if c.Spec.Selector != nil {
		return nil, fmt.Errorf("%s: spec.selector is not supported by %s (it picks existing volumes; a new one matches no selector)", where, ProvisionerName)
	}
	if c.Spec.DataSource != nil || c.Spec.DataSourceRef != nil {
		return nil, fmt.Errorf("%s: spec.dataSource is not supported by %s (no snapshots or clones of simulated volumes)", where, ProvisionerName)
	}
	if len(c.Spec.AccessModes) == 0 {
		return nil, fmt.Errorf("%s: spec.accessModes must not be empty", where)
	}
	if r.node == "" {
		return nil, fmt.Errorf("%s has no node selected: StorageClass %s must have volumeBindingMode %s, because a %s volume lives on one node",
			where, r.class.Name, storagev1.VolumeBindingWaitForFirstConsumer, ProvisionerName)
	}
	if len(r.class.Parameters) > 0 {
		k := slices.Sorted(maps.Keys(r.class.Parameters))[0]
		return nil, fmt.Errorf("StorageClass %s: parameters.%s is not supported (%s takes no parameters)", r.class.Name, k, ProvisionerName)
	}
	if slices.Contains(c.Spec.AccessModes, corev1.ReadWriteMany) || slices.Contains(c.Spec.AccessModes, corev1.ReadOnlyMany) {
		return nil, fmt.Errorf("%s: spec.accessModes %v: a %s volume lives on one node, so only ReadWriteOnce and ReadWriteOncePod are possible",
			where, c.Spec.AccessModes, ProvisionerName)
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if r.class.ReclaimPolicy != nil {
		reclaim = *r.class.ReclaimPolicy
	}
	hostname := r.hostname
	if hostname == "" {
		hostname = r.node
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: r.name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   slices.Clone(c.Spec.AccessModes),
			PersistentVolumeReclaimPolicy: reclaim,
			MountOptions:                  slices.Clone(r.class.MountOptions),
			VolumeMode:                    c.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: path.Join(volumeRoot, r.name)},
			},
			// The scheduler's volume binding matches node labels, not
			// names, so the node is named by its hostname label.
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{hostname},
				}}}},
			}},
		},
	}, nil
}
