package sidecarset

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

const (
	// PolicyPrefix starts the name of every MutatingAdmissionPolicy and
	// binding this package writes; the rest is the SidecarSet's name.
	PolicyPrefix = "sidecarset-"
	// InjectedEnv is the env var OpenKruise sets on every injected
	// container; containers carrying it are sidecars, not the app's, and
	// are never a source of shared volume mounts.
	InjectedEnv = "IS_INJECTED"
	// ManagedByLabel marks the policies and bindings this package owns.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "myriad-sidecarset"
)

// PolicyName is the name of the policy and the binding of a SidecarSet.
func PolicyName(sidecarSet string) string { return PolicyPrefix + sidecarSet }

// Revision identifies the sidecars a SidecarSet runs in a pod: Hash
// covers the containers, and the init containers when one of them is a
// native sidecar (restartPolicy Always), as OpenKruise hashes them: a
// change of volumes, pull secrets or pod metadata reaches new pods but
// leaves running ones up to date. HashWithoutImage is the same with every
// image blanked, so two revisions with equal HashWithoutImage differ in
// images only. ControllerRevision
// names the ControllerRevision recording it, when known.
type Revision struct {
	Hash, HashWithoutImage string
	ControllerRevision     string
}

// latestName is what status.latestRevision says: the ControllerRevision's
// name, as in OpenKruise, or the hash until the revision is recorded.
func (r Revision) latestName() string {
	if r.ControllerRevision != "" {
		return r.ControllerRevision
	}
	return r.Hash
}

// Revisions computes a SidecarSet's Revision.
func Revisions(ss *v1beta1.SidecarSet) (Revision, error) {
	h, err := specHash(ss.Spec)
	if err != nil {
		return Revision{}, err
	}
	noImage := *ss.Spec.DeepCopy()
	for _, list := range [][]v1beta1.SidecarContainer{noImage.Containers, noImage.InitContainers} {
		for i := range list {
			list[i].Image = ""
		}
	}
	hw, err := specHash(noImage)
	if err != nil {
		return Revision{}, err
	}
	return Revision{Hash: h, HashWithoutImage: hw}, nil
}

func specHash(spec v1beta1.SidecarSetSpec) (string, error) {
	hashed := struct {
		C []v1beta1.SidecarContainer `json:"containers"`
		I []v1beta1.SidecarContainer `json:"initContainers,omitempty"`
	}{C: spec.Containers}
	if hashed.C == nil {
		hashed.C = []v1beta1.SidecarContainer{}
	}
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			hashed.I = spec.InitContainers
		}
	}
	raw, err := json.Marshal(hashed)
	if err != nil {
		return "", fmt.Errorf("hash SidecarSet spec: %w", err)
	}
	h := fnv.New64a()
	h.Write(raw)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum64())), nil
}

// Compile turns a SidecarSet into the MutatingAdmissionPolicy and binding
// that inject its current spec into the pods it selects as they are
// created. It is pure: the same SidecarSet always gives the same objects.
// An error names the SidecarSet field that cannot be compiled.
func Compile(ss *v1beta1.SidecarSet) (*admissionregistrationv1.MutatingAdmissionPolicy, *admissionregistrationv1.MutatingAdmissionPolicyBinding, error) {
	return CompileWith(ss, Injection{})
}

// CompileWith is Compile injecting what inj says: the current spec
// recorded as inj.Latest, or a pinned revision (see Injection).
func CompileWith(ss *v1beta1.SidecarSet, inj Injection) (*admissionregistrationv1.MutatingAdmissionPolicy, *admissionregistrationv1.MutatingAdmissionPolicyBinding, error) {
	name := PolicyName(ss.Name)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, nil, fmt.Errorf("metadata.name: policy name %q: %s", name, strings.Join(errs, "; "))
	}
	if ss.Spec.Selector == nil || (len(ss.Spec.Selector.MatchLabels) == 0 && len(ss.Spec.Selector.MatchExpressions) == 0) {
		return nil, nil, fmt.Errorf("spec.selector: required and not empty (an empty selector matches no pod)")
	}
	if _, err := metav1.LabelSelectorAsSelector(ss.Spec.Selector); err != nil {
		return nil, nil, fmt.Errorf("spec.selector: %w", err)
	}
	nsSel, err := namespaceSelector(ss.Spec)
	if err != nil {
		return nil, nil, err
	}
	m, err := injectionMutation(ss, inj)
	if err != nil {
		return nil, nil, err
	}

	labels := map[string]string{ManagedByLabel: managedBy}
	owner := []metav1.OwnerReference{*metav1.NewControllerRef(ss, v1beta1.SchemeGroupVersion.WithKind("SidecarSet"))}
	owner[0].BlockOwnerDeletion = nil // the manager has no finalizer rights on SidecarSets, and needs none
	if nsSel == nil {
		nsSel = &metav1.LabelSelector{} // every namespace
	}
	match := &admissionregistrationv1.MatchResources{
		ObjectSelector:    ss.Spec.Selector.DeepCopy(),
		NamespaceSelector: nsSel,
		// Exact: pods have one version, so nothing is gained by
		// conversion.
		MatchPolicy: ptr.To(admissionregistrationv1.Exact),
		ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
				Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
		}}},
	}
	policy := &admissionregistrationv1.MutatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: owner},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: match,
			Variables:        m.variables,
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: m.patch},
			}},
			// A pod the SidecarSet selects either gets its sidecars or is
			// refused; it never starts silently without them.
			FailurePolicy:      ptr.To(admissionregistrationv1.Fail),
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
	binding := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: owner},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: name,
			// The binding repeats the policy's scope, so it alone already
			// says which pods it can touch.
			MatchResources: match.DeepCopy(),
		},
	}
	return policy, binding, nil
}

// namespaceSelector is spec.namespaceSelector narrowed to spec.namespace
// (v1alpha1's field) through the kubernetes.io/metadata.name label the API
// server puts on every namespace.
func namespaceSelector(spec v1beta1.SidecarSetSpec) (*metav1.LabelSelector, error) {
	var sel *metav1.LabelSelector
	if spec.NamespaceSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(spec.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("spec.namespaceSelector: %w", err)
		}
		sel = spec.NamespaceSelector.DeepCopy()
	}
	if spec.Namespace != "" {
		if errs := validation.IsDNS1123Label(spec.Namespace); len(errs) > 0 {
			return nil, fmt.Errorf("spec.namespace: %s", strings.Join(errs, "; "))
		}
		if sel == nil {
			sel = &metav1.LabelSelector{}
		}
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: []string{spec.Namespace}})
	}
	return sel, nil
}

type compiled struct {
	variables []admissionregistrationv1.Variable
	patch     string
}

// mutation builds the policy's variables and its JSONPatch expression.
func mutation(ss *v1beta1.SidecarSet, rev Revision) (compiled, error) {
	var out compiled
	share := false
	for _, list := range [][]v1beta1.SidecarContainer{ss.Spec.Containers, ss.Spec.InitContainers} {
		for _, c := range list {
			share = share || c.ShareVolumePolicy.Type == v1beta1.ShareVolumePolicyEnabled
		}
	}
	out.variables = append(out.variables, admissionregistrationv1.Variable{Name: "annotations", Expression: `object.metadata.?annotations.orValue({})`})
	if share {
		// The app's mounts, first of each mount path, from containers
		// that are not sidecars of another SidecarSet.
		out.variables = append(out.variables,
			admissionregistrationv1.Variable{Name: "appMounts", Expression: fmt.Sprintf(
				`object.spec.containers.filter(c, !c.?env.orValue([]).exists(e, e.name == %s)).map(c, c.?volumeMounts.orValue([])).flatten()`, celString(InjectedEnv))},
			// Sorted by mount path (stable, so the first container's
			// mount of a path wins) and deduplicated against the
			// neighbour: n log n, where comparing every pair would run a
			// pod of a few hundred mounts out of the CEL cost budget.
			admissionregistrationv1.Variable{Name: "sortedMounts", Expression: `variables.appMounts.sortBy(m, m.mountPath)`},
			admissionregistrationv1.Variable{Name: "sharedMounts", Expression: `lists.range(size(variables.sortedMounts)).filter(i, i == 0 || variables.sortedMounts[i].mountPath != variables.sortedMounts[i - 1].mountPath).map(i, variables.sortedMounts[i])`},
			// The app's env vars that a mount's subPathExpr expands
			// ($(NAME)), from the container holding the mount, first of
			// each name: a sidecar sharing the mount needs them to
			// expand the same path, as OpenKruise copies them.
			admissionregistrationv1.Variable{Name: "subPathEnvAll", Expression: fmt.Sprintf(
				`object.spec.containers.filter(c, !c.?env.orValue([]).exists(e, e.name == %s)).map(c, c.?env.orValue([]).filter(e, e.name in c.?volumeMounts.orValue([]).map(m, m.?subPathExpr.orValue("")).filter(x, x != "").map(x, x.findAll(%s)).flatten().map(v, v.substring(2, size(v) - 1)))).flatten()`,
				celString(InjectedEnv), celString(`\$\([A-Za-z_][A-Za-z0-9_]*\)`))},
			admissionregistrationv1.Variable{Name: "subPathEnv", Expression: `lists.range(size(variables.subPathEnvAll)).filter(i, !lists.range(i).exists(j, variables.subPathEnvAll[j].name == variables.subPathEnvAll[i].name)).map(i, variables.subPathEnvAll[i])`},
		)
	}
	var ops []string
	containers, hotAnnotations, hotWorking := expandHotUpgrade(ss.Spec.Containers)
	if len(containers) > 0 {
		exprs, err := sidecarExprs(containers, "spec.containers", "Object.spec.containers")
		if err != nil {
			return out, err
		}
		var before, after []string
		for _, c := range containers {
			switch c.PodInjectPolicy {
			case v1beta1.BeforeAppContainerType, "": // OpenKruise's default
				before = append(before, c.Name)
			case v1beta1.AfterAppContainerType:
				after = append(after, c.Name)
			default:
				return out, fmt.Errorf("spec.containers[%s].podInjectPolicy: %q is not BeforeAppContainer or AfterAppContainer", c.Name, c.PodInjectPolicy)
			}
		}
		// A pod container of a sidecar's name is replaced where it stands,
		// as OpenKruise does; the others go before or after the app's.
		ops = append(ops, fmt.Sprintf(`[JSONPatch{op: "replace", path: "/spec/containers", value: %s + %s + %s}]`,
			absent(before, exprs, "object.spec.containers"), inPlace(containers, exprs, "object.spec.containers"), absent(after, exprs, "object.spec.containers")))
	}
	if len(ss.Spec.InitContainers) > 0 {
		exprs, err := sidecarExprs(ss.Spec.InitContainers, "spec.initContainers", "Object.spec.initContainers")
		if err != nil {
			return out, err
		}
		names := make([]string, 0, len(ss.Spec.InitContainers))
		for _, c := range ss.Spec.InitContainers {
			names = append(names, c.Name)
		}
		// OpenKruise appends sidecar init containers by name after the
		// pod's own.
		sort.Strings(names)
		pod := "object.spec.?initContainers.orValue([])"
		ops = append(ops, fmt.Sprintf(`[JSONPatch{op: "add", path: "/spec/initContainers", value: %s + %s}]`,
			inPlace(ss.Spec.InitContainers, exprs, pod), absent(names, exprs, pod)))
	}
	if len(ss.Spec.Volumes) > 0 {
		lit, err := celLiteral(ss.Spec.Volumes, "Object.spec.volumes")
		if err != nil {
			return out, fmt.Errorf("spec.volumes: %w", err)
		}
		ops = append(ops, fmt.Sprintf(`[JSONPatch{op: "add", path: "/spec/volumes", value: object.spec.?volumes.orValue([]) + %s.filter(v, !object.spec.?volumes.orValue([]).exists(p, p.name == v.name))}]`, lit))
	}
	if len(ss.Spec.ImagePullSecrets) > 0 {
		lit, err := celLiteral(ss.Spec.ImagePullSecrets, "Object.spec.imagePullSecrets")
		if err != nil {
			return out, fmt.Errorf("spec.imagePullSecrets: %w", err)
		}
		ops = append(ops, fmt.Sprintf(`[JSONPatch{op: "add", path: "/spec/imagePullSecrets", value: object.spec.?imagePullSecrets.orValue([]) + %s.filter(s, !object.spec.?imagePullSecrets.orValue([]).exists(p, p.name == s.name))}]`, lit))
	}
	ann, err := annotationOps(ss, rev, hotAnnotations, hotWorking)
	if err != nil {
		return out, err
	}
	ops = append(ops, ann...)
	out.patch = strings.Join(ops, " +\n")
	return out, nil
}

// onceGuard prefixes the patch: a pod already carrying the SidecarSet (a
// reinvocation, or metadata copied from an injected pod) is left as it
// is. This is a guard in the patch rather than a matchCondition because
// the API server (v1.37) then hands the patch values read from the pod in
// a form it cannot marshal to JSON, refusing the pod.
func onceGuard(sidecarSet, patch string) string {
	return fmt.Sprintf("%s in object.metadata.?annotations.orValue({}) && %s in object.metadata.annotations[%s].split(\",\") ? [] :\n%s",
		celString(v1beta1.SidecarSetListAnnotation), celString(sidecarSet), celString(v1beta1.SidecarSetListAnnotation), patch)
}

// absent is the CEL list of the named sidecars that the pod's list does
// not already hold, in the order given. CEL here has no let binding, so a
// sidecar's construction is written out wherever it is used.
func absent(names []string, exprs map[string]string, podList string) string {
	if len(names) == 0 {
		return "[]"
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf(`(%s.exists(c, c.name == %s) ? [] : [%s])`, podList, celString(n), exprs[n])
	}
	return strings.Join(parts, " + ")
}

// inPlace is the pod's list with any container of a sidecar's name
// replaced by the sidecar.
func inPlace(list []v1beta1.SidecarContainer, exprs map[string]string, podList string) string {
	choice := "dyn(c)"
	for i := len(list) - 1; i >= 0; i-- {
		choice = fmt.Sprintf(`c.name == %s ? dyn(%s) : %s`, celString(list[i].Name), exprs[list[i].Name], choice)
	}
	return fmt.Sprintf(`%s.map(c, %s)`, podList, choice)
}

// sidecarExprs are, by sidecar name, the CEL constructions of the
// containers to inject:
// the SidecarSet's container with IS_INJECTED and the transferred env vars
// added to its env, and the shared mounts to its volume mounts.
func sidecarExprs(list []v1beta1.SidecarContainer, field, typePath string) (map[string]string, error) {
	entries := make(map[string]string, len(list))
	seen := map[string]bool{}
	for _, sc := range list {
		f := fmt.Sprintf("%s[%s]", field, sc.Name)
		if sc.Name == "" || seen[sc.Name] {
			return nil, fmt.Errorf("%s.name: empty or repeated", f)
		}
		seen[sc.Name] = true
		c := sc.Container.DeepCopy()
		ownEnv := append([]corev1.EnvVar{}, c.Env...)
		ownMounts := c.VolumeMounts
		c.Env, c.VolumeMounts = nil, nil
		base, err := celLiteral(c, typePath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		hasInjected := false
		for _, e := range ownEnv {
			hasInjected = hasInjected || e.Name == InjectedEnv
		}
		if !hasInjected {
			ownEnv = append(ownEnv, corev1.EnvVar{Name: InjectedEnv, Value: "true"})
		}
		envLit, err := celLiteral(ownEnv, typePath+".env")
		if err != nil {
			return nil, fmt.Errorf("%s.env: %w", f, err)
		}
		env := envLit
		if len(sc.TransferEnv) > 0 {
			transfer, err := transferEnv(sc.TransferEnv, f+".transferEnv")
			if err != nil {
				return nil, err
			}
			names := make([]string, len(ownEnv))
			for i, e := range ownEnv {
				names[i] = celString(e.Name)
			}
			env = fmt.Sprintf(`%s + dyn(%s).filter(e, !(e.name in [%s]))`, envLit, transfer, strings.Join(names, ", "))
		}
		if sc.ShareVolumePolicy.Type == v1beta1.ShareVolumePolicyEnabled {
			// Never a second variable of a name the sidecar has or is
			// given by transferEnv.
			var names []string
			for _, e := range ownEnv {
				names = append(names, celString(e.Name))
			}
			for _, t := range sc.TransferEnv {
				for _, n := range append([]string{t.EnvName}, t.EnvNames...) {
					if n != "" {
						names = append(names, celString(n))
					}
				}
			}
			env = fmt.Sprintf(`%s + dyn(variables.subPathEnv).filter(e, !(e.name in [%s]))`, env, strings.Join(names, ", "))
		}
		fields := []string{"env: " + env}
		if len(ownMounts) > 0 || sc.ShareVolumePolicy.Type == v1beta1.ShareVolumePolicyEnabled {
			mounts, err := celLiteral(ownMounts, typePath+".volumeMounts")
			if err != nil {
				return nil, fmt.Errorf("%s.volumeMounts: %w", f, err)
			}
			if ownMounts == nil {
				mounts = "[]"
			}
			if sc.ShareVolumePolicy.Type == v1beta1.ShareVolumePolicyEnabled {
				paths := make([]string, len(ownMounts))
				for i, m := range ownMounts {
					paths[i] = celString(m.MountPath)
				}
				mounts = fmt.Sprintf(`%s + dyn(variables.sharedMounts).filter(m, !(m.mountPath in [%s]))`, mounts, strings.Join(paths, ", "))
			}
			fields = append(fields, "volumeMounts: "+mounts)
		}
		// base is an object construction ending in "}"; the dynamic
		// fields join it.
		entries[sc.Name] = fmt.Sprintf("%s, %s}", strings.TrimSuffix(base, "}"), strings.Join(fields, ", "))
	}
	return entries, nil
}

// fieldRefPath reads the two pod fields OpenKruise's
// sourceContainerNameFrom is used with.
var fieldRefPath = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']+)'\]$`)

// transferEnv is the CEL list of env vars copied from the named app
// containers; a source container or variable the pod lacks adds nothing.
func transferEnv(list []v1beta1.TransferEnvVar, field string) (string, error) {
	parts := make([]string, 0, len(list))
	for i, t := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		var src string
		switch {
		case t.SourceContainerName != "" && t.SourceContainerNameFrom == nil:
			src = celString(t.SourceContainerName)
		case t.SourceContainerName == "" && t.SourceContainerNameFrom != nil && t.SourceContainerNameFrom.FieldRef != nil:
			m := fieldRefPath.FindStringSubmatch(t.SourceContainerNameFrom.FieldRef.FieldPath)
			if m == nil {
				return "", fmt.Errorf("%s.sourceContainerNameFrom.fieldRef.fieldPath: %q is not metadata.labels['<key>'] or metadata.annotations['<key>']", f, t.SourceContainerNameFrom.FieldRef.FieldPath)
			}
			src = fmt.Sprintf(`object.metadata.?%s[?%s].orValue("")`, m[1], celString(m[2]))
		default:
			return "", fmt.Errorf("%s: set one of sourceContainerName and sourceContainerNameFrom.fieldRef", f)
		}
		names := append([]string{}, t.EnvNames...)
		if t.EnvName != "" {
			names = append([]string{t.EnvName}, names...)
		}
		if len(names) == 0 {
			return "", fmt.Errorf("%s: set envName or envNames", f)
		}
		quoted := make([]string, len(names))
		for j, n := range names {
			quoted[j] = celString(n)
		}
		parts = append(parts, fmt.Sprintf(`object.spec.containers.filter(c, c.name == %s).map(c, c.?env.orValue([]).filter(e, e.name in [%s])).flatten()`, src, strings.Join(quoted, ", ")))
	}
	return strings.Join(parts, " + "), nil
}

// upgradeSpec is one SidecarSet's entry in the pod's hash annotations, with
// OpenKruise's keys. updateTimestamp is null: CEL in admission has no
// clock, and OpenKruise reads null as the zero time.
type upgradeSpec struct {
	UpdateTimestamp *metav1.Time `json:"updateTimestamp"`
	Hash            string       `json:"hash"`
	SidecarSetName  string       `json:"sidecarSetName"`
	SidecarList     []string     `json:"sidecarList"`
	// ControllerRevision names the revision injected (OpenKruise's key).
	ControllerRevision string `json:"controllerRevision,omitempty"`
}

// annotationOps records the injection on the pod: the SidecarSet joins
// the injected list and gets its entry in both hash annotations (JSON
// objects keyed by SidecarSet name that other SidecarSets may share, so the
// entry is spliced into the existing object: CEL has no JSON parser).
func annotationOps(ss *v1beta1.SidecarSet, rev Revision, hotAnnotations, hotWorking map[string]string) ([]string, error) {
	var sidecars []string
	for _, c := range ss.Spec.Containers {
		sidecars = append(sidecars, c.Name)
	}
	if sidecars == nil {
		sidecars = []string{}
	}
	ops := []string{`(has(object.metadata.annotations) ? [] : [JSONPatch{op: "add", path: "/metadata/annotations", value: {}}])`}
	set := func(key, value string) string {
		return fmt.Sprintf(`JSONPatch{op: "add", path: %s, value: %s}`, celString("/metadata/annotations/"+jsonPointerEscape(key)), value)
	}
	old := func(key string) string { return fmt.Sprintf(`variables.annotations[?%s].orValue("")`, celString(key)) }
	// splice adds entry, a one-key JSON object, to the JSON object in the
	// annotation key (or starts it).
	splice := func(key string, entry []byte) string {
		inner := strings.TrimSuffix(strings.TrimPrefix(string(entry), "{"), "}")
		o := old(key)
		return set(key, fmt.Sprintf(`%s.startsWith("{") && %s.endsWith("}") && %s != "{}" ? %s.substring(0, size(%s) - 1) + %s : %s`,
			o, o, o, o, o, celString(","+inner+"}"), celString(string(entry))))
	}
	entries := []string{set(v1beta1.SidecarSetListAnnotation,
		fmt.Sprintf(`%s == "" ? %s : %s + "," + %s`, old(v1beta1.SidecarSetListAnnotation), celString(ss.Name), old(v1beta1.SidecarSetListAnnotation), celString(ss.Name)))}
	for _, h := range []struct{ key, hash string }{
		{v1beta1.SidecarSetHashAnnotation, rev.Hash},
		{v1beta1.SidecarSetHashWithoutImageAnnotation, rev.HashWithoutImage},
	} {
		entry, err := json.Marshal(map[string]upgradeSpec{ss.Name: {Hash: h.hash, SidecarSetName: ss.Name, SidecarList: sidecars, ControllerRevision: rev.ControllerRevision}})
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", h.key, err)
		}
		entries = append(entries, splice(h.key, entry))
	}
	hot, err := hotUpgradeAnnotationOps(hotAnnotations, hotWorking, set, splice)
	if err != nil {
		return nil, err
	}
	entries = append(entries, hot...)
	ops = append(ops, "["+strings.Join(entries, ", ")+"]")
	for i, p := range ss.Spec.PatchPodMetadata {
		keys := make([]string, 0, len(p.Annotations))
		for k := range p.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			op := set(k, celString(p.Annotations[k]))
			switch p.PatchPolicy {
			case v1beta1.SidecarSetRetainPatchPolicy, "":
				ops = append(ops, fmt.Sprintf(`(%s in variables.annotations ? [] : [%s])`, celString(k), op))
			case v1beta1.SidecarSetOverwritePatchPolicy:
				ops = append(ops, "["+op+"]")
			case v1beta1.SidecarSetMergePatchJSONPatchPolicy:
				// CEL has no JSON parser: the patch's members are spliced
				// into the pod's JSON object, after its own, and JSON
				// readers keep the last of a repeated member, so the patch
				// wins member by member (a merge patch at the top level).
				var obj map[string]json.RawMessage
				if err := json.Unmarshal([]byte(p.Annotations[k]), &obj); err != nil || obj == nil {
					return nil, fmt.Errorf("spec.patchPodMetadata[%d].annotations[%s]: MergePatchJson needs a JSON object", i, k)
				}
				if len(obj) == 0 {
					continue
				}
				entry, err := json.Marshal(obj)
				if err != nil {
					return nil, fmt.Errorf("spec.patchPodMetadata[%d].annotations[%s]: %w", i, k, err)
				}
				ops = append(ops, "["+splice(k, entry)+"]")
			default:
				return nil, fmt.Errorf("spec.patchPodMetadata[%d].patchPolicy: %q is not Retain, Overwrite or MergePatchJson", i, p.PatchPolicy)
			}
		}
	}
	return ops, nil
}
