package storage

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func claimOf(size string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-web-0", Namespace: "shop", UID: "uid-1"},
		Spec:       corev1.PersistentVolumeClaimSpec{AccessModes: modes, StorageClassName: ptr.To(DefaultClassName)},
	}
	if size != "" {
		c.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}
	}
	return c
}

func TestNewVolumeLivesOnTheSelectedNode(t *testing.T) {
	class := DefaultClass()
	class.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
	class.MountOptions = []string{"noatime"}
	pv, err := newVolume(volumeRequest{name: "pvc-uid-1", claim: claimOf("5Gi", corev1.ReadWriteOncePod), class: class,
		node: "myriad-node-3", hostname: "host-3"})
	if err != nil {
		t.Fatal(err)
	}
	if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.String() != "5Gi" {
		t.Errorf("capacity %s, want the claimed 5Gi", got.String())
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || len(pv.Spec.MountOptions) != 1 ||
		len(pv.Spec.AccessModes) != 1 || pv.Spec.AccessModes[0] != corev1.ReadWriteOncePod {
		t.Errorf("volume does not follow its class and claim: %+v", pv.Spec)
	}
	if pv.Spec.Local == nil || pv.Spec.Local.Path != volumeRoot+"/pvc-uid-1" {
		t.Errorf("volume source %+v, want a local volume named after the PV", pv.Spec.PersistentVolumeSource)
	}
	req := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0]
	if req.Key != corev1.LabelHostname || req.Operator != corev1.NodeSelectorOpIn || len(req.Values) != 1 || req.Values[0] != "host-3" {
		t.Errorf("node affinity %+v, want the selected node's hostname label", req)
	}

	// A node without the label is named by its name.
	pv, _ = newVolume(volumeRequest{name: "pvc-uid-1", claim: claimOf("1Gi", corev1.ReadWriteOnce), class: DefaultClass(), node: "myriad-node-3"})
	if v := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0]; v != "myriad-node-3" {
		t.Errorf("affinity to %q, want the node name", v)
	}
}

func TestNewVolumeRefusesWhatALocalVolumeCannotBe(t *testing.T) {
	immediate := DefaultClass()
	immediate.Name = "fast"
	immediate.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
	withParams := DefaultClass()
	withParams.Parameters = map[string]string{"type": "ssd"}
	for _, tc := range []struct {
		name  string
		req   volumeRequest
		field string
	}{
		{"no size", volumeRequest{claim: claimOf("", corev1.ReadWriteOnce), class: DefaultClass(), node: "n"}, "spec.resources.requests.storage"},
		{"zero size", volumeRequest{claim: claimOf("0", corev1.ReadWriteOnce), class: DefaultClass(), node: "n"}, "spec.resources.requests.storage"},
		{"no access mode", volumeRequest{claim: claimOf("1Gi"), class: DefaultClass(), node: "n"}, "spec.accessModes"},
		{"shared by nodes", volumeRequest{claim: claimOf("1Gi", corev1.ReadWriteMany), class: DefaultClass(), node: "n"}, "spec.accessModes"},
		{"no node selected", volumeRequest{claim: claimOf("1Gi", corev1.ReadWriteOnce), class: immediate}, "volumeBindingMode WaitForFirstConsumer"},
		{"parameters", volumeRequest{claim: claimOf("1Gi", corev1.ReadWriteOnce), class: withParams, node: "n"}, "parameters.type"},
		{"selector", volumeRequest{claim: withSelector(claimOf("1Gi", corev1.ReadWriteOnce)), class: DefaultClass(), node: "n"}, "spec.selector"},
		{"clone", volumeRequest{claim: withSource(claimOf("1Gi", corev1.ReadWriteOnce)), class: DefaultClass(), node: "n"}, "spec.dataSource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newVolume(tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

func TestDefaultClassIsWhatChartsExpect(t *testing.T) {
	c := DefaultClass()
	if c.Annotations[DefaultClassAnnotation] != "true" || *c.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer ||
		!*c.AllowVolumeExpansion || *c.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || c.Provisioner != ProvisionerName {
		t.Fatalf("default class %+v", c)
	}
}

func withSelector(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
	return c
}

func withSource(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "golden"}
	return c
}
