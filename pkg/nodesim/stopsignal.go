package nodesim

import (
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// How long a container takes to exit when the kubelet stops it (a pod's
// deletion, or an in-place restart). The kubelet sends the
// stop signal (SIGTERM) to each container's PID 1 and SIGKILLs what still
// runs when the grace period ends. The kernel delivers a signal to the init
// of a PID namespace only if it installed a handler, so a container whose
// PID 1 is a shell or sleep (`sh -c "sleep 1000000"`, the command of
// countless test pods, OpenKruise's among them) ignores SIGTERM and takes
// the whole grace period to go; programs that handle it, a shell that traps
// TERM, and images' own entrypoints (which the simulator cannot read) are
// taken to exit at once. StopDurationAnnotation, when set, says instead.

// stopDuration is how long after deletion was requested pod's containers
// have all exited, given its grace period.
func stopDuration(pod *corev1.Pod, grace time.Duration) time.Duration {
	if _, ok := pod.Annotations[StopDurationAnnotation]; ok {
		return min(grace, annotationDuration(pod, StopDurationAnnotation, 0))
	}
	for _, c := range pod.Spec.Containers {
		if ignoresSIGTERM(c) && runs(pod, c.Name) {
			return grace
		}
	}
	return 0
}

// killDuration is how long the kubelet's kill of container c of pod takes
// when it restarts it in place: the pod's grace period if c's PID 1
// ignores SIGTERM, else nothing.
func killDuration(pod *corev1.Pod, c corev1.Container) time.Duration {
	if !ignoresSIGTERM(c) {
		return 0
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	return time.Duration(grace) * time.Second
}

// ignoresSIGTERM: c's PID 1 is a program that installs no SIGTERM
// handler (sleep, tail, cat), or a shell that neither traps signals nor
// execs another program.
func ignoresSIGTERM(c corev1.Container) bool {
	if len(c.Command) == 0 {
		return false // the image's entrypoint
	}
	argv := append(append([]string{}, c.Command...), c.Args...)
	switch path.Base(argv[0]) {
	case "sleep", "tail", "cat":
		return true
	case "sh", "bash", "ash", "dash":
		script := strings.Join(argv[1:], " ")
		if strings.Contains(script, "trap") {
			return false
		}
		// `exec prog` makes prog PID 1.
		if i := strings.Index(script, "exec "); i >= 0 {
			fields := strings.Fields(script[i+len("exec "):])
			return len(fields) > 0 && ignoresSIGTERM(corev1.Container{Command: fields[:1]})
		}
		return true
	}
	return false
}

// runs: the pod reports container name running.
func runs(pod *corev1.Pod, name string) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == name {
			return cs.State.Running != nil
		}
	}
	return false
}
