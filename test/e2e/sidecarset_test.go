package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// sidecarSetManifest is an OpenKruise v1alpha1 SidecarSet: a proxy before
// the app's containers, a log agent after them sharing the app's volumes
// and copying its TZ, a volume and a pull secret, in namespaces labelled
// team=a.
const sidecarSetManifest = `apiVersion: apps.kruise.io/v1alpha1
kind: SidecarSet
metadata:
  name: e2e-agent
spec:
  selector:
    matchLabels: {app: web}
  namespace: team-a
  namespaceSelector:
    matchLabels: {team: a}
  containers:
  - name: proxy
    image: proxy:1.0
    podInjectPolicy: BeforeAppContainer
  - name: log-agent
    image: agent:1.0
    podInjectPolicy: AfterAppContainer
    shareVolumePolicy: {type: enabled}
    transferEnv: [{sourceContainerName: main, envName: TZ}]
    volumeMounts: [{name: agent-conf, mountPath: /etc/agent}]
  volumes:
  - name: agent-conf
    emptyDir: {}
  imagePullSecrets: [{name: regcred}]
`

// TestSidecarSet injects an OpenKruise SidecarSet through the API server's
// MutatingAdmissionPolicy on a small cluster: a selected new pod gets the
// sidecars in order with volumes, shared mounts and env; a pod of other
// labels or of a namespace outside the selector does not; a pod created
// before the SidecarSet or while its injection is paused is reported;
// v1alpha1's namespace reads back through v1beta1; deleting the SidecarSet
// stops injection; an invalid SidecarSet is refused naming the field.
func TestSidecarSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	cs, kc := sidecarCluster(t, "sidecarset", []string{"get", "sidecarsets,mutatingadmissionpolicies,mutatingadmissionpolicybindings", "-o", "yaml"})
	ctx := context.Background()
	for ns, labels := range map[string]map[string]string{"team-a": {"team": "a"}, "team-b": {"team": "b"}} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "default ServiceAccount of "+ns, func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err
		})
	}

	// Invalid input is refused, naming the field.
	bad := strings.Replace(sidecarSetManifest, "podInjectPolicy: BeforeAppContainer", "podInjectPolicy: BeforeAppContainer\n    upgradeStrategy: {upgradeType: HotUpgrade}", 1)
	if out, err := kc(bad, "apply", "-f", "-"); err == nil || !strings.Contains(out, "spec.containers[0].upgradeStrategy.hotUpgradeEmptyImage") {
		t.Fatalf("a HotUpgrade sidecar without hotUpgradeEmptyImage: err %v, output %s; want refused naming the field", err, out)
	}

	early := createAppPod(t, cs, "team-a", "early", "web")
	if out, err := kc(sidecarSetManifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply SidecarSet: %v\n%s", err, out)
	}
	if len(early.Spec.Containers) != 1 {
		t.Fatalf("a pod created before the SidecarSet has %d containers", len(early.Spec.Containers))
	}

	// Admission put the injection in force before the SidecarSet was
	// stored, so the first pod created after it already gets its sidecars.
	pod := createAppPod(t, cs, "team-a", "web", "web")
	if got := containerNames(pod); got != "proxy,main,log-agent" {
		t.Errorf("containers %s, want proxy,main,log-agent", got)
	}
	agent := pod.Spec.Containers[2]
	mounts := map[string]string{}
	for _, m := range agent.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/etc/agent"] != "agent-conf" || mounts["/data"] != "data" {
		t.Errorf("log-agent mounts %v: want its own agent-conf and the app's data (shared)", mounts)
	}
	env := map[string]string{}
	for _, e := range agent.Env {
		env[e.Name] = e.Value
	}
	if env["TZ"] != "Europe/Berlin" || env["IS_INJECTED"] != "true" {
		t.Errorf("log-agent env %v: want TZ copied from main and IS_INJECTED", env)
	}
	vols := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = true
	}
	if !vols["agent-conf"] || !vols["data"] {
		t.Errorf("volumes %v: want the pod's data and the SidecarSet's agent-conf", vols)
	}
	if len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("pull secrets %v", pod.Spec.ImagePullSecrets)
	}
	if pod.Annotations[v1beta1.SidecarSetListAnnotation] != "e2e-agent" || !strings.Contains(pod.Annotations[v1beta1.SidecarSetHashAnnotation], `"e2e-agent":{`) {
		t.Errorf("annotations %v: want OpenKruise's injected list and hash", pod.Annotations)
	}

	for _, p := range []*corev1.Pod{createAppPod(t, cs, "team-a", "other", "other"), createAppPod(t, cs, "team-b", "web", "web")} {
		if got := containerNames(p); got != "main" {
			t.Errorf("pod %s/%s (labels %v) got containers %s; the SidecarSet does not select it", p.Namespace, p.Name, p.Labels, got)
		}
	}

	// The pod created before the SidecarSet is reported, in the status
	// and by an event.
	eventually(t, time.Minute, "status and report", func() error {
		out, err := kc("", "get", "sidecarset", "e2e-agent", "-o", "jsonpath={.status.matchedPods} {.status.conditions[?(@.type==\"PodsInjected\")].status} {.status.conditions[?(@.type==\"PodsInjected\")].message}")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.HasPrefix(out, "1 False 1 selected pods") || !strings.Contains(out, "team-a/early") {
			return fmt.Errorf("status %q: want 1 matched and PodsInjected False naming team-a/early", out)
		}
		ev, err := kc("", "get", "events", "-A", "--field-selector", "reason=PodsWithoutSidecars", "-o", "name")
		if err != nil || strings.TrimSpace(ev) == "" {
			return fmt.Errorf("no PodsWithoutSidecars event: %v %s", err, ev)
		}
		return nil
	})

	// v1alpha1's namespace is kept in the stored v1beta1 object.
	if out, err := kc("", "get", "sidecarsets.v1beta1.apps.kruise.io", "e2e-agent", "-o", "jsonpath={.spec.namespace}"); err != nil || out != "team-a" {
		t.Errorf("spec.namespace read through v1beta1: %q (%v), want team-a", out, err)
	}

	// Paused injection: new pods start without sidecars and are reported;
	// resumed, new pods get them again.
	if out, err := kc("", "patch", "sidecarset", "e2e-agent", "--type=merge", "-p", `{"spec":{"injectionStrategy":{"paused":true}}}`); err != nil {
		t.Fatalf("pause: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "injection paused", func() error {
		p, err := cs.CoreV1().Pods("team-a").Create(ctx, appPod("probe", "web"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if len(p.Spec.Containers) != 1 {
			return fmt.Errorf("still injected: %s", containerNames(p))
		}
		return nil
	})
	createAppPod(t, cs, "team-a", "while-paused", "web")
	eventually(t, time.Minute, "pod created while paused reported", func() error {
		out, err := kc("", "get", "sidecarset", "e2e-agent", "-o", "jsonpath={.status.conditions[?(@.type==\"PodsInjected\")].message}")
		if err != nil || !strings.HasPrefix(out, "2 selected pods") || !strings.Contains(out, "team-a/while-paused") {
			return fmt.Errorf("condition message %q (%v): want 2 pods, naming team-a/while-paused", out, err)
		}
		return nil
	})
	if out, err := kc("", "patch", "sidecarset", "e2e-agent", "--type=merge", "-p", `{"spec":{"injectionStrategy":{"paused":false}}}`); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "injection resumed", func() error {
		p, err := cs.CoreV1().Pods("team-a").Create(ctx, appPod("probe", "web"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if len(p.Spec.Containers) != 3 {
			return fmt.Errorf("not injected: %s", containerNames(p))
		}
		return nil
	})

	// A HotUpgrade sidecar (a v1beta1 manifest) is injected as its pair.
	const mesh = `apiVersion: apps.kruise.io/v1beta1
kind: SidecarSet
metadata:
  name: e2e-mesh
spec:
  selector:
    matchLabels: {app: mesh}
  containers:
  - name: envoy
    image: envoy:1.0
    podInjectPolicy: BeforeAppContainer
    upgradeStrategy: {upgradeType: HotUpgrade, hotUpgradeEmptyImage: empty:1.0}
`
	if out, err := kc(mesh, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply HotUpgrade SidecarSet: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "hot upgrade pair injected", func() error {
		p, err := cs.CoreV1().Pods("team-b").Create(ctx, appPod("mesh", "mesh"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if got := containerNames(p); got != "envoy-1,envoy-2,main" {
			return fmt.Errorf("containers %s, want envoy-1,envoy-2,main", got)
		}
		if p.Spec.Containers[1].Image != "empty:1.0" || p.Annotations["version.sidecarset.kruise.io/envoy-1"] != "1" {
			return fmt.Errorf("envoy-2 image %s, annotations %v", p.Spec.Containers[1].Image, p.Annotations)
		}
		return nil
	})

	// Deleting the SidecarSet stops injection.
	if out, err := kc("", "delete", "sidecarset", "e2e-agent"); err != nil {
		t.Fatalf("delete SidecarSet: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "injection stopped", func() error {
		if _, err := cs.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Get(ctx, "sidecarset-e2e-agent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("binding still there: %v", err)
		}
		p, err := cs.CoreV1().Pods("team-a").Create(ctx, appPod("after", "web"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if len(p.Spec.Containers) != 1 {
			return fmt.Errorf("still injected: %s", containerNames(p))
		}
		return nil
	})
}

func appPod(name, app string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "app:1.0",
				Env:          []corev1.EnvVar{{Name: "TZ", Value: "Europe/Berlin"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func createAppPod(t *testing.T, cs kubernetes.Interface, ns, name, app string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Create(context.Background(), appPod(name, app), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	return p
}

func containerNames(p *corev1.Pod) string {
	var out []string
	for _, c := range p.Spec.Containers {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

// sidecarCluster starts a 3-node cluster for a SidecarSet test and returns
// its client and a kubectl runner; when the test fails, the manager's last
// log lines and the objects the kubectl arguments in dump name are logged.
func sidecarCluster(t *testing.T, name string, dump ...[]string) (*kubernetes.Clientset, func(stdin string, args ...string) (string, error)) {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), name)
	up := startUp(t, dataDir, freePort(t), freePort(t), "--nodes", "3")
	t.Cleanup(func() { up.stop(t) })
	kc := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(dataDir, "kubeconfig")}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		raw, _ := os.ReadFile(filepath.Join(dataDir, "logs", "myriad-manager.log"))
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		t.Logf("myriad-manager.log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		for _, args := range dump {
			out, _ := kc("", args...)
			t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
		}
	})
	return up.client(t), kc
}
