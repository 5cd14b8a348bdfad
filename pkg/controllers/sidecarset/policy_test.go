package sidecarset

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/kubernetes/pkg/apis/admissionregistration"
	admissionregistrationinternalv1 "k8s.io/kubernetes/pkg/apis/admissionregistration/v1"
	apivalidation "k8s.io/kubernetes/pkg/apis/admissionregistration/validation"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// admit runs a compiled policy on a pod the way the API server's
// MutatingAdmissionPolicy plugin does: the same CEL environment, variables,
// match conditions and JSONPatch machinery. It reports whether the match
// conditions let the pod through and the mutated pod.
func admit(t *testing.T, policy *admissionregistrationv1.MutatingAdmissionPolicy, pod *corev1.Pod) (bool, *corev1.Pod) {
	t.Helper()
	ok, out, err := admitErr(t, policy, pod)
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	return ok, out
}

// admitErr is admit returning the patch's error, with which the API server
// refuses the pod (the policies fail closed).
func admitErr(t *testing.T, policy *admissionregistrationv1.MutatingAdmissionPolicy, pod *corev1.Pod) (bool, *corev1.Pod, error) {
	t.Helper()
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		t.Fatal(err)
	}
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true, HasPatchTypes: true}
	vars := make([]plugincel.NamedExpressionAccessor, len(policy.Spec.Variables))
	for i, v := range policy.Spec.Variables {
		vars[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	compiler.CompileAndStoreVariables(vars, opts, environment.StoredExpressions)

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	attrs := admission.NewAttributesRecord(pod, nil, gvk, pod.Namespace, pod.Name, gvr, "", admission.Create, &metav1.CreateOptions{}, false, nil)
	va := &admission.VersionedAttributes{Attributes: attrs, VersionedKind: gvk, VersionedObject: admission.NewLazyObject(pod)}

	conds := make([]plugincel.ExpressionAccessor, len(policy.Spec.MatchConditions))
	for i := range policy.Spec.MatchConditions {
		conds[i] = (*matchconditions.MatchCondition)(&policy.Spec.MatchConditions[i])
	}
	matcher := matchconditions.NewMatcher(compiler.CompileCondition(conds, opts, environment.StoredExpressions), policy.Spec.FailurePolicy, "policy", "mutate", policy.Name)
	res := matcher.Match(context.Background(), va, nil, nil)
	if res.Error != nil {
		t.Fatalf("match conditions: %v", res.Error)
	}
	if !res.Matches {
		return false, pod, nil
	}
	var out runtime.Object = pod
	for _, m := range policy.Spec.Mutations {
		ev := compiler.CompileMutatingEvaluator(&patch.JSONPatchCondition{Expression: m.JSONPatch.Expression}, opts, environment.StoredExpressions)
		va.VersionedObject = admission.NewLazyObject(out)
		// As the API server's dispatcher does: variables live in a
		// composition context per request.
		out, err = patch.NewJSONPatcher(ev).Patch(compiler.CreateContext(context.Background()), patch.Request{
			MatchedResource: gvr, VersionedAttributes: va, ObjectInterfaces: admission.NewObjectInterfacesFromScheme(scheme),
		}, celconfig.RuntimeCELCostBudget)
		if err != nil {
			return true, nil, fmt.Errorf("%w\nexpression:\n%s", err, m.JSONPatch.Expression)
		}
	}
	return true, out.(*corev1.Pod), nil
}

// serverAccepts checks the policy and binding with the API server's own
// validation, which compiles every expression and rejects those over the
// cost limit.
func serverAccepts(t *testing.T, p *admissionregistrationv1.MutatingAdmissionPolicy, b *admissionregistrationv1.MutatingAdmissionPolicyBinding) {
	t.Helper()
	var ip admissionregistration.MutatingAdmissionPolicy
	if err := admissionregistrationinternalv1.Convert_v1_MutatingAdmissionPolicy_To_admissionregistration_MutatingAdmissionPolicy(p, &ip, nil); err != nil {
		t.Fatal(err)
	}
	if errs := apivalidation.ValidateMutatingAdmissionPolicy(&ip); len(errs) > 0 {
		t.Fatalf("the API server would reject the policy: %v", errs.ToAggregate())
	}
	var ib admissionregistration.MutatingAdmissionPolicyBinding
	if err := admissionregistrationinternalv1.Convert_v1_MutatingAdmissionPolicyBinding_To_admissionregistration_MutatingAdmissionPolicyBinding(b, &ib, nil); err != nil {
		t.Fatal(err)
	}
	if errs := apivalidation.ValidateMutatingAdmissionPolicyBinding(&ib); len(errs) > 0 {
		t.Fatalf("the API server would reject the binding: %v", errs.ToAggregate())
	}
}

func sidecarSet(name string, mutate func(*v1beta1.SidecarSet)) *v1beta1.SidecarSet {
	ss := &v1beta1.SidecarSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-" + "x"},
		Spec: v1beta1.SidecarSetSpec{
			Selector:   &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Containers: []v1beta1.SidecarContainer{{Container: corev1.Container{Name: name + "-agent", Image: "agent:1"}, PodInjectPolicy: v1beta1.AfterAppContainerType}},
		},
	}
	if mutate != nil {
		mutate(ss)
	}
	return ss
}

func appPod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "app:1",
			Env:          []corev1.EnvVar{{Name: "TZ", Value: "UTC"}, {Name: "SECRET", Value: "s"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "logs", MountPath: "/var/log/app"}}}},
			Volumes: []corev1.Volume{{Name: "data"}, {Name: "logs"}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func names(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func compileOK(t *testing.T, ss *v1beta1.SidecarSet) *admissionregistrationv1.MutatingAdmissionPolicy {
	t.Helper()
	p, b, err := Compile(ss)
	if err != nil {
		t.Fatal(err)
	}
	serverAccepts(t, p, b)
	return p
}

func TestInjectionOrderVolumesAndSecrets(t *testing.T) {
	ss := sidecarSet("log", func(ss *v1beta1.SidecarSet) {
		ss.Spec.Containers = []v1beta1.SidecarContainer{
			{Container: corev1.Container{Name: "proxy", Image: "proxy:1", Ports: []corev1.ContainerPort{{ContainerPort: 15001}}}, PodInjectPolicy: v1beta1.BeforeAppContainerType},
			{Container: corev1.Container{Name: "proxy-2", Image: "proxy:1"}, PodInjectPolicy: v1beta1.BeforeAppContainerType},
			{Container: corev1.Container{Name: "agent", Image: "agent:1", VolumeMounts: []corev1.VolumeMount{{Name: "agent-conf", MountPath: "/etc/agent"}}}, PodInjectPolicy: v1beta1.AfterAppContainerType},
		}
		ss.Spec.InitContainers = []v1beta1.SidecarContainer{{Container: corev1.Container{Name: "z-init", Image: "init:1"}}, {Container: corev1.Container{Name: "a-init", Image: "init:1"}}}
		ss.Spec.Volumes = []corev1.Volume{{Name: "agent-conf", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, {Name: "data"}}
		ss.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mine"}}
	})
	p := compileOK(t, ss)
	ok, got := admit(t, p, appPod(func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "own-init", Image: "i"}}
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "mine"}}
	}))
	if !ok {
		t.Fatal("a new matching pod did not pass the match conditions")
	}
	if n := names(got.Spec.Containers); n != "proxy,proxy-2,main,agent" {
		t.Errorf("containers %s, want proxy,proxy-2,main,agent", n)
	}
	if n := names(got.Spec.InitContainers); n != "own-init,a-init,z-init" {
		t.Errorf("init containers %s, want own-init,a-init,z-init", n)
	}
	if got.Spec.Containers[0].Ports[0].ContainerPort != 15001 || got.Spec.Containers[3].VolumeMounts[0].MountPath != "/etc/agent" {
		t.Errorf("sidecar fields lost: %+v", got.Spec.Containers)
	}
	for _, c := range []corev1.Container{got.Spec.Containers[0], got.Spec.Containers[3], got.Spec.InitContainers[1]} {
		if len(c.Env) != 1 || c.Env[0].Name != InjectedEnv {
			t.Errorf("container %s env %v, want %s only", c.Name, c.Env, InjectedEnv)
		}
	}
	if len(got.Spec.Volumes) != 3 || got.Spec.Volumes[2].Name != "agent-conf" || got.Spec.Volumes[2].EmptyDir == nil {
		t.Errorf("volumes %+v: want the pod's data and logs, then agent-conf (the pod's data kept)", got.Spec.Volumes)
	}
	if len(got.Spec.ImagePullSecrets) != 2 || got.Spec.ImagePullSecrets[1].Name != "regcred" {
		t.Errorf("pull secrets %v, want mine, regcred", got.Spec.ImagePullSecrets)
	}
	if len(got.Spec.Containers[2].Env) != 2 {
		t.Errorf("app container changed: %+v", got.Spec.Containers[2])
	}
	// Injected once only: the same policy again leaves the pod alone.
	if _, again := admit(t, p, got.DeepCopy()); !apiequality.Semantic.DeepEqual(again, got) {
		t.Errorf("a second pass changed the injected pod:\n%v\n%v", names(again.Spec.Containers), names(got.Spec.Containers))
	}
}

// MergePatchJson at creation: the patch's members join the pod's JSON
// object and win over its own; a pod without the annotation gets the patch.
func TestInjectionMergePatchJSON(t *testing.T) {
	p := compileOK(t, sidecarSet("merge", func(ss *v1beta1.SidecarSet) {
		ss.Spec.PatchPodMetadata = []v1beta1.SidecarSetPatchPodMetadata{{PatchPolicy: v1beta1.SidecarSetMergePatchJSONPatchPolicy,
			Annotations: map[string]string{"key": `{"agent":1}`}}}
	}))
	_, fresh := admit(t, p, appPod(nil))
	if got := fresh.Annotations["key"]; got != `{"agent":1}` {
		t.Errorf("new annotation %s", got)
	}
	_, merged := admit(t, p, appPod(func(p *corev1.Pod) { p.Annotations = map[string]string{"key": `{"app":1,"agent":0}`} }))
	var m map[string]int
	if err := json.Unmarshal([]byte(merged.Annotations["key"]), &m); err != nil || m["app"] != 1 || m["agent"] != 1 {
		t.Errorf("merged annotation %s (%v): want app 1 kept and agent 1 from the patch", merged.Annotations["key"], err)
	}
	if _, _, err := Compile(sidecarSet("bad", func(ss *v1beta1.SidecarSet) {
		ss.Spec.PatchPodMetadata = []v1beta1.SidecarSetPatchPodMetadata{{PatchPolicy: v1beta1.SidecarSetMergePatchJSONPatchPolicy,
			Annotations: map[string]string{"key": `not json`}}}
	})); err == nil || !strings.Contains(err.Error(), "spec.patchPodMetadata[0].annotations[key]") {
		t.Errorf("a MergePatchJson value that is not a JSON object: %v; want refused naming the field", err)
	}
}

// A shared mount whose subPathExpr expands the app's env vars brings
// those vars (and only those) to the sidecar, so it expands the same path.
func TestInjectionCopiesSubPathExprEnv(t *testing.T) {
	ss := sidecarSet("subpath", func(ss *v1beta1.SidecarSet) {
		ss.Spec.Containers = []v1beta1.SidecarContainer{{
			Container:         corev1.Container{Name: "agent", Image: "agent:1", Env: []corev1.EnvVar{{Name: "OD_NAME", Value: "mine"}}},
			ShareVolumePolicy: v1beta1.ShareVolumePolicy{Type: v1beta1.ShareVolumePolicyEnabled},
		}}
	})
	p := compileOK(t, ss)
	_, got := admit(t, p, appPod(func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "POD_NAME", Value: "bar"}, {Name: "OD_NAME", Value: "od"}, {Name: "OTHER", Value: "x"}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPathExpr: "foo/$(POD_NAME)/$(OD_NAME)/conf"}}
	}))
	var env []string
	for _, e := range got.Spec.Containers[0].Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if g := strings.Join(env, ","); g != "OD_NAME=mine,IS_INJECTED=true,POD_NAME=bar" {
		t.Errorf("sidecar env %s: want its own, then the subPathExpr's vars it lacks from the app", g)
	}
}

func TestInjectionSharesVolumesAndTransfersEnv(t *testing.T) {
	ss := sidecarSet("share", func(ss *v1beta1.SidecarSet) {
		ss.Spec.Containers = []v1beta1.SidecarContainer{{
			Container: corev1.Container{Name: "agent", Image: "agent:1",
				Env:          []corev1.EnvVar{{Name: "TZ", Value: "mine"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: "/var/log/app"}}},
			PodInjectPolicy:   v1beta1.AfterAppContainerType,
			ShareVolumePolicy: v1beta1.ShareVolumePolicy{Type: v1beta1.ShareVolumePolicyEnabled},
			TransferEnv: []v1beta1.TransferEnvVar{
				{SourceContainerName: "main", EnvNames: []string{"TZ", "SECRET", "MISSING"}},
				{SourceContainerNameFrom: &v1beta1.SourceContainerNameSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['env-from']"}}, EnvName: "FROMLABEL"},
			},
		}}
	})
	p := compileOK(t, ss)
	_, got := admit(t, p, appPod(func(p *corev1.Pod) {
		p.Labels["env-from"] = "second"
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "second", Image: "x",
			Env:          []corev1.EnvVar{{Name: "FROMLABEL", Value: "yes"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "cache", MountPath: "/cache"}}})
	}))
	agent := got.Spec.Containers[2]
	var mounts []string
	for _, m := range agent.VolumeMounts {
		mounts = append(mounts, m.Name+":"+m.MountPath)
	}
	if g := strings.Join(mounts, ","); g != "own:/var/log/app,cache:/cache,data:/data" {
		t.Errorf("sidecar mounts %s: want its own, then each app mount path once by path, its own path not shadowed", g)
	}
	var env []string
	for _, e := range agent.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if g := strings.Join(env, ","); g != "TZ=mine,IS_INJECTED=true,SECRET=s,FROMLABEL=yes" {
		t.Errorf("sidecar env %s: want its own first, then the transferred ones it lacks", g)
	}
}

func TestInjectionAnnotations(t *testing.T) {
	first := compileOK(t, sidecarSet("first", nil))
	second := compileOK(t, sidecarSet("second", func(ss *v1beta1.SidecarSet) {
		ss.Spec.PatchPodMetadata = []v1beta1.SidecarSetPatchPodMetadata{
			{Annotations: map[string]string{"keep": "set", "fresh": "set"}},
			{Annotations: map[string]string{"force": "set"}, PatchPolicy: v1beta1.SidecarSetOverwritePatchPolicy},
		}
	}))
	_, pod := admit(t, first, appPod(func(p *corev1.Pod) {
		p.Annotations = map[string]string{"keep": "mine", "force": "mine"}
	}))
	_, pod = admit(t, second, pod)
	if got := pod.Annotations[v1beta1.SidecarSetListAnnotation]; got != "first,second" {
		t.Errorf("injected list %q, want first,second", got)
	}
	for _, key := range []string{v1beta1.SidecarSetHashAnnotation, v1beta1.SidecarSetHashWithoutImageAnnotation} {
		var m map[string]upgradeSpec
		if err := json.Unmarshal([]byte(pod.Annotations[key]), &m); err != nil {
			t.Fatalf("%s is not JSON: %v: %s", key, err, pod.Annotations[key])
		}
		for _, name := range []string{"first", "second"} {
			rev, _ := Revisions(sidecarSet(name, nil))
			want := rev.Hash
			if key == v1beta1.SidecarSetHashWithoutImageAnnotation {
				want = rev.HashWithoutImage
			}
			if e := m[name]; e.SidecarSetName != name || len(e.SidecarList) != 1 || e.SidecarList[0] != name+"-agent" {
				t.Errorf("%s[%s] = %+v", key, name, e)
			} else if e.Hash == "" || (name == "first" && e.Hash != want) {
				t.Errorf("%s[%s] hash %q, want %q", key, name, e.Hash, want)
			}
		}
	}
	if a := pod.Annotations; a["keep"] != "mine" || a["fresh"] != "set" || a["force"] != "set" {
		t.Errorf("patchPodMetadata: %v; want keep retained, fresh added, force overwritten", a)
	}
	if names(pod.Spec.Containers) != "main,first-agent,second-agent" {
		t.Errorf("containers %s", names(pod.Spec.Containers))
	}
}

func TestRevisionsSeparateImageChanges(t *testing.T) {
	a, _ := Revisions(sidecarSet("s", nil))
	b, _ := Revisions(sidecarSet("s", func(ss *v1beta1.SidecarSet) { ss.Spec.Containers[0].Image = "agent:2" }))
	c, _ := Revisions(sidecarSet("s", func(ss *v1beta1.SidecarSet) { ss.Spec.Containers[0].Args = []string{"-v"} }))
	if a.Hash == b.Hash || a.HashWithoutImage != b.HashWithoutImage {
		t.Errorf("an image change: %+v vs %+v; want a new hash, the same hash without image", a, b)
	}
	if a.HashWithoutImage == c.HashWithoutImage {
		t.Errorf("an args change kept the hash without image %q", a.HashWithoutImage)
	}
}

func TestCompileScope(t *testing.T) {
	p, b, err := Compile(sidecarSet("scoped", func(ss *v1beta1.SidecarSet) {
		ss.Spec.Namespace = "prod"
		ss.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*admissionregistrationv1.MatchResources{p.Spec.MatchConstraints, b.Spec.MatchResources} {
		ns := m.NamespaceSelector
		if ns == nil || ns.MatchLabels["team"] != "a" || len(ns.MatchExpressions) != 1 || ns.MatchExpressions[0].Key != corev1.LabelMetadataName || ns.MatchExpressions[0].Values[0] != "prod" {
			t.Errorf("namespace selector %+v: want team=a and the prod namespace", ns)
		}
		if m.ObjectSelector.MatchLabels["app"] != "web" {
			t.Errorf("object selector %+v", m.ObjectSelector)
		}
		r := m.ResourceRules[0]
		if len(r.Operations) != 1 || r.Operations[0] != admissionregistrationv1.Create || r.Resources[0] != "pods" {
			t.Errorf("rules %+v: want pod CREATE only", r)
		}
	}
	if p.Name != "sidecarset-scoped" || b.Spec.PolicyName != p.Name || p.OwnerReferences[0].Name != "scoped" || p.OwnerReferences[0].Kind != "SidecarSet" {
		t.Errorf("names and owner: %s %s %+v", p.Name, b.Spec.PolicyName, p.OwnerReferences)
	}
	if *p.Spec.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("failure policy %s, want Fail", *p.Spec.FailurePolicy)
	}
}

func TestCompileErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		field  string
		mutate func(*v1beta1.SidecarSet)
	}{
		{"spec.selector", func(ss *v1beta1.SidecarSet) { ss.Spec.Selector = nil }},
		{"spec.selector", func(ss *v1beta1.SidecarSet) { ss.Spec.Selector = &metav1.LabelSelector{} }},
		{"spec.namespaceSelector", func(ss *v1beta1.SidecarSet) {
			ss.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bad"}}}
		}},
		{"spec.containers[s-agent].podInjectPolicy", func(ss *v1beta1.SidecarSet) { ss.Spec.Containers[0].PodInjectPolicy = "Middle" }},
		{"spec.containers[s-agent].transferEnv[0]", func(ss *v1beta1.SidecarSet) {
			ss.Spec.Containers[0].TransferEnv = []v1beta1.TransferEnvVar{{EnvName: "X"}}
		}},
		{"fieldRef.fieldPath", func(ss *v1beta1.SidecarSet) {
			ss.Spec.Containers[0].TransferEnv = []v1beta1.TransferEnvVar{{EnvName: "X",
				SourceContainerNameFrom: &v1beta1.SourceContainerNameSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
		}},
		{"spec.containers[s-agent].name", func(ss *v1beta1.SidecarSet) { ss.Spec.Containers = append(ss.Spec.Containers, ss.Spec.Containers[0]) }},
		{"spec.patchPodMetadata[0].patchPolicy", func(ss *v1beta1.SidecarSet) {
			ss.Spec.PatchPodMetadata = []v1beta1.SidecarSetPatchPodMetadata{{Annotations: map[string]string{"a": "b"}, PatchPolicy: "Sometimes"}}
		}},
	} {
		_, _, err := Compile(sidecarSet("s", tc.mutate))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("error %v, want one naming %s", err, tc.field)
		}
	}
}

// A large pod stays within the API server's runtime CEL budget: with
// failurePolicy Fail, a budget overrun would refuse the pod.
func TestInjectionLargePodWithinBudget(t *testing.T) {
	ss := sidecarSet("big", func(ss *v1beta1.SidecarSet) {
		ss.Spec.Containers[0].ShareVolumePolicy.Type = v1beta1.ShareVolumePolicyEnabled
		ss.Spec.Containers[0].TransferEnv = []v1beta1.TransferEnvVar{{SourceContainerName: "c0", EnvNames: []string{"E0", "E1"}}}
	})
	p := compileOK(t, ss)
	pod := appPod(func(p *corev1.Pod) {
		p.Spec.Containers, p.Spec.Volumes = nil, nil
		for i := range 30 {
			c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "app:1"}
			for j := range 20 {
				c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("E%d", j), Value: "v"})
				c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: fmt.Sprintf("v%d", j), MountPath: fmt.Sprintf("/m/%d/%d", i%3, j)})
			}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		for j := range 20 {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", j)})
		}
	})
	_, got := admit(t, p, pod)
	agent := got.Spec.Containers[len(got.Spec.Containers)-1]
	if agent.Name != "big-agent" || len(agent.VolumeMounts) != 60 || len(agent.Env) != 3 {
		t.Errorf("agent %s with %d mounts and %d env vars; want big-agent with the 60 distinct app mount paths and IS_INJECTED, E0, E1", agent.Name, len(agent.VolumeMounts), len(agent.Env))
	}
}

// A HotUpgrade sidecar is injected as OpenKruise's pair: <name>-1 working
// on the image, <name>-2 idle on the empty image, each reading its version
// from annotations the pod gets, and the working one recorded.
func TestInjectionHotUpgradePair(t *testing.T) {
	p := compileOK(t, sidecarSet("mesh", func(ss *v1beta1.SidecarSet) {
		ss.Spec.Containers = []v1beta1.SidecarContainer{{
			// podInjectPolicy unset: OpenKruise's default puts the pair
			// before the app's containers.
			Container:       corev1.Container{Name: "envoy", Image: "envoy:1"},
			UpgradeStrategy: v1beta1.SidecarContainerUpgradeStrategy{UpgradeType: v1beta1.SidecarContainerHotUpgrade, HotUpgradeEmptyImage: "empty:1"},
		}}
	}))
	_, pod := admit(t, p, appPod(func(p *corev1.Pod) {
		p.Annotations = map[string]string{WorkingHotUpgradeAnnotation: `{"other":"other-2"}`}
	}))
	if got := names(pod.Spec.Containers); got != "envoy-1,envoy-2,main" {
		t.Fatalf("containers %s, want envoy-1,envoy-2,main", got)
	}
	if pod.Spec.Containers[0].Image != "envoy:1" || pod.Spec.Containers[1].Image != "empty:1" {
		t.Errorf("images %s, %s: want the image on -1 and the empty image on -2", pod.Spec.Containers[0].Image, pod.Spec.Containers[1].Image)
	}
	for _, c := range pod.Spec.Containers[:2] {
		env := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				env[e.Name] = e.ValueFrom.FieldRef.FieldPath
			}
		}
		if env["SIDECARSET_VERSION"] != "metadata.annotations['version.sidecarset.kruise.io/"+c.Name+"']" ||
			env["SIDECARSET_VERSION_ALT"] != "metadata.annotations['versionalt.sidecarset.kruise.io/"+c.Name+"']" {
			t.Errorf("%s version env %v", c.Name, env)
		}
	}
	a := pod.Annotations
	if a["version.sidecarset.kruise.io/envoy-1"] != "1" || a["versionalt.sidecarset.kruise.io/envoy-1"] != "0" ||
		a["version.sidecarset.kruise.io/envoy-2"] != "0" || a["versionalt.sidecarset.kruise.io/envoy-2"] != "1" {
		t.Errorf("version annotations %v", a)
	}
	var working map[string]string
	if err := json.Unmarshal([]byte(a[WorkingHotUpgradeAnnotation]), &working); err != nil || working["envoy"] != "envoy-1" || working["other"] != "other-2" {
		t.Errorf("working annotation %q (%v): want envoy-1 added to the pod's own", a[WorkingHotUpgradeAnnotation], err)
	}
	var hash map[string]upgradeSpec
	if err := json.Unmarshal([]byte(a[v1beta1.SidecarSetHashAnnotation]), &hash); err != nil || len(hash["mesh"].SidecarList) != 1 || hash["mesh"].SidecarList[0] != "envoy" {
		t.Errorf("hash annotation %q: want the sidecar's own name in sidecarList", a[v1beta1.SidecarSetHashAnnotation])
	}
}
