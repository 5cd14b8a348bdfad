package sandbox

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// ForPod is container name of pod, in its run containerID, as a command in
// it sees it: the kubelet's files, its volumes, the run's layer over image
// (the image's files, absolute paths to contents), and its environment. It
// returns nil if pod has no such container.
func (f *Files) ForPod(pod *corev1.Pod, name, containerID string, image map[string]string, clk clock.Clock) *Container {
	ctr := specOf(pod, name)
	if ctr == nil {
		return nil
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	pairs, notes := environment(pod, ctr)
	env := make([]string, len(pairs))
	for i, kv := range pairs {
		env[i] = kv[0] + "=" + kv[1]
	}
	var environ []byte
	for _, kv := range pairs {
		environ = append(environ, kv[0]+"="+kv[1]+"\x00"...)
	}
	generated := map[string]string{
		"/etc/hostname":      hostname(pod) + "\n",
		"/etc/hosts":         hostsFile(pod),
		"/etc/resolv.conf":   fmt.Sprintf("search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", pod.Namespace),
		"/proc/self/environ": string(environ),
		"/proc/1/environ":    string(environ),
	}
	view := f.View(ViewSpec{
		Pod: pod.Namespace + "/" + pod.Name, PodUID: pod.UID, Container: name, ContainerID: containerID,
		Generated: generated, Image: image, Mounts: mounts(pod, ctr), Now: clk.Now,
	})
	return &Container{Files: view, Env: env, Notes: notes, Hostname: hostname(pod), Clock: clk}
}

func specOf(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if c := &pod.Spec.EphemeralContainers[i]; c.Name == name {
			return (*corev1.Container)(&c.EphemeralContainerCommon)
		}
	}
	return nil
}

// mounts are ctr's volume mounts with the tree that holds each volume's
// files: a claim's (generic ephemeral volumes are claims named
// <pod>-<volume>) or the pod's emptyDir; other volumes' contents (ConfigMaps,
// Secrets, host paths, projections) are not simulated.
func mounts(pod *corev1.Pod, ctr *corev1.Container) []Mount {
	vols := make(map[string]*corev1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var out []Mount
	for _, vm := range ctr.VolumeMounts {
		m := Mount{Path: vm.MountPath, Volume: vm.Name, ReadOnly: vm.ReadOnly}
		if v := vols[vm.Name]; v != nil {
			switch {
			case v.PersistentVolumeClaim != nil:
				m.Claim = pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
				m.Tree = ClaimTree(pod.Namespace, v.PersistentVolumeClaim.ClaimName)
				m.ReadOnly = m.ReadOnly || v.PersistentVolumeClaim.ReadOnly
			case v.Ephemeral != nil:
				m.Claim = pod.Namespace + "/" + pod.Name + "-" + v.Name
				m.Tree = ClaimTree(pod.Namespace, pod.Name+"-"+v.Name)
			case v.EmptyDir != nil:
				m.Tree = EmptyDirTree(pod.UID, v.Name)
			case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil:
				m.ReadOnly = true // the kubelet mounts these read-only
			}
		}
		if vm.SubPath != "" && m.Tree != "" {
			// A subPath mounts one directory of the volume; keep it apart.
			m.Tree += "#" + vm.SubPath
		}
		out = append(out, m)
	}
	return out
}
