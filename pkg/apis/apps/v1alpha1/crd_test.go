package v1alpha1_test

import (
	"context"
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
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

const crdPath = "../../../../config/crd/apps.kruise.io_clonesets.yaml"

func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(crdPath))
	if err != nil {
		t.Fatalf("read generated CRD (run make generate): %v", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatalf("decode CRD: %v", err)
	}
	return crd
}

// crdSchema is the CloneSet schema as the API server uses it: the OpenAPI
// validator, the structural schema for pruning and defaulting, and the CEL
// validator with the server's per-call limit.
type crdSchema struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func newCRDSchema(t *testing.T) *crdSchema {
	t.Helper()
	crd := loadCRD(t)
	internal := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, internal, nil); err != nil {
		t.Fatalf("convert CRD: %v", err)
	}
	internal.Status.StoredVersions = []string{"v1alpha1"} // set by the server on create
	// The API server runs this on create: structural schema, CEL rules
	// compile and stay within the estimated cost limits.
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
		t.Fatalf("the API server would reject the CRD:\n%v", errs.ToAggregate())
	}
	// The internal form hoists a schema all versions share to spec.validation.
	validation := internal.Spec.Validation
	if validation == nil {
		validation = internal.Spec.Versions[0].Schema
	}
	props := validation.OpenAPIV3Schema
	s, err := structuralschema.NewStructural(props)
	if err != nil {
		t.Fatalf("structural schema: %v", err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		t.Fatalf("schema validator: %v", err)
	}
	return &crdSchema{structural: s, openAPI: openAPI, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
}

// admit runs a create (old == nil) or update the way the API server
// handles a custom resource: prune, default, OpenAPI validation, CEL rules.
func (c *crdSchema) admit(t *testing.T, obj, old map[string]any) (field.ErrorList, []string) {
	t.Helper()
	pruned := pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	defaulting.Default(obj, c.structural)
	var errs field.ErrorList
	if old == nil {
		errs = apiservervalidation.ValidateCustomResource(nil, obj, c.openAPI)
	} else {
		defaulting.Default(old, c.structural)
		errs = apiservervalidation.ValidateCustomResourceUpdate(nil, obj, old, c.openAPI)
	}
	var oldObj any
	if old != nil {
		oldObj = old
	}
	celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, oldObj, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...), pruned
}

func manifest(t *testing.T, y string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatalf("yaml: %v", err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil { // int64 numbers, as the server decodes
		t.Fatalf("json: %v", err)
	}
	return m
}

// cloneSet is a valid manifest; spec lines are appended under spec.
func cloneSet(spec string) string {
	base := `apiVersion: apps.kruise.io/v1alpha1
kind: CloneSet
metadata: {name: web, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, tier: front}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.25"}
`
	if spec == "" {
		return base
	}
	return base + "  " + strings.ReplaceAll(strings.TrimSpace(spec), "\n", "\n  ") + "\n"
}

func TestCRDMetadata(t *testing.T) {
	crd := loadCRD(t)
	if crd.Spec.Group != v1alpha1.GroupName || crd.Spec.Names.Kind != "CloneSet" || crd.Spec.Names.Plural != "clonesets" {
		t.Fatalf("names: group %q kind %q plural %q", crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Names.Plural)
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("scope %q, want Namespaced", crd.Spec.Scope)
	}
	if got := crd.Spec.Names.ShortNames; len(got) != 1 || got[0] != "clone" {
		t.Errorf("short names %v, want [clone]", got)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("versions: %d", len(crd.Spec.Versions))
	}
	v := crd.Spec.Versions[0]
	if v.Name != "v1alpha1" || !v.Served || !v.Storage {
		t.Errorf("version %q served %v storage %v", v.Name, v.Served, v.Storage)
	}
	if v.Subresources == nil || v.Subresources.Status == nil || v.Subresources.Scale == nil {
		t.Fatalf("status and scale subresources needed for kubectl scale and HPA: %+v", v.Subresources)
	}
	sc := v.Subresources.Scale
	if sc.SpecReplicasPath != ".spec.replicas" || sc.StatusReplicasPath != ".status.replicas" ||
		sc.LabelSelectorPath == nil || *sc.LabelSelectorPath != ".status.labelSelector" {
		t.Errorf("scale paths: %+v", sc)
	}
	var cols []string
	for _, c := range v.AdditionalPrinterColumns {
		cols = append(cols, c.Name)
	}
	if got, want := strings.Join(cols, " "), "DESIRED UPDATED UPDATED_READY UPDATED_AVAILABLE READY TOTAL AGE CONTAINERS IMAGES SELECTOR"; got != want {
		t.Errorf("printer columns %q, want %q", got, want)
	}
}

func TestCRDAdmission(t *testing.T) {
	s := newCRDSchema(t)
	cases := []struct {
		name    string
		obj     string
		old     string // update when set
		wantErr string // substring of the joined errors; "" means accepted
	}{
		{name: "minimal", obj: cloneSet("")},
		{name: "full OpenKruise-style manifest", obj: cloneSet(`
replicas: 5
minReadySeconds: 3
revisionHistoryLimit: 5
volumeClaimTemplates:
- metadata: {name: data}
  spec:
    accessModes: [ReadWriteOnce]
    resources: {requests: {storage: 1Gi}}
scaleStrategy:
  podsToDelete: [web-abcde]
  maxUnavailable: 2
  disablePVCReuse: true
updateStrategy:
  type: InPlaceIfPossible
  partition: "40%"
  maxUnavailable: 25%
  maxSurge: 1
  paused: false
  priorityStrategy:
    weightPriority:
    - weight: 50
      matchSelector: {matchLabels: {tier: front}}
  scatterStrategy:
  - {key: zone, value: a}
  inPlaceUpdateStrategy: {gracePeriodSeconds: 10}
lifecycle:
  preDelete:
    finalizersHandler: [example.com/unregister]
    markPodNotReady: true
  inPlaceUpdate:
    labelsHandler: {example.com/ready-to-update: "true"}`)},
		{name: "negative replicas", obj: cloneSet("replicas: -1"), wantErr: "spec.replicas"},
		{name: "unknown update type", obj: cloneSet("updateStrategy: {type: Rolling}"), wantErr: `spec.updateStrategy.type: Unsupported value: "Rolling"`},
		{name: "selector expressions", obj: strings.Replace(cloneSet(""), "matchLabels: {app: web}",
			"matchExpressions: [{key: tier, operator: In, values: [front, back]}, {key: canary, operator: DoesNotExist}]", 1)},
		// Over the API server's CEL cost limit (see CloneSetSpec): the webhook's job.
		{name: "selector missing template labels is left to the webhook", obj: strings.Replace(cloneSet(""), "matchLabels: {app: web}", "matchLabels: {app: api}", 1)},
		{name: "empty selector", obj: strings.Replace(cloneSet(""), "matchLabels: {app: web}", "{}", 1), wantErr: "spec.selector: Invalid value: empty selector"},
		{name: "partition above replicas", obj: cloneSet("replicas: 3\nupdateStrategy: {partition: 5}"), wantErr: "spec.updateStrategy.partition: Invalid value: partition must not be greater than replicas"},
		{name: "partition above default replicas", obj: cloneSet("updateStrategy: {partition: 2}"), wantErr: "partition must not be greater than replicas"},
		{name: "partition equal to replicas", obj: cloneSet("replicas: 3\nupdateStrategy: {partition: 3}")},
		{name: "partition percent", obj: cloneSet("replicas: 3\nupdateStrategy: {partition: \"100%\"}")},
		{name: "partition bad percent", obj: cloneSet("updateStrategy: {partition: \"150%\"}"), wantErr: "spec.updateStrategy.partition"},
		{name: "partition not a number", obj: cloneSet("updateStrategy: {partition: \"half\"}"), wantErr: "spec.updateStrategy.partition"},
		{name: "negative maxSurge", obj: cloneSet("updateStrategy: {maxSurge: -1}"), wantErr: "spec.updateStrategy.maxSurge"},
		{name: "scale below unchanged partition", obj: cloneSet("replicas: 3\nupdateStrategy: {partition: 5}"),
			old: cloneSet("replicas: 10\nupdateStrategy: {partition: 5}")},
		{name: "raise partition above replicas", obj: cloneSet("replicas: 3\nupdateStrategy: {partition: 6}"),
			old: cloneSet("replicas: 3\nupdateStrategy: {partition: 2}"), wantErr: "partition must not be greater than replicas"},
		{name: "selector is immutable", obj: strings.Replace(cloneSet(""), "matchLabels: {app: web}", "matchLabels: {app: web, tier: front}", 1),
			old: cloneSet(""), wantErr: "spec.selector: Invalid value: selector is immutable"},
		{name: "both priority strategies", obj: cloneSet(`
updateStrategy:
  priorityStrategy:
    orderPriority: [{orderedKey: rank}]
    weightPriority: [{weight: 10, matchSelector: {matchLabels: {a: b}}}]`), wantErr: "set weightPriority or orderPriority, not both"},
		{name: "weight out of range", obj: cloneSet(`
updateStrategy:
  priorityStrategy:
    weightPriority: [{weight: 101, matchSelector: {matchLabels: {a: b}}}]`), wantErr: "weight"},
		{name: "negative grace period", obj: cloneSet("updateStrategy: {inPlaceUpdateStrategy: {gracePeriodSeconds: -1}}"), wantErr: "gracePeriodSeconds"},
		// Needs the old and new pod templates compared: the webhook's job.
		{name: "InPlaceOnly with a non-in-place change is left to the webhook", obj: cloneSet("updateStrategy: {type: InPlaceOnly}"),
			old: strings.Replace(cloneSet("updateStrategy: {type: InPlaceOnly}"), `{name: nginx, image: "nginx:1.25"}`, `{name: nginx, image: "nginx:1.25", command: [sh]}`, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var old map[string]any
			if tc.old != "" {
				old = manifest(t, tc.old)
			}
			errs, pruned := s.admit(t, manifest(t, tc.obj), old)
			if len(pruned) > 0 {
				t.Errorf("fields dropped by pruning: %v", pruned)
			}
			got := ""
			if len(errs) > 0 {
				got = errs.ToAggregate().Error()
			}
			switch {
			case tc.wantErr == "" && got != "":
				t.Errorf("rejected: %s", got)
			case tc.wantErr != "" && !strings.Contains(got, tc.wantErr):
				t.Errorf("errors %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
}

// Template and PVC template metadata must survive pruning, and defaults
// must land where the controller expects them.
func TestCRDPruningAndDefaults(t *testing.T) {
	s := newCRDSchema(t)
	obj := manifest(t, cloneSet(`
updateStrategy: {}
volumeClaimTemplates:
- metadata: {name: data, labels: {disk: ssd}}
  spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}`))
	obj["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"] = map[string]any{"a": "b"}
	obj["spec"].(map[string]any)["bogus"] = "x"
	errs, pruned := s.admit(t, obj, nil)
	if len(errs) > 0 {
		t.Fatalf("rejected: %v", errs.ToAggregate())
	}
	if strings.Join(pruned, ",") != "spec.bogus" {
		t.Errorf("pruned %v, want only spec.bogus", pruned)
	}
	j, err := utiljson.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	cs := &v1alpha1.CloneSet{}
	if err := utiljson.Unmarshal(j, cs); err != nil {
		t.Fatal(err)
	}
	if cs.Spec.Replicas == nil || *cs.Spec.Replicas != 1 {
		t.Errorf("replicas default: %v", cs.Spec.Replicas)
	}
	if cs.Spec.UpdateStrategy.Type != v1alpha1.RecreateCloneSetUpdateStrategyType {
		t.Errorf("updateStrategy.type default %q", cs.Spec.UpdateStrategy.Type)
	}
	if cs.Spec.Template.Labels["tier"] != "front" || cs.Spec.Template.Annotations["a"] != "b" {
		t.Errorf("template metadata lost: %+v", cs.Spec.Template.ObjectMeta)
	}
	if len(cs.Spec.VolumeClaimTemplates) != 1 || cs.Spec.VolumeClaimTemplates[0].Name != "data" || cs.Spec.VolumeClaimTemplates[0].Labels["disk"] != "ssd" {
		t.Errorf("PVC template metadata lost: %+v", cs.Spec.VolumeClaimTemplates)
	}
}
