package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/storage"
)

// testStatefulSetClaimsGrow: with volumeClaimUpdateStrategy
// OnPodRollingUpdate (the cluster runs with StatefulSetAutoResizePVCGate),
// growing a claim template grows every pod's claim through the storage's
// resizer, before the pod is updated; status.volumeClaims counts them;
// growth where the class forbids expansion is refused at admission.
func testStatefulSetClaimsGrow(e *csEnv) {
	ctx := context.Background()
	fixed := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "e2e-fixed-size"}, Provisioner: storage.ProvisionerName,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer), AllowVolumeExpansion: ptr.To(false)}
	if _, err := e.cs.StorageV1().StorageClasses().Create(ctx, fixed, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.cs.StorageV1().StorageClasses().Delete(ctx, fixed.Name, metav1.DeleteOptions{}) })

	const name = "grow-sts"
	set := newStatefulSet(e.ns, name, 2)
	set.Spec.PodManagementPolicy = "Parallel"
	set.Spec.VolumeClaimTemplates = append(dataClaim(), dataClaim()[0])
	set.Spec.VolumeClaimTemplates[1].Name = "fixed"
	set.Spec.VolumeClaimTemplates[1].Spec.StorageClassName = ptr.To(fixed.Name)
	set.Spec.VolumeClaimUpdateStrategy.Type = v1beta1.OnPodRollingUpdateVolumeClaimUpdateStrategyType
	for i := range set.Spec.VolumeClaimTemplates {
		set.Spec.Template.Spec.Containers[0].VolumeMounts = append(set.Spec.Template.Spec.Containers[0].VolumeMounts,
			corev1.VolumeMount{Name: set.Spec.VolumeClaimTemplates[i].Name, MountPath: "/" + set.Spec.VolumeClaimTemplates[i].Name})
	}
	e.createSet(set)
	e.setSettled(name, []int{0, 1}, 2, 2*time.Minute)

	grow := func(tmpl int) func(*v1beta1.StatefulSet) {
		return func(s *v1beta1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[tmpl].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
			s.Spec.Template.Spec.Containers[0].Image = "db:2"
		}
	}
	cur := &v1beta1.StatefulSet{}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, cur); err != nil {
		e.t.Fatal(err)
	}
	refused := cur.DeepCopy()
	grow(1)(refused)
	if err := e.c.Update(ctx, refused); err == nil || !strings.Contains(err.Error(), "spec.volumeClaimTemplates[1].spec.resources.requests.storage") {
		e.t.Fatalf("growing a claim of a class without expansion: %v; want refused naming the field", err)
	}

	e.modifySet(name, grow(0))
	eventually(e.t, 2*time.Minute, "data claims grown to 2Gi and pods updated", func() error {
		for claimName, c := range e.claims(name) {
			if !strings.HasPrefix(claimName, "data-") {
				continue
			}
			got := c.Status.Capacity[corev1.ResourceStorage]
			if got.Cmp(resource.MustParse("2Gi")) != 0 {
				return fmt.Errorf("claim %s capacity %s", claimName, got.String())
			}
		}
		s := &v1beta1.StatefulSet{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, s); err != nil {
			return err
		}
		if s.Status.ObservedGeneration != s.Generation || s.Status.UpdatedReadyReplicas != 2 {
			return fmt.Errorf("status %+v", s.Status)
		}
		for _, vc := range s.Status.VolumeClaims {
			if vc.CompatibleReplicas != 2 || vc.CompatibleReadyReplicas != 2 {
				return fmt.Errorf("status.volumeClaims %+v", s.Status.VolumeClaims)
			}
		}
		if len(s.Status.VolumeClaims) != 2 {
			return fmt.Errorf("status.volumeClaims %+v", s.Status.VolumeClaims)
		}
		return nil
	})
	for claimName, c := range e.claims(name) {
		if strings.HasPrefix(claimName, "fixed-") && c.Spec.Resources.Requests.Storage().Cmp(resource.MustParse("1Gi")) != 0 {
			e.t.Errorf("claim %s of the fixed class changed to %s", claimName, c.Spec.Resources.Requests.Storage())
		}
	}
}
