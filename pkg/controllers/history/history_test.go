package history

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

func TestDataRoundTrip(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}},
	}
	data, err := Data(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	// The shape upstream stores: a patch that replaces spec.template.
	var shape struct {
		Spec struct {
			Template map[string]any `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(data, &shape); err != nil || shape.Spec.Template["$patch"] != "replace" {
		t.Fatalf("data %s: not a replacing patch of spec.template (%v)", data, err)
	}
	cr := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}}
	if !SameTemplate(cr, tmpl) {
		t.Error("a revision does not hold the template it was made from")
	}
	changed := tmpl.DeepCopy()
	changed.Spec.Containers[0].Image = "db:2"
	if SameTemplate(cr, changed) {
		t.Error("a changed template matches the old revision")
	}
	if _, err := Template(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte("{")}}); err == nil {
		t.Error("broken data decoded")
	}
}

func TestHash(t *testing.T) {
	data := []byte(`{"spec":{}}`)
	a, b := Hash(data, nil), Hash(data, ptr.To[int32](1))
	if a == b {
		t.Error("a collision bump does not change the hash")
	}
	if a != Hash(data, nil) {
		t.Error("the hash is not stable")
	}
	if errs := validation.IsValidLabelValue(a); len(errs) > 0 {
		t.Errorf("hash %q is not a label value: %v", a, errs)
	}
}

func TestToDelete(t *testing.T) {
	rev := func(name string, n int64) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Revision: n}
	}
	rs := []*appsv1.ControllerRevision{rev("e", 5), rev("a", 1), rev("c", 3), rev("b", 2), rev("d", 4)}
	inUse := func(cr *appsv1.ControllerRevision) bool { return cr.Name == "b" || cr.Name == "e" }
	got := ToDelete(rs, 1, inUse)
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "c" {
		t.Errorf("trimmed %v, want the oldest unused beyond 1: a, c", got)
	}
	if got := ToDelete(rs, 3, inUse); len(got) != 0 {
		t.Errorf("trimmed %d within the limit", len(got))
	}
}
