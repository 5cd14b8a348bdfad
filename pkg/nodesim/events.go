package nodesim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/myriad-dev/myriad/pkg/nodesim/kubeletapi"
	"github.com/myriad-dev/myriad/pkg/nodesim/usage"
)

// The events a kubelet emits about the pods it runs, with its reasons and
// messages (pkg/kubelet/events), so `kubectl describe pod` and `kubectl
// events` read as on a real node.
//
// They are derived from what changed between the status the simulator
// last wrote and the one it has just written (podEvents, pure), never
// from a timer or state of their own, and sent through client-go's event
// recorder: one broadcaster and one sink goroutine for every node of the
// process, whose correlator folds repeats into counts and whose bounded
// queue drops events rather than ever delaying a status write or a
// heartbeat, as a busy kubelet's does.

// kubeletEvent is one event about a pod (fieldPath: which container).
type kubeletEvent struct {
	warning         bool
	reason, message string
	fieldPath       string
}

// eventRecorders send events as each node's kubelet.
type eventRecorders struct {
	broadcaster record.EventBroadcaster
	byNode      map[string]record.EventRecorder
}

func newEventRecorders(client kubernetes.Interface, nodes []*simNode) *eventRecorders {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	r := &eventRecorders{broadcaster: b, byNode: make(map[string]record.EventRecorder, len(nodes))}
	for _, n := range nodes {
		r.byNode[n.name] = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: n.name})
	}
	return r
}

// pod records evs about pod as node's kubelet. A nil recorder drops them.
func (r *eventRecorders) pod(node string, pod *corev1.Pod, evs []kubeletEvent) {
	if r == nil || len(evs) == 0 {
		return
	}
	rec := r.byNode[node]
	if rec == nil {
		return
	}
	for _, e := range evs {
		ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, FieldPath: e.fieldPath}
		typ := corev1.EventTypeNormal
		if e.warning {
			typ = corev1.EventTypeWarning
		}
		rec.Event(ref, typ, e.reason, e.message)
	}
}

// node records one event about node (the Node object) as its kubelet.
func (r *eventRecorders) node(name string, warning bool, reason, message string) {
	if r == nil {
		return
	}
	rec := r.byNode[name]
	if rec == nil {
		return
	}
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	// The kubelet refers to its Node by name, with the name as UID.
	rec.Event(&corev1.ObjectReference{Kind: "Node", Name: name, UID: types.UID(name)}, typ, reason, message)
}

func (r *eventRecorders) shutdown() {
	if r != nil {
		r.broadcaster.Shutdown()
	}
}

// podEvents are the kubelet's events for pod's status changing from old to
// cur, given the images the catalogue describes and how long each main
// container waited for its image to be on the node (pulls, by container
// name; absent: it already was).
func podEvents(pod *corev1.Pod, old, cur *corev1.PodStatus, images *ImageCatalog, pulls map[string]time.Duration) []kubeletEvent {
	// A container waits in ContainerCreating for its sandbox too; it is
	// pulling only once the sandbox is ready.
	sandbox := sandboxes{old: conditionTrue(old, corev1.PodReadyToStartContainers), cur: conditionTrue(cur, corev1.PodReadyToStartContainers)}
	var evs []kubeletEvent
	for _, group := range []struct {
		specs     []corev1.Container
		old, cur  []corev1.ContainerStatus
		fieldPath string
	}{
		{pod.Spec.InitContainers, old.InitContainerStatuses, cur.InitContainerStatuses, "spec.initContainers{%s}"},
		{pod.Spec.Containers, old.ContainerStatuses, cur.ContainerStatuses, "spec.containers{%s}"},
	} {
		for i := range group.cur {
			n := &group.cur[i]
			spec := containerSpec(group.specs, n.Name)
			if spec == nil {
				continue
			}
			o := containerStatus(group.old, n.Name)
			for _, e := range containerEvents(pod, spec, o, n, images.Lookup(spec.Image), pulls[spec.Name], sandbox) {
				e.fieldPath = fmt.Sprintf(group.fieldPath, n.Name)
				evs = append(evs, e)
			}
		}
	}
	return evs
}

// sandboxes says whether the pod's sandbox was ready in the old status and
// is in the new one.
type sandboxes struct{ old, cur bool }

// containerEvents are the events of one container going from o (nil: no
// status yet) to n, whose image img took pulled to be on the node.
func containerEvents(pod *corev1.Pod, spec *corev1.Container, o, n *corev1.ContainerStatus, img Image, pulled time.Duration, sandbox sandboxes) []kubeletEvent {
	var evs []kubeletEvent
	add := func(warning bool, reason, format string, args ...any) {
		evs = append(evs, kubeletEvent{warning: warning, reason: reason, message: fmt.Sprintf(format, args...)})
	}
	oldRunning := o != nil && o.State.Running != nil
	// wasPulling: the old status already showed this image's pull.
	wasPulling := o != nil && sandbox.old && o.State.Waiting != nil && o.State.Waiting.Reason == "ContainerCreating" && o.Image == n.Image
	newRun := n.State.Running != nil && (o == nil || o.ContainerID != n.ContainerID)
	waitingAnew := func(reason string) bool {
		return n.State.Waiting != nil && n.State.Waiting.Reason == reason &&
			(o == nil || o.State.Waiting == nil || o.State.Waiting.Reason != reason || o.Image != n.Image)
	}
	// The run before ended: for a new image, for a failed liveness probe.
	if oldRunning && n.ContainerID != o.ContainerID {
		switch {
		case o.Image != n.Image:
			add(false, "Killing", "Container %s definition changed, will be restarted", spec.Name)
		case spec.LivenessProbe != nil && n.LastTerminationState.Terminated != nil && n.LastTerminationState.Terminated.ExitCode == livenessKill &&
			n.LastTerminationState.Terminated.Reason != "OOMKilled":
			add(true, "Unhealthy", "Liveness probe failed: %s", probeFailure(spec.LivenessProbe))
			add(false, "Killing", "Container %s failed liveness probe, will be restarted", spec.Name)
		}
	}
	pulling := func() {
		if pulled > 0 || img.PullError != "" {
			add(false, "Pulling", "Pulling image %q", spec.Image)
		}
	}
	switch {
	case n.State.Waiting != nil && n.State.Waiting.Reason == "ContainerCreating":
		if sandbox.cur && !wasPulling {
			pulling()
		}
	case waitingAnew("ErrImagePull"):
		if !wasPulling {
			pulling()
		}
		add(true, "Failed", "Failed to pull image %q: %s", spec.Image, img.PullError)
		add(true, "Failed", "Error: ErrImagePull")
	case waitingAnew("ImagePullBackOff"):
		add(false, "BackOff", "Back-off pulling image %q", spec.Image)
		add(true, "Failed", "Error: ImagePullBackOff")
	case waitingAnew("CrashLoopBackOff"):
		add(true, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", spec.Name, pod.Name, pod.Namespace, pod.UID)
	case newRun:
		// A pull that took no time is an image already on the node.
		if pulled > 0 && !wasPulling {
			pulling() // the pull began and ended between two looks
		}
		if pulled > 0 {
			add(false, "Pulled", "Successfully pulled image %q in %s", spec.Image, pulled.Round(time.Millisecond))
		} else {
			add(false, "Pulled", "Container image %q already present on machine", spec.Image)
		}
		add(false, "Created", "Created container: %s", spec.Name)
		add(false, "Started", "Started container %s", spec.Name)
	case oldRunning && n.State.Running != nil && o.ContainerID == n.ContainerID && o.Ready && !n.Ready && spec.ReadinessProbe != nil:
		add(true, "Unhealthy", "Readiness probe failed: %s", probeFailure(spec.ReadinessProbe))
	}
	return evs
}

// probeFailure is what the kubelet says a probe of this kind got.
func probeFailure(p *corev1.Probe) string {
	switch {
	case p.HTTPGet != nil:
		return "HTTP probe failed with statuscode: 404"
	case p.Exec != nil:
		return "command failed with a non-zero exit code"
	}
	return "probe failed"
}

// stopEvents are the kubelet's events for stopping pod's running
// containers when the pod is deleted.
func stopEvents(pod *corev1.Pod) []kubeletEvent {
	var evs []kubeletEvent
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil {
			evs = append(evs, kubeletEvent{reason: "Killing", message: "Stopping container " + cs.Name, fieldPath: fmt.Sprintf("spec.containers{%s}", cs.Name)})
		}
	}
	return evs
}

func containerSpec(specs []corev1.Container, name string) *corev1.Container {
	for i := range specs {
		if specs[i].Name == name {
			return &specs[i]
		}
	}
	return nil
}

func containerStatus(statuses []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

// annotationEvents are one Warning per malformed behaviour annotation of
// pod (durations, exit codes, log interval, usage models) whose value is
// not what seen says (nil: none seen): each is ignored for the pod, which
// runs with the default, and the event names the annotation and what is
// wrong, so a typo is visible in `kubectl describe pod` rather than
// silently simulated as something else. It allocates nothing for a pod
// without a new behaviour annotation (it runs at every pod update).
func annotationEvents(pod *corev1.Pod, seen map[string]string) []kubeletEvent {
	var evs []kubeletEvent
	bad := func(key string, err error) {
		evs = append(evs, kubeletEvent{warning: true, reason: "InvalidSimulationAnnotation",
			message: fmt.Sprintf("annotation %s ignored, the default applies: %v", key, err)})
	}
	for key, v := range pod.Annotations {
		if !strings.HasPrefix(key, "nodes.myriad.dev/") {
			continue
		}
		if was, ok := seen[key]; ok && was == v {
			continue
		}
		switch {
		case key == RunDurationAnnotation || key == StopDurationAnnotation:
			if d, err := time.ParseDuration(v); err != nil || d < 0 {
				bad(key, fmt.Errorf("%q is not a duration like 30s", v))
			}
		case key == kubeletapi.LogIntervalAnnotation:
			if d, err := time.ParseDuration(v); err != nil || d < kubeletapi.MinLogInterval {
				bad(key, fmt.Errorf("%q is not a duration of at least %s", v, kubeletapi.MinLogInterval))
			}
		case key == ExitCodeAnnotation:
			if _, err := strconv.ParseInt(v, 10, 32); err != nil {
				bad(key, fmt.Errorf("%q is not an exit code", v))
			}
		case isUsageAnnotation(key, kubeletapi.CPUUsageAnnotation) || isUsageAnnotation(key, kubeletapi.MemoryUsageAnnotation) || isUsageAnnotation(key, kubeletapi.DiskUsageAnnotation):
			if _, err := usage.Parse(v); err != nil {
				bad(key, err)
			}
		}
	}
	slices.SortFunc(evs, func(a, b kubeletEvent) int { return strings.Compare(a.message, b.message) })
	return evs
}

// isUsageAnnotation: key is base or base.CONTAINER.
func isUsageAnnotation(key, base string) bool {
	return key == base || strings.HasPrefix(key, base+".")
}
