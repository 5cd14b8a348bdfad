package nodesim

import (
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// A simulated node also plays the node agent that OpenKruise runs beside
// every kubelet (kruise-daemon's container-meta controller), for the one
// thing in-place updates need from it: a container whose environment reads
// a pod label or annotation (env valueFrom fieldRef) keeps the value it
// started with, so when an in-place update changes that label the agent
// restarts the container. Without it such updates would have to recreate
// pods (pkg/inplace Applicable), and manifests written for OpenKruise would
// behave differently here.
//
// The protocol is pkg/containermeta's: for every pod some container of
// which reads metadata, the node reports in the pod's
// apps.kruise.io/runtime-containers-meta annotation each container run with
// the hash of the values it started with; while the pod's
// InPlaceUpdateReady condition is False (an update is under way), a running
// container whose values differ from what the metadata now gives is
// restarted. The annotation goes in the same status patch as the run it
// describes, so the hash is of the metadata the run actually started with.
// Pods that read no metadata get no annotation and cost nothing.

// envRestartDue: c runs with environment values that the pod's labels or
// annotations no longer give, during an in-place update.
func envRestartDue(pod *corev1.Pod, c *corev1.Container, cs *corev1.ContainerStatus) bool {
	if cs.State.Running == nil || !containermeta.ReadsMetadata(c) || !updatingInPlace(pod) {
		return false
	}
	meta, err := containermeta.Read(pod)
	if err != nil {
		return false // rewritten below from the runs the node knows
	}
	run := containermeta.Find(meta, cs.ContainerID)
	return run != nil && run.Hashes.ExtractedEnvFromMetadataHash != 0 &&
		run.Hashes.ExtractedEnvFromMetadataHash != containermeta.EnvHash(c, pod.Labels, pod.Annotations)
}

// updatingInPlace: the pod's InPlaceUpdateReady condition is False.
func updatingInPlace(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == pub.InPlaceUpdateReady {
			return c.Status == corev1.ConditionFalse
		}
	}
	return false
}

// runtimeMeta is the annotation reporting the container runs of st, to set
// on the pod, or nil when the pod carries it already or reads no metadata.
// Runs the pod already reports keep their hashes; a new run started with
// the metadata the pod has now.
func runtimeMeta(pod *corev1.Pod, st *corev1.PodStatus) map[string]string {
	if !readsMetadata(pod) {
		return nil
	}
	old, _ := containermeta.Read(pod)
	set := pub.RuntimeContainerMetaSet{Containers: []pub.RuntimeContainerMeta{}}
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		c := specOf(pod, cs.Name)
		if cs.ContainerID == "" || c == nil {
			continue
		}
		if run := containermeta.Find(old, cs.ContainerID); run != nil {
			set.Containers = append(set.Containers, *run)
			continue
		}
		set.Containers = append(set.Containers, pub.RuntimeContainerMeta{
			Name: cs.Name, ContainerID: cs.ContainerID, RestartCount: cs.RestartCount,
			Hashes: pub.RuntimeContainerHashes{PlainHash: plainHash(c),
				ExtractedEnvFromMetadataHash: containermeta.EnvHash(c, pod.Labels, pod.Annotations)},
		})
	}
	v := containermeta.Encode(&set)
	if pod.Annotations[pub.RuntimeContainerMetaKey] == v {
		return nil
	}
	return map[string]string{pub.RuntimeContainerMetaKey: v}
}

// readsMetadata: some container of the pod reads a label or annotation
// into its environment. It runs at every sync of every pod, so it indexes
// rather than copying each container.
func readsMetadata(pod *corev1.Pod) bool {
	for i := range pod.Spec.Containers {
		if containermeta.ReadsMetadata(&pod.Spec.Containers[i]) {
			return true
		}
	}
	return false
}

// plainHash stands for the kubelet's hash of a container's spec, which a
// simulated node has no runtime label to read it from: FNV-32a of the
// name and image, enough to tell runs of different specs apart.
func plainHash(c *corev1.Container) uint64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(c.Name + "\x00" + c.Image))
	return uint64(h.Sum32())
}

func specOf(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}
