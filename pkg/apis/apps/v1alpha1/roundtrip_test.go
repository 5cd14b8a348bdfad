package v1alpha1_test

import (
	"encoding/json"
	"math/rand"
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// Random CloneSets survive DeepCopy and a JSON round trip, and the scheme
// knows the kinds: catches hand edits to generated code and JSON tags that
// drop data.
func TestRoundTrip(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"CloneSet", "CloneSetList"} {
		if !scheme.Recognizes(v1alpha1.SchemeGroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not know %s", kind)
		}
	}
	f := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(1), serializer.NewCodecFactory(scheme))
	for i := 0; i < 200; i++ {
		in := &v1alpha1.CloneSet{}
		f.Fill(in)
		if cp := in.DeepCopy(); !apiequality.Semantic.DeepEqual(in, cp) {
			t.Fatalf("DeepCopy differs")
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		out := &v1alpha1.CloneSet{}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(in.Spec.UpdateStrategy, out.Spec.UpdateStrategy) ||
			!apiequality.Semantic.DeepEqual(in.Spec.ScaleStrategy, out.Spec.ScaleStrategy) ||
			!apiequality.Semantic.DeepEqual(in.Spec.Lifecycle, out.Spec.Lifecycle) ||
			!apiequality.Semantic.DeepEqual(in.Status, out.Status) {
			t.Fatalf("JSON round trip lost data:\n%s", b)
		}
	}
}
