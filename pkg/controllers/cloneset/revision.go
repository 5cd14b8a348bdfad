package cloneset

import (
	"encoding/json"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/controllers/history"
)

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
	return cs.Name + "-" + history.Hash(data, cs.Status.CollisionCount)
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
	t, err := history.Template(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}})
	return err == nil && history.SameTemplate(cr, t)
}
