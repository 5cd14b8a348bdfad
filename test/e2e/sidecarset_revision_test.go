package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// revisionManifest is an OpenKruise v1beta1 SidecarSet at customVersion
// v1, its log agent at image agent:1.0.
const revisionManifest = `apiVersion: apps.kruise.io/v1beta1
kind: SidecarSet
metadata:
  name: e2e-rev
spec:
  customVersion: v1
  selector:
    matchLabels: {app: rev}
  containers:
  - name: log-agent
    image: agent:1.0
`

// TestSidecarSetRevision pins injection to an older revision on a small
// cluster: each spec is recorded as a ControllerRevision in kube-system;
// after the image moves to agent:2.0, pinning revision v1 (policy Always)
// gives new pods agent:1.0 again; a pin naming no revision refuses new
// pods and is reported; removing the pin injects the current spec; a
// second SidecarSet injecting a container of the same name into the same
// pods is refused naming the field.
func TestSidecarSetRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	cs, kc := sidecarCluster(t, "sidecarset-rev", []string{"get", "sidecarsets,mutatingadmissionpolicies", "-o", "yaml"},
		[]string{"get", "controllerrevisions", "-n", "kube-system", "--show-labels"})
	ctx := context.Background()
	eventually(t, time.Minute, "default ServiceAccount", func() error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	// revisionOf waits for the revision labelled with customVersion and
	// returns its name.
	revisionOf := func(customVersion string) string {
		var name string
		eventually(t, time.Minute, "revision of customVersion "+customVersion, func() error {
			list, err := cs.AppsV1().ControllerRevisions("kube-system").List(ctx, metav1.ListOptions{
				LabelSelector: "kruise.io/sidecarset-name=e2e-rev," + v1beta1.SidecarSetCustomVersionLabel + "=" + customVersion})
			if err != nil {
				return err
			}
			if len(list.Items) != 1 {
				return fmt.Errorf("%d revisions", len(list.Items))
			}
			name = list.Items[0].Name
			return nil
		})
		return name
	}
	patch := func(body string) {
		t.Helper()
		if out, err := kc("", "patch", "sidecarset", "e2e-rev", "--type=merge", "-p", body); err != nil {
			t.Fatalf("patch %s: %v\n%s", body, err, out)
		}
	}

	if out, err := kc(revisionManifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply SidecarSet: %v\n%s", err, out)
	}
	v1 := revisionOf("v1")
	waitImage(t, cs, "agent:1.0")
	patch(`{"spec":{"customVersion":"v2","containers":[{"name":"log-agent","image":"agent:2.0"}]}}`)
	v2 := revisionOf("v2")
	if v1 == v2 {
		t.Fatalf("one revision %s for two images", v1)
	}
	waitImage(t, cs, "agent:2.0")

	// Pinned to v1's revision by name, policy Always: new pods get
	// agent:1.0 and record that revision.
	patch(fmt.Sprintf(`{"spec":{"injectionStrategy":{"revision":{"revisionName":%q,"policy":"Always"}}}}`, v1))
	waitImage(t, cs, "agent:1.0")
	pod := createAppPod(t, cs, "default", "pinned", "rev")
	if img := sidecarImage(pod); img != "agent:1.0" || !strings.Contains(pod.Annotations[v1beta1.SidecarSetHashAnnotation], `"controllerRevision":"`+v1+`"`) {
		t.Errorf("pinned pod: image %s, hash annotation %s; want agent:1.0 recorded as %s", img, pod.Annotations[v1beta1.SidecarSetHashAnnotation], v1)
	}
	eventually(t, time.Minute, "RevisionPinned True", func() error {
		out, err := kc("", "get", "sidecarset", "e2e-rev", "-o", `jsonpath={.status.conditions[?(@.type=="RevisionPinned")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("%q %v", out, err)
		}
		return nil
	})

	// A pin naming no revision: new pods are refused, saying why, and the
	// SidecarSet reports it.
	patch(`{"spec":{"injectionStrategy":{"revision":{"revisionName":"e2e-rev-gone"}}}}`)
	eventually(t, time.Minute, "pods refused while the pinned revision is missing", func() error {
		_, err := cs.CoreV1().Pods("default").Create(ctx, appPod("probe", "rev"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), "revisionName e2e-rev-gone, which does not exist") {
			return fmt.Errorf("create: %v", err)
		}
		return nil
	})
	eventually(t, time.Minute, "missing revision reported", func() error {
		out, err := kc("", "get", "sidecarset", "e2e-rev", "-o", `jsonpath={.status.conditions[?(@.type=="RevisionPinned")].reason}`)
		if err != nil || out != "RevisionNotFound" {
			return fmt.Errorf("condition reason %q %v", out, err)
		}
		ev, err := kc("", "get", "events", "-A", "--field-selector", "reason=RevisionNotFound", "-o", "name")
		if err != nil || strings.TrimSpace(ev) == "" {
			return fmt.Errorf("no RevisionNotFound event: %v %s", err, ev)
		}
		return nil
	})

	// Unpinned: the current spec again.
	patch(`{"spec":{"injectionStrategy":{"revision":null}}}`)
	waitImage(t, cs, "agent:2.0")

	// Another SidecarSet may not inject a log-agent into the same pods.
	clash := strings.NewReplacer("name: e2e-rev", "name: e2e-clash", "app: rev}", "app: rev, tier: front}").Replace(revisionManifest)
	if out, err := kc(clash, "apply", "-f", "-"); err == nil || !strings.Contains(out, "spec.containers[0].name") || !strings.Contains(out, "e2e-rev") {
		t.Errorf("a clashing SidecarSet: err %v, output %s; want refused naming spec.containers[0].name and e2e-rev", err, out)
	}
}

// waitImage waits until a new pod of app rev gets the log agent at image.
func waitImage(t *testing.T, cs kubernetes.Interface, image string) {
	t.Helper()
	eventually(t, time.Minute, "new pods get "+image, func() error {
		p, err := cs.CoreV1().Pods("default").Create(context.Background(), appPod("probe", "rev"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if img := sidecarImage(p); img != image {
			return fmt.Errorf("log-agent image %q", img)
		}
		return nil
	})
}

func sidecarImage(p *corev1.Pod) string {
	for _, c := range p.Spec.Containers {
		if c.Name == "log-agent" {
			return c.Image
		}
	}
	return ""
}
