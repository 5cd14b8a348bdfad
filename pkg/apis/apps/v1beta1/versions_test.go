package v1beta1_test

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func loadCRD(t *testing.T, plural string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash("../../../../config/crd/apps.kruise.io_" + plural + ".yaml"))
	if err != nil {
		t.Fatalf("read generated CRD (run make generate): %v", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatalf("decode CRD: %v", err)
	}
	return crd
}

// Both versions are served, v1beta1 is stored, and their schemas are the
// same, so the API server converts by rewriting apiVersion alone: no
// conversion webhook exists that an outage could turn into failed reads.
func TestJobCRDVersions(t *testing.T) {
	for _, plural := range []string{"broadcastjobs", "advancedcronjobs", "statefulsets"} {
		t.Run(plural, func(t *testing.T) {
			crd := loadCRD(t, plural)
			if c := crd.Spec.Conversion; c != nil && c.Strategy != apiextensionsv1.NoneConverter {
				t.Errorf("conversion strategy %q, want None", c.Strategy)
			}
			byName := map[string]apiextensionsv1.CustomResourceDefinitionVersion{}
			for _, v := range crd.Spec.Versions {
				byName[v.Name] = v
			}
			alpha, beta := byName["v1alpha1"], byName["v1beta1"]
			if len(byName) != 2 || !alpha.Served || !beta.Served || alpha.Storage || !beta.Storage {
				t.Fatalf("versions %+v: want v1alpha1 served and v1beta1 served and stored", crd.Spec.Versions)
			}
			if !apiequality.Semantic.DeepEqual(alpha.Schema, beta.Schema) {
				t.Errorf("v1alpha1 and v1beta1 schemas differ; conversion None would lose or invent fields")
			}
			if !apiequality.Semantic.DeepEqual(alpha.Subresources, beta.Subresources) ||
				!apiequality.Semantic.DeepEqual(alpha.AdditionalPrinterColumns, beta.AdditionalPrinterColumns) {
				t.Errorf("v1alpha1 and v1beta1 differ in subresources or printer columns")
			}
		})
	}
}

// An OpenKruise manifest keeps every field through the server's pruning
// under either version.
func TestJobManifestsNotPruned(t *testing.T) {
	manifests := map[string]string{
		"broadcastjobs": `apiVersion: apps.kruise.io/v1alpha1
kind: BroadcastJob
metadata: {name: bcj, namespace: default}
spec:
  parallelism: 30%
  paused: false
  completionPolicy: {type: Always, activeDeadlineSeconds: 60, ttlSecondsAfterFinished: 30}
  failurePolicy: {type: Continue, restartLimit: 3}
  template:
    metadata: {labels: {app: bcj}}
    spec:
      restartPolicy: Never
      nodeSelector: {disk: ssd}
      containers: [{name: pi, image: perl, command: [perl, "-e", "1"]}]
status:
  active: 1
  succeeded: 2
  failed: 0
  desired: 3
  phase: running
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Complete, status: "False", reason: R, message: M}]
`,
		"advancedcronjobs": `apiVersion: apps.kruise.io/v1alpha1
kind: AdvancedCronJob
metadata: {name: acj, namespace: default}
spec:
  schedule: "*/1 * * * *"
  timeZone: Europe/Berlin
  startingDeadlineSeconds: 30
  concurrencyPolicy: Forbid
  paused: false
  successfulJobsHistoryLimit: 2
  failedJobsHistoryLimit: 1
  template:
    broadcastJobTemplate:
      metadata: {labels: {team: a}, annotations: {note: x}}
      spec:
        completionPolicy: {type: Always, ttlSecondsAfterFinished: 10}
        template:
          spec:
            restartPolicy: OnFailure
            containers: [{name: c, image: busybox}]
    jobTemplate:
      metadata: {labels: {team: b}}
      spec:
        backoffLimit: 2
        template:
          spec:
            restartPolicy: Never
            containers: [{name: c, image: busybox}]
status:
  type: BroadcastJob
  lastScheduleTime: "2026-01-01T00:00:00Z"
  active: [{kind: BroadcastJob, name: acj-1, namespace: default, uid: u}]
`,
	}
	for plural, m := range manifests {
		crd := loadCRD(t, plural)
		for _, v := range crd.Spec.Versions {
			s := structural(t, v.Schema.OpenAPIV3Schema)
			obj := decode(t, m)
			obj["apiVersion"] = "apps.kruise.io/" + v.Name
			pruned := pruning.PruneWithOptions(obj, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			if len(pruned) > 0 {
				t.Errorf("%s %s pruned %v", plural, v.Name, pruned)
			}
		}
	}
}

// Random objects survive a trip v1beta1 → JSON → v1alpha1 → JSON →
// v1beta1 and the reverse: the Go types of the two versions carry the same
// fields under the same keys.
func TestJobRoundTripBetweenVersions(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, gv := range []string{"v1alpha1", "v1beta1"} {
		for _, kind := range []string{"BroadcastJob", "BroadcastJobList", "AdvancedCronJob", "AdvancedCronJobList"} {
			if !scheme.Recognizes(v1beta1.SchemeGroupVersion.WithKind(kind).GroupKind().WithVersion(gv)) {
				t.Errorf("scheme does not know %s %s", gv, kind)
			}
		}
	}
	f := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(7), serializer.NewCodecFactory(scheme))
	pairs := []struct{ beta, alpha, back any }{}
	for i := 0; i < 100; i++ {
		pairs = append(pairs,
			struct{ beta, alpha, back any }{&v1beta1.BroadcastJob{}, &v1alpha1.BroadcastJob{}, &v1beta1.BroadcastJob{}},
			struct{ beta, alpha, back any }{&v1beta1.AdvancedCronJob{}, &v1alpha1.AdvancedCronJob{}, &v1beta1.AdvancedCronJob{}},
			struct{ beta, alpha, back any }{&v1alpha1.BroadcastJob{}, &v1beta1.BroadcastJob{}, &v1alpha1.BroadcastJob{}},
			struct{ beta, alpha, back any }{&v1alpha1.AdvancedCronJob{}, &v1beta1.AdvancedCronJob{}, &v1alpha1.AdvancedCronJob{}},
		)
	}
	for _, p := range pairs {
		f.Fill(p.beta)
		via(t, p.beta, p.alpha)
		via(t, p.alpha, p.back)
		a, _ := json.Marshal(p.beta)
		b, _ := json.Marshal(p.back)
		if string(a) != string(b) {
			t.Fatalf("round trip through the other version lost data:\n%s\n%s", a, b)
		}
	}
}

func via(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

func structural(t *testing.T, v1 *apiextensionsv1.JSONSchemaProps) *structuralschema.Structural {
	t.Helper()
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatalf("structural schema: %v", err)
	}
	return s
}

func decode(t *testing.T, y string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
