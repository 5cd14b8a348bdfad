package v1beta1_test

import (
	"encoding/json"
	"math/rand"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// SidecarSet is cluster-scoped, served as v1alpha1 and v1beta1, stored as
// v1beta1, and both versions have one schema (v1alpha1's namespace and
// v1beta1's customVersion in both), so conversion is None and lossless.
func TestSidecarSetCRDVersions(t *testing.T) {
	crd := loadCRD(t, "sidecarsets")
	if crd.Spec.Scope != apiextensionsv1.ClusterScoped {
		t.Errorf("scope %q, want Cluster", crd.Spec.Scope)
	}
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
	spec := beta.Schema.OpenAPIV3Schema.Properties["spec"].Properties
	for _, f := range []string{"namespace", "namespaceSelector", "customVersion"} {
		if _, ok := spec[f]; !ok {
			t.Errorf("spec.%s missing from the schema", f)
		}
	}
}

// An OpenKruise SidecarSet manifest keeps every field through pruning
// under either version.
func TestSidecarSetManifestNotPruned(t *testing.T) {
	const m = `apiVersion: apps.kruise.io/v1alpha1
kind: SidecarSet
metadata: {name: log-agent}
spec:
  selector: {matchLabels: {app: web}}
  namespace: prod
  namespaceSelector: {matchLabels: {team: a}}
  customVersion: v2
  containers:
  - name: agent
    image: agent:1
    podInjectPolicy: BeforeAppContainer
    upgradeStrategy: {upgradeType: HotUpgrade, hotUpgradeEmptyImage: empty:1}
    shareVolumePolicy: {type: enabled}
    shareVolumeDevicePolicy: {type: disabled}
    transferEnv:
    - {sourceContainerName: main, envName: TZ}
    - {sourceContainerNameFrom: {fieldRef: {fieldPath: "metadata.labels['c']"}}, envNames: [A, B]}
    resourcesPolicy:
      targetContainersMode: sum
      targetContainersNameRegex: "^main$"
      resourcesExpr: {limits: {cpu: "max(cpu*50%, 50m)", memory: "200Mi"}, requests: {cpu: "50m", memory: "100Mi"}}
    volumeMounts: [{name: logs, mountPath: /var/log}]
  initContainers: [{name: init, image: init:1}]
  volumes: [{name: logs, emptyDir: {}}]
  updateStrategy:
    type: RollingUpdate
    paused: false
    selector: {matchLabels: {canary: "true"}}
    partition: 10%
    maxUnavailable: 2
    priorityStrategy: {weightPriority: [{weight: 50, matchSelector: {matchLabels: {a: b}}}]}
    scatterStrategy: [{key: zone, value: a}]
  injectionStrategy: {paused: false, revision: {customVersion: v1, revisionName: log-agent-abc, policy: Partial}}
  imagePullSecrets: [{name: regcred}]
  revisionHistoryLimit: 5
  patchPodMetadata: [{annotations: {a: b}, patchPolicy: Overwrite}]
status:
  observedGeneration: 2
  matchedPods: 3
  updatedPods: 2
  readyPods: 3
  updatedReadyPods: 2
  latestRevision: abc
  collisionCount: 0
`
	crd := loadCRD(t, "sidecarsets")
	for _, v := range crd.Spec.Versions {
		s := structural(t, v.Schema.OpenAPIV3Schema)
		obj := decode(t, m)
		obj["apiVersion"] = "apps.kruise.io/" + v.Name
		pruned := pruning.PruneWithOptions(obj, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
		if len(pruned) > 0 {
			t.Errorf("%s pruned %v", v.Name, pruned)
		}
	}
}

// Random SidecarSets survive a trip through the other version both ways.
func TestSidecarSetRoundTripBetweenVersions(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, gv := range []string{"v1alpha1", "v1beta1"} {
		for _, kind := range []string{"SidecarSet", "SidecarSetList"} {
			if !scheme.Recognizes(v1beta1.SchemeGroupVersion.WithKind(kind).GroupKind().WithVersion(gv)) {
				t.Errorf("scheme does not know %s %s", gv, kind)
			}
		}
	}
	f := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(11), serializer.NewCodecFactory(scheme))
	for i := 0; i < 50; i++ {
		for _, p := range []struct{ from, other, back any }{
			{&v1beta1.SidecarSet{}, &v1alpha1.SidecarSet{}, &v1beta1.SidecarSet{}},
			{&v1alpha1.SidecarSet{}, &v1beta1.SidecarSet{}, &v1alpha1.SidecarSet{}},
		} {
			f.Fill(p.from)
			via(t, p.from, p.other)
			via(t, p.other, p.back)
			a, _ := json.Marshal(p.from)
			b, _ := json.Marshal(p.back)
			if string(a) != string(b) {
				t.Fatalf("round trip through the other version lost data:\n%s\n%s", a, b)
			}
		}
	}
}
