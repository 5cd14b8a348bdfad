package storage

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// provisioner is the library's Provisioner for simulated local volumes.
// Creating or deleting one touches no storage, so both are immediate and
// final.
type provisioner struct {
	client kubernetes.Interface
}

var _ controller.Provisioner = (*provisioner)(nil)

// Provision builds the volume for the claim on the node the scheduler
// selected. A node that is gone asks the scheduler for another one.
func (p *provisioner) Provision(ctx context.Context, o controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	var hostname string
	if o.SelectedNodeName != "" {
		node, err := p.client.CoreV1().Nodes().Get(ctx, o.SelectedNodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil, controller.ProvisioningReschedule, fmt.Errorf("selected node %s no longer exists", o.SelectedNodeName)
		case err != nil:
			return nil, controller.ProvisioningNoChange, fmt.Errorf("get selected node %s: %w", o.SelectedNodeName, err)
		}
		hostname = node.Labels[corev1.LabelHostname]
	}
	pv, err := newVolume(volumeRequest{name: o.PVName, claim: o.PVC, class: o.StorageClass, node: o.SelectedNodeName, hostname: hostname})
	if err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	return pv, controller.ProvisioningFinished, nil
}

// Delete frees the volume's (simulated) storage; the library then deletes
// the PV object. Volumes of other provisioners never reach here.
func (p *provisioner) Delete(context.Context, *corev1.PersistentVolume) error { return nil }
