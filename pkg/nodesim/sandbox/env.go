package sandbox

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	kubectlresource "k8s.io/kubectl/pkg/util/resource"
)

// What a container sees of itself: the files the kubelet writes into it and
// its environment, derived from the pod alone.

func hostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

func hostsFile(pod *corev1.Pod) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	if pod.Status.PodIP != "" {
		fmt.Fprintf(&b, "%s\t%s\n", pod.Status.PodIP, hostname(pod))
	}
	for _, h := range pod.Spec.HostAliases {
		fmt.Fprintf(&b, "\n# Entries added by HostAliases.\n%s\t%s\n", h.IP, strings.Join(h.Hostnames, "\t"))
	}
	return b.String()
}

// environment is the container's environment as the kubelet would build
// it: the kubelet's own variables, then the spec's env in order, with
// values, field and resource references resolved from the pod. ConfigMap
// and Secret references are not resolved: the simulator's identity may
// not read them (least privilege; a kubelet reads only what its pods use,
// through the Node authorizer, which a simulator of many nodes cannot
// use), so each one is reported in notes instead.
func environment(pod *corev1.Pod, ctr *corev1.Container) (env [][2]string, notes []string) {
	set := func(k, v string) {
		if i := slices.IndexFunc(env, func(kv [2]string) bool { return kv[0] == k }); i >= 0 {
			env[i][1] = v
			return
		}
		env = append(env, [2]string{k, v})
	}
	set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	set("HOSTNAME", hostname(pod))
	for _, src := range ctr.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			notes = append(notes, fmt.Sprintf("variables from ConfigMap %q are not simulated", src.ConfigMapRef.Name))
		case src.SecretRef != nil:
			notes = append(notes, fmt.Sprintf("variables from Secret %q are not simulated", src.SecretRef.Name))
		}
	}
	for _, v := range ctr.Env {
		if v.ValueFrom == nil {
			set(v.Name, expandRefs(v.Value, env))
			continue
		}
		switch f := v.ValueFrom; {
		case f.FieldRef != nil:
			if val, ok := fieldValue(pod, f.FieldRef.FieldPath); ok {
				set(v.Name, val)
			} else {
				notes = append(notes, fmt.Sprintf("%s: field %q is not simulated", v.Name, f.FieldRef.FieldPath))
			}
		case f.ResourceFieldRef != nil:
			val, err := kubectlresource.ExtractContainerResourceValue(f.ResourceFieldRef, ctr)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s: %v", v.Name, err))
				continue
			}
			set(v.Name, val)
		case f.ConfigMapKeyRef != nil:
			notes = append(notes, fmt.Sprintf("%s comes from ConfigMap %q key %q, which is not simulated", v.Name, f.ConfigMapKeyRef.Name, f.ConfigMapKeyRef.Key))
		case f.SecretKeyRef != nil:
			notes = append(notes, fmt.Sprintf("%s comes from Secret %q key %q, which is not simulated", v.Name, f.SecretKeyRef.Name, f.SecretKeyRef.Key))
		}
	}
	set("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	set("KUBERNETES_SERVICE_PORT", "443")
	set("KUBERNETES_SERVICE_PORT_HTTPS", "443")
	set("KUBERNETES_PORT", "tcp://10.96.0.1:443")
	set("HOME", "/root")
	return env, notes
}

func lookup(env [][2]string, k string) (string, bool) {
	for _, kv := range env {
		if kv[0] == k {
			return kv[1], true
		}
	}
	return "", false
}

// expandRefs resolves $(VAR) references to variables defined before, as the
// kubelet does; $$ escapes a dollar and unknown references stay as written.
func expandRefs(s string, env [][2]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := lookup(env, name); ok {
					b.WriteString(v)
				} else {
					b.WriteString("$(" + name + ")")
				}
				i += 2 + end
				continue
			}
			b.WriteByte('$')
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// fieldValue resolves the downward API's env fieldPaths.
func fieldValue(pod *corev1.Pod, path string) (string, bool) {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		v := pod.Labels[strings.TrimSuffix(k, "']")]
		return v, true
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		v := pod.Annotations[strings.TrimSuffix(k, "']")]
		return v, true
	}
	switch path {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	case "spec.nodeName":
		return pod.Spec.NodeName, true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "status.hostIP":
		return pod.Status.HostIP, true
	case "status.podIP":
		return pod.Status.PodIP, true
	case "status.hostIPs", "status.podIPs":
		var ips []string
		if path == "status.hostIPs" {
			for _, ip := range pod.Status.HostIPs {
				ips = append(ips, ip.IP)
			}
		} else {
			for _, ip := range pod.Status.PodIPs {
				ips = append(ips, ip.IP)
			}
		}
		return strings.Join(ips, ","), true
	case "metadata.labels", "metadata.annotations":
		m := pod.Labels
		if path == "metadata.annotations" {
			m = pod.Annotations
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var lines []string
		for _, k := range keys {
			lines = append(lines, fmt.Sprintf("%s=%q", k, m[k]))
		}
		return strings.Join(lines, "\n"), true
	}
	return "", false
}
