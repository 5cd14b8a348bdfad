package sidecarset

import (
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/kubernetes/pkg/controller/history"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

const (
	// DefaultRevisionNamespace holds the SidecarSets' ControllerRevisions.
	// A SidecarSet is cluster-scoped and OpenKruise keeps its revisions in
	// its own system namespace, one ordinary users cannot write (a forged
	// revision there would be injected into every pod that pins it). The
	// manager runs outside any pod, so its namespace is kube-system, where
	// its leader Lease already lives and only administrators write.
	DefaultRevisionNamespace = "kube-system"
	// SidecarSetNameLabel names the SidecarSet on each of its revisions
	// (OpenKruise's key).
	SidecarSetNameLabel = "kruise.io/sidecarset-name"
	// defaultRevisionHistoryLimit is OpenKruise's, when the spec says
	// none.
	defaultRevisionHistoryLimit = 10
)

// revisionData is a revision's Data in OpenKruise's shape: a strategic
// merge patch replacing the parts of the spec that are injected, so
// revisions written by OpenKruise restore here and the other way round.
type revisionData struct {
	Spec revisionSpec `json:"spec"`
}

type revisionSpec struct {
	Patch            string                               `json:"$patch"`
	Volumes          []corev1.Volume                      `json:"volumes"`
	Containers       []v1beta1.SidecarContainer           `json:"containers"`
	InitContainers   []v1beta1.SidecarContainer           `json:"initContainers"`
	ImagePullSecrets []corev1.LocalObjectReference        `json:"imagePullSecrets"`
	PatchPodMetadata []v1beta1.SidecarSetPatchPodMetadata `json:"patchPodMetadata"`
}

func injectedSpec(spec *v1beta1.SidecarSetSpec) revisionSpec {
	return revisionSpec{Patch: "replace", Volumes: spec.Volumes, Containers: spec.Containers, InitContainers: spec.InitContainers,
		ImagePullSecrets: spec.ImagePullSecrets, PatchPodMetadata: spec.PatchPodMetadata}
}

// NewRevision is the ControllerRevision recording the SidecarSet's current
// injected spec as revision number, in namespace ns: owned by the
// SidecarSet (the garbage collector removes it with it), labelled with the
// SidecarSet's labels, its name and its spec.customVersion, annotated with
// its annotations and the revision's hashes. The name is
// <sidecarset>-<hash of the data and collisionCount>.
func NewRevision(ss *v1beta1.SidecarSet, ns string, number int64, collisionCount int32) (*appsv1.ControllerRevision, error) {
	raw, err := json.Marshal(revisionData{Spec: injectedSpec(&ss.Spec)})
	if err != nil {
		return nil, fmt.Errorf("encode revision of SidecarSet %s: %w", ss.Name, err)
	}
	cr, err := history.NewControllerRevision(ss, v1beta1.SchemeGroupVersion.WithKind("SidecarSet"), ss.Labels,
		runtime.RawExtension{Raw: raw}, number, &collisionCount)
	if err != nil {
		return nil, fmt.Errorf("revision of SidecarSet %s: %w", ss.Name, err)
	}
	// The manager has no finalizer rights on SidecarSets, and needs none.
	cr.OwnerReferences[0].BlockOwnerDeletion = nil
	cr.Namespace = ns
	cr.Labels[SidecarSetNameLabel] = ss.Name
	if ss.Spec.CustomVersion != "" {
		cr.Labels[v1beta1.SidecarSetCustomVersionLabel] = ss.Spec.CustomVersion
	}
	rev, err := Revisions(ss)
	if err != nil {
		return nil, err
	}
	cr.Annotations = make(map[string]string, len(ss.Annotations)+2)
	for k, v := range ss.Annotations {
		cr.Annotations[k] = v
	}
	cr.Annotations[v1beta1.SidecarSetHashAnnotation] = rev.Hash
	cr.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation] = rev.HashWithoutImage
	return cr, nil
}

// sameSpec reports whether the revision records the SidecarSet's current
// injected spec, whose hash is hash. A revision hashed otherwise differs
// (the hash covers exactly the recorded fields), which spares decoding
// every revision on every pass; one without a hash (written by another
// controller) is compared decoded.
func sameSpec(cr *appsv1.ControllerRevision, ss *v1beta1.SidecarSet, hash string) bool {
	if h, ok := cr.Annotations[v1beta1.SidecarSetHashAnnotation]; ok && h != hash {
		return false
	}
	var d revisionData
	if err := json.Unmarshal(cr.Data.Raw, &d); err != nil {
		return false
	}
	return apiequality.Semantic.DeepEqual(d.Spec, injectedSpec(&ss.Spec))
}

// RestoreRevision is the SidecarSet as it was at the revision: ss with its
// injected spec replaced by the revision's, and the revision's Revision
// (the hashes recorded on it, or computed when it carries none).
func RestoreRevision(ss *v1beta1.SidecarSet, cr *appsv1.ControllerRevision) (*v1beta1.SidecarSet, Revision, error) {
	var d revisionData
	if err := json.Unmarshal(cr.Data.Raw, &d); err != nil {
		return nil, Revision{}, fmt.Errorf("decode ControllerRevision %s/%s: %w", cr.Namespace, cr.Name, err)
	}
	out := ss.DeepCopy()
	out.Spec.Volumes, out.Spec.Containers, out.Spec.InitContainers = d.Spec.Volumes, d.Spec.Containers, d.Spec.InitContainers
	out.Spec.ImagePullSecrets, out.Spec.PatchPodMetadata = d.Spec.ImagePullSecrets, d.Spec.PatchPodMetadata
	rev, err := Revisions(out)
	if err != nil {
		return nil, Revision{}, err
	}
	if h := cr.Annotations[v1beta1.SidecarSetHashAnnotation]; h != "" {
		rev.Hash = h
	}
	if h := cr.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation]; h != "" {
		rev.HashWithoutImage = h
	}
	rev.ControllerRevision = cr.Name
	return out, rev, nil
}

// PinnedRevision is the revision injectionStrategy.revision names among
// the SidecarSet's revisions (sorted by number): the one of that name, or
// the newest carrying that customVersion. It is nil when the spec pins
// nothing; ok is false when it pins a revision that is not there.
func PinnedRevision(ss *v1beta1.SidecarSet, revisions []*appsv1.ControllerRevision) (cr *appsv1.ControllerRevision, pinned string, ok bool) {
	r := ss.Spec.InjectionStrategy.Revision
	switch {
	case r == nil:
		return nil, "", true
	case r.RevisionName != nil && *r.RevisionName != "":
		for _, c := range revisions {
			if c.Name == *r.RevisionName {
				return c, "revisionName " + c.Name, true
			}
		}
		return nil, "revisionName " + *r.RevisionName, false
	case r.CustomVersion != nil && *r.CustomVersion != "":
		for i := len(revisions) - 1; i >= 0; i-- {
			if revisions[i].Labels[v1beta1.SidecarSetCustomVersionLabel] == *r.CustomVersion {
				return revisions[i], "customVersion " + *r.CustomVersion, true
			}
		}
		return nil, "customVersion " + *r.CustomVersion, false
	}
	return nil, "", true
}

// RevisionsToTrim are the revisions (sorted by number, the latest last) to
// delete so that at most spec.revisionHistoryLimit remain (at least one,
// OpenKruise's default 10), oldest first. Never trimmed: the latest, the
// revision injectionStrategy.revision pins, and any revision a pod the
// SidecarSet selects still runs (by its recorded revision name or hash).
// Fewer than asked are returned when those are many.
func RevisionsToTrim(ss *v1beta1.SidecarSet, revisions []*appsv1.ControllerRevision, pods []*corev1.Pod) []*appsv1.ControllerRevision {
	limit := defaultRevisionHistoryLimit
	if l := ss.Spec.RevisionHistoryLimit; l != nil {
		limit = max(1, int(*l))
	}
	excess := len(revisions) - limit
	if excess <= 0 {
		return nil
	}
	names, hashes := sets.New[string](), sets.New[string]()
	for _, p := range pods {
		if s, ok := podUpgradeSpec(p, ss.Name); ok {
			names.Insert(s.ControllerRevision)
			hashes.Insert(s.Hash)
		}
	}
	if pinned, _, _ := PinnedRevision(ss, revisions); pinned != nil {
		names.Insert(pinned.Name)
	}
	var out []*appsv1.ControllerRevision
	for _, cr := range revisions[:len(revisions)-1] {
		if len(out) == excess {
			break
		}
		if names.Has(cr.Name) || hashes.Has(cr.Annotations[v1beta1.SidecarSetHashAnnotation]) {
			continue
		}
		out = append(out, cr)
	}
	return out
}

// podUpgradeSpec is the pod's entry for the SidecarSet in its
// kruise.io/sidecarset-hash annotation.
func podUpgradeSpec(pod *corev1.Pod, sidecarSet string) (upgradeSpec, bool) {
	raw := pod.Annotations[v1beta1.SidecarSetHashAnnotation]
	if !strings.HasPrefix(raw, "{") {
		return upgradeSpec{}, false
	}
	var m map[string]upgradeSpec
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return upgradeSpec{}, false
	}
	s, ok := m[sidecarSet]
	return s, ok
}
