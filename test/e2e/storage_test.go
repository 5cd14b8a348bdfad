package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// TestStorage is what a user of a StatefulSet or a Helm chart with
// persistence meets: the default StorageClass, claims Bound on the nodes
// their pods were scheduled to, a claim grown in place, and volumes
// deleted or kept after their claims per the reclaim policy.
func TestStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	dataDir := filepath.Join(t.TempDir(), "storage")
	up := startUp(t, dataDir, freePort(t), freePort(t), "--nodes", "5")
	defer up.stop(t)
	cs := up.client(t)
	ctx := context.Background()
	ns := "shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "default ServiceAccount", func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	kubectlRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(dataDir, "kubeconfig"), "-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	t.Run("default class", func(t *testing.T) {
		sc, err := cs.StorageV1().StorageClasses().Get(ctx, "standard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" || sc.VolumeBindingMode == nil ||
			*sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer || !ptr.Deref(sc.AllowVolumeExpansion, false) ||
			ptr.Deref(sc.ReclaimPolicy, "") != corev1.PersistentVolumeReclaimDelete {
			t.Fatalf("default StorageClass %+v", sc)
		}
		if out := kubectlRun("get", "storageclass"); !strings.Contains(out, "standard (default)") || !strings.Contains(out, "WaitForFirstConsumer") {
			t.Fatalf("kubectl get storageclass:\n%s", out)
		}
	})

	t.Run("statefulset claims bound where pods run", func(t *testing.T) {
		createStatefulSet(t, cs, ns, "db", 2)
		waitRunning(t, cs, ns, "app=db", 2, 3*time.Minute)
		for i := range 2 {
			pod, err := cs.CoreV1().Pods(ns).Get(ctx, fmt.Sprintf("db-%d", i), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			claim, pv := boundClaim(t, cs, ns, fmt.Sprintf("data-db-%d", i))
			if claim.Annotations["volume.kubernetes.io/selected-node"] != pod.Spec.NodeName {
				t.Errorf("claim %s selected node %q, pod runs on %s", claim.Name, claim.Annotations["volume.kubernetes.io/selected-node"], pod.Spec.NodeName)
			}
			if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != pod.Spec.NodeName {
				t.Errorf("volume %s affinity %+v, pod on %s", pv.Name, pv.Spec.NodeAffinity, pod.Spec.NodeName)
			}
			if m := status(pod, "db").VolumeMounts; len(m) == 0 || m[0].Name != "data" || m[0].MountPath != "/var/lib/postgresql" {
				t.Errorf("pod %s volumeMounts status %+v", pod.Name, m)
			}
		}
		out := kubectlRun("describe", "pvc", "data-db-0")
		for _, want := range []string{"ProvisioningSucceeded", "Bound"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl describe pvc lacks %s:\n%s", want, out)
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("claim grows", func(t *testing.T) {
		kubectlRun("patch", "pvc", "data-db-0", "-p", `{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}`)
		// The node grows the file system at the pod's next periodic sync
		// (a minute at most), as a kubelet does for a mounted volume.
		eventually(t, 2*time.Minute, "claim capacity 3Gi", func() error {
			claim, pv := boundClaim(t, cs, ns, "data-db-0")
			if got, vol := claim.Status.Capacity.Storage().String(), pv.Spec.Capacity.Storage().String(); got != "3Gi" || vol != "3Gi" {
				return fmt.Errorf("claim capacity %s, volume %s", got, vol)
			}
			return nil
		})
		eventually(t, 30*time.Second, "resize events", func() error {
			out := kubectlRun("describe", "pvc", "data-db-0")
			for _, want := range []string{"Resizing", "FileSystemResizeRequired"} {
				if !strings.Contains(out, want) {
					return fmt.Errorf("no %s event:\n%s", want, out)
				}
			}
			return nil
		})
	})

	t.Run("reclaim policies", func(t *testing.T) {
		keep := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Provisioner: "myriad.dev/local",
			ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRetain), VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}
		if _, err := cs.StorageV1().StorageClasses().Create(ctx, keep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "archive", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("keep"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}}}}
		if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "archiver", Namespace: ns, Labels: map[string]string{"app": "archiver"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36",
				VolumeMounts: []corev1.VolumeMount{{Name: "archive", MountPath: "/archive"}}}},
				Volumes: []corev1.Volume{{Name: "archive", VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "archive"}}}}}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRunning(t, cs, ns, "app=archiver", 1, 2*time.Minute)
		_, kept := boundClaim(t, cs, ns, "archive")
		_, deleted := boundClaim(t, cs, ns, "data-db-1")

		// Scale db to one pod and delete the pods' claims, as a user
		// cleaning up does.
		if _, err := cs.AppsV1().StatefulSets(ns).Patch(ctx, "db", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Pods(ns).Delete(ctx, "archiver", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"data-db-1", "archive"} {
			if err := cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 2*time.Minute, "volume of a Delete claim deleted", func() error {
			if _, err := cs.CoreV1().PersistentVolumes().Get(ctx, deleted.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("volume %s still there (%v)", deleted.Name, err)
			}
			return nil
		})
		eventually(t, time.Minute, "volume of a Retain claim Released", func() error {
			pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, kept.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if pv.Status.Phase != corev1.VolumeReleased {
				return fmt.Errorf("volume %s is %s", pv.Name, pv.Status.Phase)
			}
			return nil
		})
	})
}

func createStatefulSet(t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(replicas), ServiceName: name,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres:17",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/postgresql"}}}}},
			},
			// No storageClassName: the default class, as in most charts.
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}}},
			}},
		},
	}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(context.Background(), sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// boundClaim returns a claim that must be Bound and its volume.
func boundClaim(t *testing.T, cs kubernetes.Interface, ns, name string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	t.Helper()
	ctx := context.Background()
	claim, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if claim.Status.Phase != corev1.ClaimBound || claim.Spec.VolumeName == "" {
		t.Fatalf("claim %s is %s", name, claim.Status.Phase)
	}
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return claim, pv
}
