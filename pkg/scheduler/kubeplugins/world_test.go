package kubeplugins_test

import (
	"fmt"
	"math/rand/v2"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// A storage world: nodes in three zones, classes of every binding mode,
// local and zonal volumes (bound and available), claims in every state, CSI
// attach limits per node, and pods already running on some of the claims.
// Generated from a seed, so a failure names the case to replay.

const driver = "csi.example.com"

type world struct {
	nodes   []*v1.Node
	pods    []*v1.Pod // bound, on nodes
	objects []runtime.Object
	claims  []*v1.PersistentVolumeClaim
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

func newWorld(r *rand.Rand) *world {
	w := &world{}
	n := 4 + r.IntN(8)
	for i := range n {
		name := fmt.Sprintf("node-%d", i)
		node := &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				v1.LabelHostname: name, v1.LabelTopologyZone: fmt.Sprintf("z%d", i%3), v1.LabelTopologyRegion: "r0",
			}},
			Status: v1.NodeStatus{
				Allocatable: v1.ResourceList{v1.ResourceCPU: q("8"), v1.ResourceMemory: q("32Gi"), v1.ResourcePods: q("110")},
				Capacity:    v1.ResourceList{v1.ResourceCPU: q("8"), v1.ResourceMemory: q("32Gi"), v1.ResourcePods: q("110")},
			},
		}
		w.nodes = append(w.nodes, node)
		w.objects = append(w.objects, node)
		if r.IntN(4) > 0 { // some nodes run no instance of the driver
			w.objects = append(w.objects, &storagev1.CSINode{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{
					Name: driver, NodeID: name, TopologyKeys: []string{v1.LabelTopologyZone},
					Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(int32(1 + r.IntN(3)))},
				}}},
			})
		}
	}
	wffc, immediate := storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate
	w.objects = append(w.objects,
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "dynamic"}, Provisioner: driver, VolumeBindingMode: &wffc},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "zone-z1"}, Provisioner: driver, VolumeBindingMode: &wffc,
			AllowedTopologies: []v1.TopologySelectorTerm{{MatchLabelExpressions: []v1.TopologySelectorLabelRequirement{{Key: v1.LabelTopologyZone, Values: []string{"z1"}}}}}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "immediate"}, Provisioner: driver, VolumeBindingMode: &immediate},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &wffc},
		&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driver}, Spec: storagev1.CSIDriverSpec{StorageCapacity: ptr.To(true)}},
	)
	// What the driver can still provision per zone for each class: some
	// zones have none (VolumeBinding's capacity check), the rest differ
	// (its capacity score).
	for _, class := range []string{"dynamic", "zone-z1", "immediate"} {
		for z := range 3 {
			if r.IntN(5) == 0 {
				continue
			}
			w.objects = append(w.objects, &storagev1.CSIStorageCapacity{
				ObjectMeta:       metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("%s-z%d", class, z)},
				StorageClassName: class,
				NodeTopology:     &metav1.LabelSelector{MatchLabels: map[string]string{v1.LabelTopologyZone: fmt.Sprintf("z%d", z)}},
				Capacity:         ptr.To(q(fmt.Sprintf("%dGi", r.IntN(6)))),
			})
		}
	}
	for i := range 4 + r.IntN(10) {
		w.addClaim(r, i)
	}
	// Pods already running, each on one or two claims bound to volumes
	// their node can reach (or none).
	for i := range 2 * n {
		node := w.nodes[r.IntN(n)]
		pod := pod(fmt.Sprintf("running-%d", i))
		pod.Spec.NodeName = node.Name
		for _, c := range w.claims {
			if c.Spec.VolumeName != "" && r.IntN(4) == 0 && len(pod.Spec.Volumes) < 2 && w.reachable(c, node) {
				mount(pod, c.Name)
			}
		}
		w.pods = append(w.pods, pod)
		w.objects = append(w.objects, pod)
	}
	return w
}

// addClaim adds a claim in one of the states the plugins tell apart, with
// the volume it is bound to, if any.
func (w *world) addClaim(r *rand.Rand, i int) {
	name := fmt.Sprintf("claim-%d", i)
	claim := &v1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: typesUID("c", i)},
		Spec: v1.PersistentVolumeClaimSpec{
			AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			Resources:   v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: q("1Gi")}},
		},
		Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimPending},
	}
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + name, Labels: map[string]string{}},
		Spec: v1.PersistentVolumeSpec{
			Capacity:    v1.ResourceList{v1.ResourceStorage: q("1Gi")},
			AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
		},
		Status: v1.PersistentVolumeStatus{Phase: v1.VolumeAvailable},
	}
	node := w.nodes[r.IntN(len(w.nodes))]
	bind := func(class string) {
		claim.Spec.StorageClassName, pv.Spec.StorageClassName = &class, class
		claim.Spec.VolumeName = pv.Name
		claim.Status.Phase, pv.Status.Phase = v1.ClaimBound, v1.VolumeBound
		claim.Annotations = map[string]string{"pv.kubernetes.io/bind-completed": "yes"}
		pv.Spec.ClaimRef = &v1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: name, UID: claim.UID}
	}
	localTo := func(n *v1.Node) {
		pv.Spec.Local = &v1.LocalVolumeSource{Path: "/mnt/" + name}
		pv.Spec.NodeAffinity = &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
			MatchExpressions: []v1.NodeSelectorRequirement{{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{n.Name}}},
		}}}}
	}
	switch r.IntN(7) {
	case 0: // bound to a local volume on one node
		bind("local")
		localTo(node)
	case 1: // bound to a zonal CSI volume (VolumeZone reads the label; attach limits count it)
		bind("dynamic")
		pv.Labels[v1.LabelTopologyZone] = node.Labels[v1.LabelTopologyZone]
		pv.Spec.CSI = &v1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "vol-" + name}
	case 2: // bound, ReadWriteOncePod, on a CSI volume anywhere
		bind("dynamic")
		claim.Spec.AccessModes = []v1.PersistentVolumeAccessMode{v1.ReadWriteOncePod}
		pv.Spec.AccessModes = claim.Spec.AccessModes
		pv.Spec.CSI = &v1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "vol-" + name}
	case 3: // unbound, provisioned where the pod lands
		claim.Spec.StorageClassName = ptr.To("dynamic")
		pv = nil
	case 4: // unbound, only zone z1 may provision it
		claim.Spec.StorageClassName = ptr.To("zone-z1")
		pv = nil
	case 5: // unbound, matched to an available local volume of its node
		claim.Spec.StorageClassName = ptr.To("local")
		pv.Spec.StorageClassName = "local"
		localTo(node)
	case 6: // unbound with Immediate binding: no pod may use it yet
		claim.Spec.StorageClassName = ptr.To("immediate")
		pv = nil
	}
	w.claims = append(w.claims, claim)
	w.objects = append(w.objects, claim)
	if pv != nil {
		w.objects = append(w.objects, pv)
	}
}

// reachable: a running pod may use a bound claim only where its volume is.
func (w *world) reachable(c *v1.PersistentVolumeClaim, n *v1.Node) bool {
	for _, o := range w.objects {
		pv, ok := o.(*v1.PersistentVolume)
		if !ok || pv.Name != c.Spec.VolumeName {
			continue
		}
		if pv.Spec.NodeAffinity != nil {
			return pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] == n.Name
		}
		if z, ok := pv.Labels[v1.LabelTopologyZone]; ok {
			return z == n.Labels[v1.LabelTopologyZone]
		}
		return c.Spec.AccessModes[0] != v1.ReadWriteOncePod
	}
	return false
}

func pod(name string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: typesUID("p-"+name, 0)},
		Spec: v1.PodSpec{SchedulerName: "myriad", Containers: []v1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: q("100m"), v1.ResourceMemory: q("64Mi")}}}}},
	}
}

func mount(p *v1.Pod, claim string) {
	p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: fmt.Sprintf("v%d", len(p.Spec.Volumes)),
		VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
}
