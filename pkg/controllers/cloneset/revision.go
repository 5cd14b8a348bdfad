package cloneset

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// revisionPatch is the Data of a CloneSet's ControllerRevision: a patch that
// replaces the template, the shape OpenKruise stores, so that tools reading
// its revisions read Myriad's too.
type revisionPatch struct {
	Spec struct {
		Template json.RawMessage `json:"template"`
	} `json:"spec"`
}

// revisionData encodes the CloneSet's template as revision Data.
func revisionData(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	fields["$patch"] = json.RawMessage(`"replace"`)
	var p revisionPatch
	if p.Spec.Template, err = json.Marshal(fields); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// revisionTemplate decodes the template a revision holds.
func revisionTemplate(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p revisionPatch
	if err := json.Unmarshal(cr.Data.Raw, &p); err != nil {
		return nil, fmt.Errorf("controllerrevision %s: %w", cr.Name, err)
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(p.Spec.Template, &t); err != nil { // "$patch" is ignored
		return nil, fmt.Errorf("controllerrevision %s template: %w", cr.Name, err)
	}
	return &t, nil
}

// claimTemplatesHashAnnotation records on a ControllerRevision the
// volumeClaimTemplates the CloneSet had when the revision was made (or last
// rolled back to), under OpenKruise's key. The template alone decides the
// revision, so a claim-template-only change makes none.
const claimTemplatesHashAnnotation = "kruise.io/cloneset-volumeclaimtemplate-hash"

// claimTemplatesHash hashes the names and specs of claim templates, in name
// order; "" for none. Only equality matters: the value is Myriad's own.
func claimTemplatesHash(vcts []corev1.PersistentVolumeClaim) string {
	if len(vcts) == 0 {
		return ""
	}
	type claim struct {
		Name string                           `json:"name"`
		Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
	}
	cs := make([]claim, len(vcts))
	for i := range vcts {
		cs[i] = claim{vcts[i].Name, vcts[i].Spec}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	raw, _ := json.Marshal(cs) // plain structs: cannot fail
	h := fnv.New32a()
	h.Write(raw)
	return strconv.FormatUint(uint64(h.Sum32()), 10)
}

// revisionName is <cloneset>-<hash of data and collision count>, hashed as
// upstream names ControllerRevisions so the suffix is short and safe.
func revisionName(cs *v1alpha1.CloneSet, data []byte) string {
	h := fnv.New32a()
	h.Write(data)
	if c := cs.Status.CollisionCount; c != nil {
		h.Write([]byte(strconv.FormatInt(int64(*c), 10)))
	}
	return cs.Name + "-" + rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// newRevision is the ControllerRevision for the CloneSet's template. It
// carries the selector's labels, so `kubectl get controllerrevisions -l`
// finds a workload's history.
func newRevision(cs *v1alpha1.CloneSet, data []byte, number int64) *appsv1.ControllerRevision {
	labels := map[string]string{}
	if cs.Spec.Selector != nil {
		for k, v := range cs.Spec.Selector.MatchLabels {
			labels[k] = v
		}
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            revisionName(cs, data),
			Namespace:       cs.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cs, v1alpha1.SchemeGroupVersion.WithKind("CloneSet"))},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}
}

// sameTemplate reports whether a revision holds data's template; semantic,
// because the API server may re-encode the raw bytes it stores.
func sameTemplate(cr *appsv1.ControllerRevision, data []byte) bool {
	a, err := revisionTemplate(cr)
	if err != nil {
		return false
	}
	b, err := revisionTemplate(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}})
	if err != nil {
		return false
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

// sortRevisions orders revisions oldest first.
func sortRevisions(rs []*appsv1.ControllerRevision) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Revision != rs[j].Revision {
			return rs[i].Revision < rs[j].Revision
		}
		return rs[i].Name < rs[j].Name
	})
}

// historyToDelete returns the revisions beyond limit that no live pod uses
// and that are neither the update nor the current revision, oldest first.
func historyToDelete(rs []*appsv1.ControllerRevision, limit int, inUse map[string]bool) []*appsv1.ControllerRevision {
	var old []*appsv1.ControllerRevision
	for _, r := range rs {
		if !inUse[r.Name] {
			old = append(old, r)
		}
	}
	sortRevisions(old)
	if len(old) <= limit {
		return nil
	}
	return old[:len(old)-limit]
}
