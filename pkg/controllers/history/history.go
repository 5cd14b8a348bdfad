// Package history encodes and orders the ControllerRevisions of Myriad's
// pod-template workloads (CloneSet, Advanced StatefulSet, Advanced
// DaemonSet): the revision Data (a patch that replaces spec.template, the
// shape upstream and OpenKruise store, so `kubectl rollout history` and
// tools reading their revisions read Myriad's too), the short label-safe
// hash that names a revision, and which old revisions to trim.
//
// It is pure: it never reads or writes the API server; each workload
// controller finds, creates and deletes its own revisions with it.
package history

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/rand"
)

// revisionPatch is a revision's Data.
type revisionPatch struct {
	Spec struct {
		Template json.RawMessage `json:"template"`
	} `json:"spec"`
}

// Data encodes a template as revision Data: {"spec":{"template":{...,
// "$patch":"replace"}}}.
func Data(t *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(t)
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

// Template decodes the template a revision holds ("$patch" is ignored).
func Template(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p revisionPatch
	if err := json.Unmarshal(cr.Data.Raw, &p); err != nil {
		return nil, fmt.Errorf("controllerrevision %s: %w", cr.Name, err)
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(p.Spec.Template, &t); err != nil {
		return nil, fmt.Errorf("controllerrevision %s template: %w", cr.Name, err)
	}
	return &t, nil
}

// Hash is the revision hash of Data: short and label-safe, hashed as
// upstream names ControllerRevisions, and different after each bump of the
// workload's status.collisionCount.
func Hash(data []byte, collisions *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisions != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisions), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// SameTemplate reports whether a revision holds t; semantic, because the
// API server may re-encode the raw bytes it stores.
func SameTemplate(cr *appsv1.ControllerRevision, t *corev1.PodTemplateSpec) bool {
	got, err := Template(cr)
	return err == nil && apiequality.Semantic.DeepEqual(got, t)
}

// Sort orders revisions oldest first (by Revision, then name).
func Sort(rs []*appsv1.ControllerRevision) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Revision != rs[j].Revision {
			return rs[i].Revision < rs[j].Revision
		}
		return rs[i].Name < rs[j].Name
	})
}

// ToDelete returns the revisions to trim: those not in use, oldest first,
// beyond the newest limit of them.
func ToDelete(rs []*appsv1.ControllerRevision, limit int, inUse func(*appsv1.ControllerRevision) bool) []*appsv1.ControllerRevision {
	var old []*appsv1.ControllerRevision
	for _, r := range rs {
		if !inUse(r) {
			old = append(old, r)
		}
	}
	Sort(old)
	if len(old) <= limit {
		return nil
	}
	return old[:len(old)-limit]
}
