package v1beta1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

const daemonSetCRDPath = "../../../../config/crd/apps.kruise.io_daemonsets.yaml"

func loadDaemonSetCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(daemonSetCRDPath))
	if err != nil {
		t.Fatalf("read generated CRD (run make generate): %v", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatalf("decode CRD: %v", err)
	}
	return crd
}

// versionSchema is one served version's schema as the API server uses it.
type versionSchema struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// daemonSetSchemas validates the CRD as the API server does on create and
// returns each version's schema.
func daemonSetSchemas(t *testing.T) map[string]*versionSchema {
	t.Helper()
	crd := loadDaemonSetCRD(t)
	internal := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, internal, nil); err != nil {
		t.Fatalf("convert CRD: %v", err)
	}
	internal.Status.StoredVersions = []string{"v1beta1"}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
		t.Fatalf("the API server would reject the CRD:\n%v", errs.ToAggregate())
	}
	out := map[string]*versionSchema{}
	for _, v := range internal.Spec.Versions {
		props := v.Schema
		if internal.Spec.Validation != nil {
			props = internal.Spec.Validation
		}
		s, err := structuralschema.NewStructural(props.OpenAPIV3Schema)
		if err != nil {
			t.Fatalf("%s structural schema: %v", v.Name, err)
		}
		openAPI, _, err := apiservervalidation.NewSchemaValidator(props.OpenAPIV3Schema)
		if err != nil {
			t.Fatalf("%s schema validator: %v", v.Name, err)
		}
		out[v.Name] = &versionSchema{structural: s, openAPI: openAPI, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
	}
	return out
}

// admit handles a create the way the API server does for a custom
// resource: prune, default, OpenAPI validation, CEL rules.
func (s *versionSchema) admit(obj map[string]any) (field.ErrorList, []string) {
	pruned := pruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	defaulting.Default(obj, s.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, s.openAPI)
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...), pruned
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func fromMap(t *testing.T, m map[string]any, into any) {
	t.Helper()
	b, err := utiljson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

const agentManifest = `apiVersion: apps.kruise.io/%s
kind: DaemonSet
metadata:
  name: agent
  namespace: kube-system
  annotations: {daemonset.kruise.io/progressive-create-pod: "true"}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: "agent:1"}]
  minReadySeconds: 5
  burstReplicas: "20%%"
  revisionHistoryLimit: 3
  lifecycle:
    preDelete: {finalizersHandler: [example.com/drain]}
  scaleStrategy: {partitionedScaling: true}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      rollingUpdateType: %s
      maxUnavailable: 10%%
      maxSurge: 0
      partition: 3
      paused: true
      selector: {matchLabels: {rollout: canary}}
status:
  currentNumberScheduled: 4
  numberMisscheduled: 1
  desiredNumberScheduled: 5
  numberReady: 3
  observedGeneration: 2
  updatedNumberScheduled: 2
  numberAvailable: 3
  numberUnavailable: 2
  collisionCount: 1
  daemonSetHash: abc
  updateRevision: abc
  conditions:
  - {type: RolloutSelectorExcluded, status: "True", reason: NodesLeftSelector, message: "node-3"}
`

func manifestMap(t *testing.T, version, rollingType string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(fmt.Sprintf(agentManifest, version, rollingType)))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDaemonSetCRDVersions(t *testing.T) {
	crd := loadDaemonSetCRD(t)
	if crd.Spec.Names.Kind != "DaemonSet" || crd.Spec.Names.Plural != "daemonsets" || crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Fatalf("names %+v scope %q", crd.Spec.Names, crd.Spec.Scope)
	}
	if got := strings.Join(crd.Spec.Names.ShortNames, ","); got != "daemon,ads" {
		t.Errorf("short names %q, want daemon,ads as OpenKruise", got)
	}
	// No conversion webhook: an outage of one must never block reads.
	if c := crd.Spec.Conversion; c != nil && c.Strategy != apiextensionsv1.NoneConverter {
		t.Errorf("conversion strategy %q, want None", c.Strategy)
	}
	stored := ""
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			t.Errorf("%s not served", v.Name)
		}
		if v.Storage {
			stored += v.Name
		}
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: no status subresource", v.Name)
		}
	}
	if stored != "v1beta1" {
		t.Errorf("stored version %q, want v1beta1", stored)
	}
}

// With conversion strategy None the API server only rewrites apiVersion, so
// "lossless both ways" means: an object written through either version's
// schema keeps every field when read through the other, and the two Go types
// decode it to the same thing.
func TestDaemonSetConversionBothWays(t *testing.T) {
	schemas := daemonSetSchemas(t)
	if len(schemas) != 2 {
		t.Fatalf("versions %d, want v1alpha1 and v1beta1", len(schemas))
	}
	for _, tc := range []struct{ from, to, rollingType string }{
		{"v1alpha1", "v1beta1", "Surging"},
		{"v1alpha1", "v1beta1", "InPlaceIfPossible"},
		{"v1beta1", "v1alpha1", "Standard"},
		{"v1beta1", "v1alpha1", "InPlaceIfPossible"},
	} {
		t.Run(tc.from+"->"+tc.to+"/"+tc.rollingType, func(t *testing.T) {
			obj := manifestMap(t, tc.from, tc.rollingType)
			want := manifestMap(t, tc.from, tc.rollingType)
			errs, pruned := schemas[tc.from].admit(obj)
			if len(errs) > 0 || len(pruned) > 0 {
				t.Fatalf("written as %s: errors %v pruned %v", tc.from, errs.ToAggregate(), pruned)
			}
			// What conversion strategy None does.
			obj["apiVersion"] = "apps.kruise.io/" + tc.to
			errs, pruned = schemas[tc.to].admit(obj)
			if len(errs) > 0 || len(pruned) > 0 {
				t.Fatalf("read as %s: errors %v pruned %v", tc.to, errs.ToAggregate(), pruned)
			}
			obj["apiVersion"] = "apps.kruise.io/" + tc.from
			errs, pruned = schemas[tc.from].admit(obj)
			if len(errs) > 0 || len(pruned) > 0 {
				t.Fatalf("back to %s: errors %v pruned %v", tc.from, errs.ToAggregate(), pruned)
			}
			var a, b v1alpha1.DaemonSet
			var c v1beta1.DaemonSet
			fromMap(t, want, &a)
			fromMap(t, obj, &b)
			fromMap(t, obj, &c)
			if !apiequality.Semantic.DeepEqual(a, b) {
				t.Errorf("round trip changed the object:\n%+v\n%+v", a.Spec, b.Spec)
			}
			// The two Go types carry the same fields: v1beta1 decodes what
			// v1alpha1 wrote and encodes it back unchanged.
			if am, cm := toMap(t, &a), toMap(t, &c); !apiequality.Semantic.DeepEqual(dropVersion(am), dropVersion(cm)) {
				t.Errorf("v1alpha1 and v1beta1 types differ:\n%v\n%v", am, cm)
			}
			if c.Spec.UpdateStrategy.RollingUpdate == nil || string(c.Spec.UpdateStrategy.RollingUpdate.Type) != tc.rollingType ||
				c.Spec.ScaleStrategy == nil || !c.Spec.ScaleStrategy.PartitionedScaling || c.Status.DaemonSetHash != "abc" || c.Status.UpdateRevision != "abc" {
				t.Errorf("fields lost: %+v %+v", c.Spec, c.Status)
			}
		})
	}
}

func dropVersion(m map[string]any) map[string]any {
	delete(m, "apiVersion")
	return m
}

func TestDaemonSetCRDRejects(t *testing.T) {
	schemas := daemonSetSchemas(t)
	for _, tc := range []struct {
		name, path string
		value      any
		wantErr    string
	}{
		{"unknown rolling type", "rollingUpdateType", "Rolling", "rollingUpdateType"},
		{"negative partition", "partition", int64(-1), "partition"},
		{"bad percent", "maxUnavailable", "150%", "maxUnavailable"},
		{"negative surge", "maxSurge", int64(-2), "maxSurge"},
	} {
		for v, s := range schemas {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				obj := manifestMap(t, v, "Standard")
				ru := obj["spec"].(map[string]any)["updateStrategy"].(map[string]any)["rollingUpdate"].(map[string]any)
				ru[tc.path] = tc.value
				errs, _ := s.admit(obj)
				if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), tc.wantErr) {
					t.Errorf("errors %v, want one naming %q", got, tc.wantErr)
				}
			})
		}
	}
}

// Random DaemonSets survive DeepCopy and JSON, and both schemes know the kinds.
func TestDaemonSetRoundTrip(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, gv := range []string{"v1alpha1", "v1beta1"} {
		for _, kind := range []string{"DaemonSet", "DaemonSetList"} {
			if !scheme.Recognizes(v1beta1.SchemeGroupVersion.WithKind(kind).GroupKind().WithVersion(gv)) {
				t.Errorf("scheme does not know %s/%s", gv, kind)
			}
		}
	}
	f := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(1), serializer.NewCodecFactory(scheme))
	for i := 0; i < 100; i++ {
		in := &v1beta1.DaemonSet{}
		f.Fill(in)
		if cp := in.DeepCopy(); !apiequality.Semantic.DeepEqual(in, cp) {
			t.Fatalf("DeepCopy differs")
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		// Through the v1alpha1 type and back: nothing lost.
		mid := &v1alpha1.DaemonSet{}
		if err := json.Unmarshal(b, mid); err != nil {
			t.Fatal(err)
		}
		b2, err := json.Marshal(mid)
		if err != nil {
			t.Fatal(err)
		}
		out := &v1beta1.DaemonSet{}
		if err := json.Unmarshal(b2, out); err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(in.Spec.UpdateStrategy, out.Spec.UpdateStrategy) ||
			!apiequality.Semantic.DeepEqual(in.Spec.ScaleStrategy, out.Spec.ScaleStrategy) ||
			!apiequality.Semantic.DeepEqual(in.Spec.Lifecycle, out.Spec.Lifecycle) ||
			!apiequality.Semantic.DeepEqual(in.Status, out.Status) {
			t.Fatalf("round trip through v1alpha1 lost data:\n%s", b)
		}
	}
}
