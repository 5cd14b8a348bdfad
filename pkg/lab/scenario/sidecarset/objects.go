package sidecarset

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Labels and names of what the bench creates. runLabel carries the run's
// namespace on every pod and in every SidecarSet's selector, so that its
// SidecarSets select only its own pods on a shared cluster.
const (
	runLabel    = "myriad.dev/bench-sidecarset"
	bucketLabel = "myriad.dev/bench-bucket"
	roleLabel   = "myriad.dev/bench-role"
	roleCreate  = "create"
	roleUpgrade = "upgrade"
	appName     = "app"
	// sidecarName is the sidecar of the one-SidecarSet phase and of the
	// upgrade; the S SidecarSets' are sidecar-<bucket>.
	sidecarName = "sidecar"
	// noScheduler is the schedulerName of the creation phases' pods: no
	// scheduler picks them, so a creation phase is admission and storage
	// alone (see createPod).
	noScheduler    = "myriad-bench-unscheduled"
	deploymentName = "bench"
	restartAnno    = "myriad.dev/bench-restarted-at"
)

// requests are small so that P pods fit on the nodes.
var requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}

// bucketName is the label value of bucket b of S.
func bucketName(b int) string { return fmt.Sprintf("%03d", b) }

// setName is a SidecarSet's name: cluster-scoped, so it carries the run.
func (x *run) setName(suffix string) string { return x.ns + "-" + suffix }

// createPod is pod i of a creation phase: a bare pod (owned by nothing)
// that no scheduler picks up. Bare, because a ReplicaSet's controller
// paces its creates (its own client rate limit and slow-start batches),
// which would time kube-controller-manager rather than admission; never
// scheduled, because binding and starting 10^4 pods would load the same
// two cores with the scheduler's and the simulated kubelets' work while
// creates are timed. What is left is exactly what a SidecarSet adds: the
// request through admission (every policy binding's match, the matching
// policy's CEL) and the larger object stored.
func (x *run) createPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("create-%06d", i),
			Namespace: x.ns,
			Labels: map[string]string{"app.kubernetes.io/created-by": rig.CreatedBy, runLabel: x.ns, roleLabel: roleCreate,
				bucketLabel: bucketName(i % x.o.SidecarSets)},
		},
		Spec: x.podSpec(noScheduler),
	}
}

func (x *run) podSpec(scheduler string) corev1.PodSpec {
	return corev1.PodSpec{
		SchedulerName:                scheduler,
		AutomountServiceAccountToken: ptr.To(false),
		Containers:                   []corev1.Container{{Name: appName, Image: x.o.Images[0], Resources: corev1.ResourceRequirements{Requests: requests}}},
	}
}

// sidecarSet selects the run's pods of role (and of bucket unless it is
// "") in the run's namespace only, and injects one sidecar.
func (x *run) sidecarSet(name, role, bucket, container, image string, typ v1beta1.SidecarSetUpdateStrategyType) *v1beta1.SidecarSet {
	sel := map[string]string{runLabel: x.ns, roleLabel: role}
	if bucket != "" {
		sel[bucketLabel] = bucket
	}
	ss := &v1beta1.SidecarSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/created-by": rig.CreatedBy, runLabel: x.ns}},
		Spec: v1beta1.SidecarSetSpec{
			Selector:          &metav1.LabelSelector{MatchLabels: sel},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: x.ns}},
			Containers: []v1beta1.SidecarContainer{{
				Container:       corev1.Container{Name: container, Image: image, Resources: corev1.ResourceRequirements{Requests: requests}},
				PodInjectPolicy: v1beta1.AfterAppContainerType,
			}},
			UpdateStrategy: v1beta1.SidecarSetUpdateStrategy{Type: typ},
		},
	}
	if typ == v1beta1.RollingUpdateSidecarSetStrategyType {
		mu, _, _ := lab.MaxUnavailable("--max-unavailable", x.o.MaxUnavailable, x.o.Pods)
		ss.Spec.UpdateStrategy.MaxUnavailable = &mu
	}
	return ss
}

// deployment is the upgrade phases' workload: P pods, rolled with the
// same maxUnavailable as the SidecarSet and no surge.
func (x *run) deployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/created-by": rig.CreatedBy, runLabel: x.ns, roleLabel: roleUpgrade}
	mu, _, _ := lab.MaxUnavailable("--max-unavailable", x.o.MaxUnavailable, x.o.Pods)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deploymentName, Namespace: x.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(x.o.Pods)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &mu, MaxSurge: ptr.To(intstr.FromInt32(0))}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: x.podSpec("")},
		},
	}
}

// sidecar is what a pod should carry: a container name and its image.
type sidecar struct{ name, image string }

// expected is the sidecars pod i's bucket should get with sets SidecarSets
// in force (0, 1, or S).
func expected(bucket string, sets int, image string) []sidecar {
	switch sets {
	case 0:
		return nil
	case 1:
		return []sidecar{{sidecarName, image}}
	}
	return []sidecar{{sidecarName + "-" + bucket, image}}
}

// checkInjected says what is wrong with a created pod's sidecars ("" when
// it carries exactly want): every container but the app's is a sidecar,
// and the injected-list annotation must name exactly want's SidecarSets.
func checkInjected(p *corev1.Pod, want []sidecar, wantSets []string) string {
	var got []sidecar
	for _, c := range p.Spec.Containers {
		if c.Name != appName {
			got = append(got, sidecar{c.Name, c.Image})
		}
	}
	sortSidecars(got)
	w := append([]sidecar(nil), want...)
	sortSidecars(w)
	if !slices.Equal(got, w) {
		return fmt.Sprintf("%s: sidecars %s, want %s", p.Name, fmtSidecars(got), fmtSidecars(w))
	}
	var list []string
	if v := p.Annotations[v1beta1.SidecarSetListAnnotation]; v != "" {
		list = strings.Split(v, ",")
	}
	sort.Strings(list)
	ws := append([]string(nil), wantSets...)
	sort.Strings(ws)
	if !slices.Equal(list, ws) {
		return fmt.Sprintf("%s: %s is %q, want %q", p.Name, v1beta1.SidecarSetListAnnotation, strings.Join(list, ","), strings.Join(ws, ","))
	}
	return ""
}

func sortSidecars(s []sidecar) {
	sort.Slice(s, func(i, j int) bool { return s[i].name < s[j].name })
}

func fmtSidecars(s []sidecar) string {
	if len(s) == 0 {
		return "none"
	}
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = c.name + "=" + c.image
	}
	return strings.Join(parts, ",")
}
