package e2e

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// testCloneSetEnvFromLabel: a template label a container reads into its
// environment changes in place. The simulated nodes, as OpenKruise's node
// daemon, report each run's environment and restart the container that
// reads the label; the pod keeps its UID and the container restarts once,
// started with the new value.
func testCloneSetEnvFromLabel(e *csEnv) {
	const name, replicas = "env-cs", 2
	cs := newCloneSet(e.ns, name, replicas, v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType)
	cs.Spec.Template.Labels["track"] = "stable"
	cs.Spec.Template.Spec.Containers = append(cs.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "envoy:1"})
	cs.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TRACK", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['track']"}}}}
	e.create(cs)
	e.settled(name, replicas, replicas, 90*time.Second)
	before := uids(e.pods(name))
	e.modify(name, func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Labels["track"] = "canary" })
	e.settled(name, replicas, replicas, 2*time.Minute)
	for _, p := range e.pods(name) {
		if before[p.Name] != p.UID {
			e.t.Errorf("pod %s was recreated, not updated in place", p.Name)
		}
		main, side := status(&p, "main"), status(&p, "side")
		if main == nil || main.RestartCount != 1 || side == nil || side.RestartCount != 0 {
			e.t.Errorf("pod %s: main %+v side %+v; want main restarted once, side not", p.Name, main, side)
			continue
		}
		meta, err := containermeta.Read(&p)
		run := containermeta.Find(meta, main.ContainerID)
		if err != nil || run == nil || run.Hashes.ExtractedEnvFromMetadataHash != containermeta.EnvHash(&p.Spec.Containers[0], p.Labels, p.Annotations) {
			e.t.Errorf("pod %s: main's run reported as %+v (%v); want it started with track=canary", p.Name, run, err)
		}
		if st := p.Annotations[pub.InPlaceUpdateStateKey]; st == "" {
			e.t.Errorf("pod %s has no in-place update state", p.Name)
		}
	}
}
