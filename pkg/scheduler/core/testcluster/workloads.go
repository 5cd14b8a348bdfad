package testcluster

import (
	"math/rand/v2"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// What kube-scheduler's system-default topology spreading and ImageLocality
// read: Services and controllers selecting pods, controller references, and
// images on nodes and in pods. Each generator covers the cases where kube's
// rules are easy to get wrong.

// workload is a controller (or none) whose pods a generated pod may join.
type workload struct {
	labels map[string]string
	ref    *metav1.OwnerReference // nil: no controller
	unique bool                   // StatefulSet: a per-pod label too
}

var mib = int64(1 << 20)

// workloadsIn is the same set of workloads in every namespace: kube looks
// controllers and Services up in the pod's own namespace, so pods of
// "default" and "team1" with equal labels and owners still differ.
func workloadsIn() []workload {
	ctrl := func(apiVersion, kind, name string) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}
	}
	notController := ctrl("apps/v1", "ReplicaSet", "web-h1")
	notController.Controller = ptr.To(false)
	return []workload{
		{labels: map[string]string{"app": "a", "pod-template-hash": "h1"}, ref: ctrl("apps/v1", "ReplicaSet", "web-h1")},
		{labels: map[string]string{"app": "a", "pod-template-hash": "h1", "tier": "front"}, ref: ctrl("apps/v1", "ReplicaSet", "web-h1")},
		{labels: map[string]string{"app": "b", "pod-template-hash": "h2"}, ref: ctrl("apps/v1", "ReplicaSet", "api-h2")},
		{labels: map[string]string{"app": "b", "tier": "front"}, ref: ctrl("apps/v1", "ReplicaSet", "api-h2")},
		{labels: map[string]string{"app": "c", "role": "db"}, ref: ctrl("apps/v1", "StatefulSet", "db"), unique: true},
		{labels: map[string]string{"app": "d", "rc": "legacy"}, ref: ctrl("v1", "ReplicationController", "legacy")},
		{labels: map[string]string{"app": "d"}, ref: ctrl("apps/v1", "ReplicaSet", "everything")}, // empty selector adds nothing
		{labels: map[string]string{"app": "b"}, ref: ctrl("apps/v1", "ReplicaSet", "gone")},       // owner not found
		{labels: map[string]string{"app": "a"}, ref: notController},                               // not a controller reference
		{labels: map[string]string{"app": "b"}, ref: ctrl("extensions/v1beta1", "ReplicaSet", "api-h2")},
		{labels: map[string]string{"app": "c"}, ref: ctrl("batch/v1", "Job", "nightly")},
		{labels: map[string]string{"app": "a"}},
		{labels: map[string]string{"app": "c", "role": "db"}},
	}
}

func (c *Cluster) addWorkloadObjects() {
	for _, ns := range nss {
		meta := func(name string) metav1.ObjectMeta {
			return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}
		}
		c.ReplicaSets = append(c.ReplicaSets,
			&appsv1.ReplicaSet{ObjectMeta: meta("web-h1"), Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"app": "a", "pod-template-hash": "h1"}}}},
			&appsv1.ReplicaSet{ObjectMeta: meta("api-h2"), Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "b"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "pod-template-hash", Operator: metav1.LabelSelectorOpIn, Values: []string{"h2", "h3"}}}}}},
			&appsv1.ReplicaSet{ObjectMeta: meta("everything"), Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{}}},
		)
		c.StatefulSets = append(c.StatefulSets, &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "c", "role": "db"}}}})
		c.ReplicationControllers = append(c.ReplicationControllers, &v1.ReplicationController{ObjectMeta: meta("legacy"),
			Spec: v1.ReplicationControllerSpec{Selector: map[string]string{"app": "d", "rc": "legacy"}}})
		svc := func(name string, sel map[string]string) *v1.Service {
			return &v1.Service{ObjectMeta: meta(name), Spec: v1.ServiceSpec{Selector: sel}}
		}
		c.Services = append(c.Services,
			svc("a", map[string]string{"app": "a"}),
			svc("front", map[string]string{"tier": "front"}),
			svc("db", map[string]string{"app": "c"}),
			svc("all", map[string]string{}), // selects every pod, adds nothing
			svc("external", nil),            // selects no pod
		)
	}
	// Only in "default": the same pods get different selectors per namespace.
	c.Services = append(c.Services, &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "d", UID: "uid-svc-d"},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": "d"}}})
}

// WorkloadObjects returns the Services and controllers, for informers.
func (c *Cluster) WorkloadObjects() []runtime.Object {
	var out []runtime.Object
	for _, o := range c.Services {
		out = append(out, o)
	}
	for _, o := range c.ReplicationControllers {
		out = append(out, o)
	}
	for _, o := range c.ReplicaSets {
		out = append(out, o)
	}
	for _, o := range c.StatefulSets {
		out = append(out, o)
	}
	return out
}

// JoinWorkload makes p a pod of a random workload of its namespace: its
// labels and controller reference (if any), as the controller would set
// them.
func JoinWorkload(r *rand.Rand, p *v1.Pod) {
	w := pick(r, workloadsIn())
	p.Labels = map[string]string{}
	for k, v := range w.labels {
		p.Labels[k] = v
	}
	if w.unique {
		p.Labels["statefulset.kubernetes.io/pod-name"] = "db-" + p.Name
	}
	p.OwnerReferences = nil
	if w.ref != nil {
		p.OwnerReferences = []metav1.OwnerReference{*w.ref}
	}
}

// image is one image as pods name it and as nodes report it.
type image struct {
	ref   string   // in a pod spec
	names []string // in node.status.images
	size  int64
	share int // percent of nodes that hold it
}

// images cover ImageLocality's edge cases: sizes below its 23 MiB floor and
// above its 1000 MiB per-container cap, an untagged reference (":latest"
// added), a registry with a port, a digest, and a reference that only
// matches under a name kube does not normalize to.
var images = []image{
	{ref: "nginx", names: []string{"nginx:latest", "docker.io/library/nginx@sha256:1111"}, size: 10 * mib, share: 80},
	{ref: "registry.example/app:v1", names: []string{"registry.example/app:v1"}, size: 150 * mib, share: 40},
	{ref: "registry.example:5000/big", names: []string{"registry.example:5000/big:latest"}, size: 1500 * mib, share: 20},
	{ref: "registry.example/ml@sha256:abcd", names: []string{"registry.example/ml@sha256:abcd"}, size: 800 * mib, share: 10},
	{ref: "redis", names: []string{"docker.io/library/redis:latest"}, size: 120 * mib, share: 60},
	{ref: "busybox:1.36", names: []string{"busybox:1.36"}, size: 5 * mib, share: 90},
	{ref: "registry.example/sidecar:v2", names: []string{"registry.example/sidecar:v2", "registry.example/sidecar:latest"}, size: 300 * mib, share: 50},
}

// setNodeImages gives a node a random subset of the images, sizes varying a
// little per node (kube scores a node's own reported size), and sometimes
// one name reported twice.
func setNodeImages(r *rand.Rand, n *v1.Node) {
	for _, img := range images {
		if r.IntN(100) >= img.share {
			continue
		}
		n.Status.Images = append(n.Status.Images, v1.ContainerImage{Names: img.names, SizeBytes: img.size + int64(r.IntN(3))*mib})
	}
	if r.IntN(10) == 0 {
		n.Status.Images = append(n.Status.Images, v1.ContainerImage{Names: []string{images[1].ref}, SizeBytes: 400 * mib})
	}
}

// SetImages gives a pod's containers random images, and sometimes an init
// container, a second container or an image volume.
func SetImages(r *rand.Rand, p *v1.Pod) {
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].Image = pick(r, images).ref
	}
	for i := range p.Spec.InitContainers {
		p.Spec.InitContainers[i].Image = pick(r, images).ref
	}
	if r.IntN(4) == 0 {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "sidecar", Image: pick(r, images).ref})
	}
	if r.IntN(5) == 0 && len(p.Spec.InitContainers) == 0 {
		p.Spec.InitContainers = []v1.Container{{Name: "setup", Image: pick(r, images).ref}}
	}
	if r.IntN(8) == 0 {
		p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: "model", VolumeSource: v1.VolumeSource{
			Image: &v1.ImageVolumeSource{Reference: pick(r, images).ref}}})
	}
}
