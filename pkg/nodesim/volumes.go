package nodesim

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// byClaimIndex indexes pods by the "namespace/name" of each claim they
// mount, so a claim that becomes Bound wakes exactly the pods waiting on it.
const byClaimIndex = "claim"

// kindVolumes counts status writes of pods waiting for their volumes.
const kindVolumes = "waiting-volumes"

// pvcProtectionFinalizer is kubernetes.io/pvc-protection: a claim that is
// being deleted but still has it is still usable by pods already using it.
const pvcProtectionFinalizer = "kubernetes.io/pvc-protection"

// podClaims returns the names of the claims pod mounts: its
// persistentVolumeClaim volumes and the claims of its generic ephemeral
// volumes, which are named <pod>-<volume>.
func podClaims(pod *corev1.Pod) []string {
	var names []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			names = append(names, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			names = append(names, pod.Name+"-"+v.Name)
		}
	}
	return names
}

func indexByClaim(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	claims := podClaims(p)
	for i, c := range claims {
		claims[i] = p.Namespace + "/" + c
	}
	return claims, nil
}

// claimInformer watches PersistentVolumeClaims, keeping only what the
// kubelet's volume manager checks before it mounts one (phase, volume,
// deletion and protection finalizer); a few hundred bytes a claim.
func (s *sim) claimInformer() cache.SharedIndexInformer {
	inf := coreinformers.NewPersistentVolumeClaimInformer(s.client, metav1.NamespaceAll, 0, cache.Indexers{})
	_ = inf.SetTransform(func(obj any) (any, error) {
		c, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok {
			return obj, nil
		}
		slim := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace, UID: c.UID,
				ResourceVersion: c.ResourceVersion, DeletionTimestamp: c.DeletionTimestamp},
			Spec:   corev1.PersistentVolumeClaimSpec{VolumeName: c.Spec.VolumeName},
			Status: corev1.PersistentVolumeClaimStatus{Phase: c.Status.Phase},
		}
		if slices.Contains(c.Finalizers, pvcProtectionFinalizer) {
			slim.Finalizers = []string{pvcProtectionFinalizer}
		}
		if nodeExpansionPending(c) {
			// What the node's part of a resize reads and rewrites
			// (expansion.go); only while it waits.
			slim.Spec.Resources = c.Spec.Resources
			slim.Status.Capacity, slim.Status.Conditions = c.Status.Capacity, c.Status.Conditions
			slim.Status.AllocatedResources, slim.Status.AllocatedResourceStatuses = c.Status.AllocatedResources, c.Status.AllocatedResourceStatuses
		}
		return slim, nil
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onClaim,
		UpdateFunc: func(_, obj any) { s.onClaim(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if c, ok := obj.(*corev1.PersistentVolumeClaim); ok {
				s.files.ForgetClaim(c.Namespace, c.Name) // its volume's data goes with it
			}
		},
	})
	return inf
}

// onClaim requeues the pods of our nodes that mount the claim.
func (s *sim) onClaim(obj any) {
	c, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok || s.pods == nil || !s.podsStarted.Load() {
		return
	}
	pods, _ := s.pods.GetIndexer().ByIndex(byClaimIndex, c.Namespace+"/"+c.Name)
	for _, o := range pods {
		s.onPod(o)
	}
}

// unmountable returns the pod's volumes whose claims the kubelet could not
// mount now, with why (the volume manager's own words), in volume order.
func (s *sim) unmountable(pod *corev1.Pod) []blockedVolume {
	var blocked []blockedVolume
	for _, v := range pod.Spec.Volumes {
		var claim string
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			claim = pod.Name + "-" + v.Name
		default:
			continue
		}
		obj, exists, _ := s.claims.GetIndexer().GetByKey(pod.Namespace + "/" + claim)
		var why string
		switch c, _ := obj.(*corev1.PersistentVolumeClaim); {
		case !exists || c == nil:
			why = "persistentvolumeclaim \"" + claim + "\" not found"
		case c.DeletionTimestamp != nil && !slices.Contains(c.Finalizers, pvcProtectionFinalizer):
			why = "PVC is being deleted"
		case c.Status.Phase != corev1.ClaimBound:
			why = "PVC is not bound"
		case c.Spec.VolumeName == "":
			why = "PVC has empty pvc.Spec.VolumeName"
		default:
			continue
		}
		blocked = append(blocked, blockedVolume{volume: v.Name, claim: claim, why: why})
	}
	return blocked
}

// blockedVolume is a pod volume whose claim cannot be mounted yet.
type blockedVolume struct{ volume, claim, why string }

// containersCreated reports whether the kubelet got past mounting volumes:
// some container of the pod has run. Volumes are only waited for before.
func containersCreated(st *corev1.PodStatus) bool {
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for _, cs := range list {
			if cs.State.Running != nil || cs.State.Terminated != nil || cs.ContainerID != "" {
				return true
			}
		}
	}
	return false
}

// waitingForVolumes is the status a kubelet reports for a pod whose volumes
// it cannot mount: Pending, no sandbox (so no pod IP and
// PodReadyToStartContainers False), every container Waiting with
// ContainerCreating (PodInitializing behind init containers).
func (e podEnv) waitingForVolumes(pod *corev1.Pod) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	now := metav1.NewTime(e.now)
	st.Phase = corev1.PodPending
	if st.StartTime == nil {
		st.StartTime = &now
	}
	if st.HostIP == "" {
		st.HostIP = e.hostIP
		st.HostIPs = []corev1.HostIP{{IP: e.hostIP}}
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	waiting := func(cs []corev1.Container, reason string) []corev1.ContainerStatus {
		var out []corev1.ContainerStatus
		for _, c := range cs {
			out = append(out, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptrBool(false),
				VolumeMounts: volumeMountStatuses(c),
				State:        corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}})
		}
		return out
	}
	mainReason := "ContainerCreating"
	setCondition(st, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "", now)
	if len(pod.Spec.InitContainers) > 0 {
		st.InitContainerStatuses = waiting(pod.Spec.InitContainers, "PodInitializing")
		mainReason = "PodInitializing"
		setCondition(st, corev1.PodInitialized, corev1.ConditionFalse, "ContainersNotInitialized", now)
	} else {
		setCondition(st, corev1.PodInitialized, corev1.ConditionTrue, "", now)
	}
	st.ContainerStatuses = waiting(pod.Spec.Containers, mainReason)
	setCondition(st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", now)
	setCondition(st, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", now)
	return st
}

// volumeMountStatuses is what the kubelet (v1.31+, RecursiveReadOnlyMounts
// GA) reports in containerStatuses[].volumeMounts: every mount of the
// container, and for read-only ones whether the mount is recursively
// read-only. The simulated runtime (containerd 2 on a recent kernel)
// supports that, so IfPossible resolves to Enabled.
func volumeMountStatuses(c corev1.Container) []corev1.VolumeMountStatus {
	var out []corev1.VolumeMountStatus
	for _, m := range c.VolumeMounts {
		s := corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			mode := corev1.RecursiveReadOnlyDisabled
			if r := m.RecursiveReadOnly; r != nil && *r != corev1.RecursiveReadOnlyDisabled {
				mode = corev1.RecursiveReadOnlyEnabled
			}
			s.RecursiveReadOnly = &mode
		}
		out = append(out, s)
	}
	return out
}

// failedMountMessage is the message of the FailedMount event a kubelet
// records for such a pod (kubelet.go, volume_manager.go).
func failedMountMessage(pod *corev1.Pod, blocked []blockedVolume) string {
	var names, errs []string
	for _, b := range blocked {
		names = append(names, b.volume)
		errs = append(errs, "error processing PVC "+pod.Namespace+"/"+b.claim+": "+b.why)
	}
	list := "[" + strings.Join(names, " ") + "]"
	return "Unable to attach or mount volumes: unmounted volumes=" + list + ", unattached volumes=[], failed to process volumes=" +
		list + ": " + strings.Join(errs, "; ")
}
