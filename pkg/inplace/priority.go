package inplace

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// Container launch priority, as OpenKruise defines it for in-place updates:
// a container's KRUISE_CONTAINER_PRIORITY env (an integer), or descending
// priorities in spec order when the pod is annotated
// apps.kruise.io/container-launch-priority: Ordered. Image changes go in
// batches of equal priority, highest first; a batch starts once every
// container of the one before runs its new image. OpenKruise's pod webhook
// turns the env into a barrier env; Myriad never mutates pods at admission,
// so it reads the user's env directly (and the barrier env on pods
// OpenKruise created).

// launchPriority is the container's priority; 0 when it has none.
func launchPriority(pod *corev1.Pod, name string) int {
	if pod.Annotations[pub.ContainerLaunchPriorityKey] == pub.ContainerLaunchOrdered {
		for i, c := range pod.Spec.Containers {
			if c.Name == name {
				return -i
			}
		}
	}
	c := specContainer(pod, name)
	if c == nil {
		return 0
	}
	for _, e := range c.Env {
		switch {
		case e.Name == pub.ContainerLaunchPriorityEnvName && e.ValueFrom == nil:
			if p, err := strconv.Atoi(e.Value); err == nil {
				return p
			}
		case e.Name == pub.ContainerLaunchBarrierEnvName && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			if p, err := strconv.Atoi(strings.TrimPrefix(e.ValueFrom.ConfigMapKeyRef.Key, "p_")); err == nil {
				return p
			}
		}
	}
	return 0
}

// splitBatch splits the containers to change into the first batch, those
// of the highest launch priority (sorted by name), and the rest (sorted).
func splitBatch(pod *corev1.Pod, names []string) (batch, rest []string) {
	if len(names) == 0 {
		return nil, nil
	}
	top := launchPriority(pod, names[0])
	for _, name := range names[1:] {
		top = max(top, launchPriority(pod, name))
	}
	for _, name := range names {
		if launchPriority(pod, name) == top {
			batch = append(batch, name)
		} else {
			rest = append(rest, name)
		}
	}
	slices.Sort(batch)
	slices.Sort(rest)
	return batch, rest
}
