package webhook

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/myriad-dev/myriad/pkg/inplace"
)

// validateInPlaceOnly rejects a template change that pods of the old
// template cannot receive in place. Pods of still older revisions are not
// considered: the old template is what the user just changed, and it is
// what the error can point at.
func validateInPlaceOnly(oldT, newT *corev1.PodTemplateSpec, opts inplace.EligibilityOptions, path *field.Path) field.ErrorList {
	// A restart for the environment happens only where a node agent
	// reports the pod (inplace.Applicable); InPlaceOnly cannot fall back to
	// recreating pods on other nodes, so it refuses such changes.
	envRead := inplace.EnvReadsChangedMetadata(oldT, newT)
	if _, ok := inplace.Eligible(oldT, newT, opts); ok && envRead == "" {
		return nil
	}
	hint := "with updateStrategy.type InPlaceOnly only container images"
	if opts.InPlaceResize {
		hint += ", container cpu and memory (keeping the pod's QoS class)"
	}
	hint += ", labels and annotations may change; revert it or use InPlaceIfPossible"
	var errs field.ErrorList
	for _, p := range inPlaceBlockers(oldT, newT, opts, path.Child("spec")) {
		errs = append(errs, field.Forbidden(p, "cannot be changed in place: "+hint))
	}
	if envRead != "" {
		errs = append(errs, field.Forbidden(path.Child("metadata", envRead),
			"is read into a container's environment (env valueFrom fieldRef), which only a restarted container sees, and only a node agent restarts one, which InPlaceOnly cannot count on; use InPlaceIfPossible"))
	}
	if len(errs) == 0 {
		// Only the combination of changes is ineligible, e.g. resizes that
		// together change the pod's QoS class.
		errs = append(errs, field.Forbidden(path, "this change cannot be made in place: "+hint))
	}
	return errs
}

// inPlaceBlockers names the template fields whose change alone would keep
// the update from being made in place. It asks inplace.Eligible about one
// changed field at a time, so it never disagrees with the controller about
// what is eligible; reflection only enumerates the fields. It runs only for
// a rejected InPlaceOnly update, so its cost is irrelevant.
func inPlaceBlockers(oldT, newT *corev1.PodTemplateSpec, opts inplace.EligibilityOptions, specPath *field.Path) []*field.Path {
	oc, nc := oldT.Spec.Containers, newT.Spec.Containers
	if len(oc) != len(nc) {
		return []*field.Path{specPath.Child("containers")}
	}
	var blockers []*field.Path
	for i := range oc {
		if oc[i].Name != nc[i].Name {
			blockers = append(blockers, specPath.Child("containers").Index(i).Child("name"))
		}
	}
	if len(blockers) > 0 {
		return blockers // containers were renamed or reordered; per-field probes would mislead
	}
	eligibleWith := func(change func(probe *corev1.PodSpec)) bool {
		probe := oldT.DeepCopy()
		change(&probe.Spec)
		_, ok := inplace.Eligible(oldT, probe, opts)
		return ok
	}
	for _, f := range changedFields(&oldT.Spec, &newT.Spec) {
		if f.name == "containers" {
			continue
		}
		if !eligibleWith(func(p *corev1.PodSpec) { f.set(p) }) {
			blockers = append(blockers, specPath.Child(f.name))
		}
	}
	for i := range oc {
		for _, f := range changedFields(&oc[i], &nc[i]) {
			if !eligibleWith(func(p *corev1.PodSpec) { f.set(&p.Containers[i]) }) {
				blockers = append(blockers, specPath.Child("containers").Index(i).Child(f.name))
			}
		}
	}
	return blockers
}

// changedField is a top-level struct field that differs between two values:
// its JSON name, and a setter copying the new value into another value of
// the same type.
type changedField[T any] struct {
	name string
	set  func(*T)
}

func changedFields[T any](oldV, newV *T) []changedField[T] {
	ov, nv := reflect.ValueOf(oldV).Elem(), reflect.ValueOf(newV).Elem()
	var out []changedField[T]
	for i := range ov.NumField() {
		if apiequality.Semantic.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = ov.Type().Field(i).Name
		}
		value := nv.Field(i)
		out = append(out, changedField[T]{name: name, set: func(dst *T) {
			reflect.ValueOf(dst).Elem().Field(i).Set(value)
		}})
	}
	return out
}
