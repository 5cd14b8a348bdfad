package webhook

import (
	"math"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// cloneSet is a valid CloneSet of 10 replicas that each test case changes.
func cloneSet() *v1alpha1.CloneSet {
	return &v1alpha1.CloneSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: v1alpha1.CloneSetSpec{
			Replicas: ptr.To[int32](10),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}},
				},
			},
		},
	}
}

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

// wantErrors checks that errs has exactly one error per entry of want and
// that each entry is part of one error's message ("path: Type: value ...").
func wantErrors(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n  %s", len(got), len(want), strings.Join(got, "\n  "))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("no error contains %q; got:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func TestValidateCloneSet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(cs *v1alpha1.CloneSet)
		want   []string
	}{
		{name: "valid", change: func(*v1alpha1.CloneSet) {}},

		// replicas
		{name: "negative replicas", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To[int32](-1) },
			want: []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{name: "zero replicas", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To[int32](0) }},

		// selector
		{name: "missing selector", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Selector = nil },
			want: []string{"spec.selector: Required value"}},
		{name: "empty selector", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Selector = &metav1.LabelSelector{} },
			want: []string{"spec.selector: Invalid value: {}: must not be empty"}},
		{name: "invalid selector key", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Selector.MatchLabels = map[string]string{"bad key": "web"}
		}, want: []string{`spec.selector.matchLabels: Invalid value: "bad key"`}},
		{name: "invalid selector operator", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}
		}, want: []string{`spec.selector.matchExpressions[0].operator: Invalid value: "Near"`}},
		{name: "selector does not select template", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Labels = map[string]string{"app": "api"}
		}, want: []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"api\"}: must be selected by spec.selector (app=web)"}},
		{name: "selector expression does not select template", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}
		}, want: []string{"spec.template.metadata.labels: Invalid value"}},
		{name: "selector expression selects template", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}}}
		}},

		// progressDeadlineSeconds
		{name: "progress deadline", change: func(cs *v1alpha1.CloneSet) { cs.Spec.ProgressDeadlineSeconds = ptr.To[int32](600) }},
		{name: "no progress deadline", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.MinReadySeconds, cs.Spec.ProgressDeadlineSeconds = math.MaxInt32, ptr.To[int32](math.MaxInt32)
		}},
		{name: "negative progress deadline", change: func(cs *v1alpha1.CloneSet) { cs.Spec.ProgressDeadlineSeconds = ptr.To[int32](-1) },
			want: []string{"spec.progressDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"}},
		{name: "progress deadline within minReadySeconds", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.MinReadySeconds, cs.Spec.ProgressDeadlineSeconds = 30, ptr.To[int32](30)
		}, want: []string{"spec.progressDeadlineSeconds: Invalid value: 30: must be greater than spec.minReadySeconds (30)"}},

		// update strategy
		{name: "unknown update type", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Type = "RollingUpdate" },
			want: []string{`spec.updateStrategy.type: Unsupported value: "RollingUpdate": supported values: "ReCreate", "InPlaceIfPossible", "InPlaceOnly"`}},
		{name: "each update type", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType
		}},
		{name: "negative partition", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("-1") },
			want: []string{"spec.updateStrategy.partition: Invalid value: -1: must be greater than or equal to 0"}},
		{name: "partition over 100%", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("120%") },
			want: []string{`spec.updateStrategy.partition: Invalid value: "120%": a percentage must be between 0% and 100%`}},
		{name: "partition not a number", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("half") },
			want: []string{`spec.updateStrategy.partition: Invalid value: "half": must be an integer or a percentage`}},
		{name: "partition above replicas", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("11") },
			want: []string{"spec.updateStrategy.partition: Invalid value: 11: must not be greater than spec.replicas (10)"}},
		{name: "partition above defaulted replicas", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Replicas = nil
			cs.Spec.UpdateStrategy.Partition = intOrStr("2")
		}, want: []string{"spec.updateStrategy.partition: Invalid value: 2: must not be greater than spec.replicas (1)"}},
		{name: "partition equal to replicas", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("10") }},
		{name: "partition 100%", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("100%") }},
		{name: "maxUnavailable negative", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("-2") },
			want: []string{"spec.updateStrategy.maxUnavailable: Invalid value: -2"}},
		{name: "maxSurge over 100%", change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.MaxSurge = intOrStr("101%") },
			want: []string{`spec.updateStrategy.maxSurge: Invalid value: "101%"`}},
		{name: "maxUnavailable and maxSurge both 0", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("0")
			cs.Spec.UpdateStrategy.MaxSurge = intOrStr("0%")
		}, want: []string{"spec.updateStrategy.maxUnavailable: Invalid value: 0: maxUnavailable and maxSurge must not both be 0"}},
		{name: "maxUnavailable 0% and maxSurge unset", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("0%")
		}, want: []string{`spec.updateStrategy.maxUnavailable: Invalid value: "0%": maxUnavailable and maxSurge must not both be 0`}},
		{name: "maxUnavailable 0 in place, maxSurge unset", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType
			cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("0")
		}, want: []string{"spec.updateStrategy.maxUnavailable: Invalid value: 0: maxUnavailable and maxSurge must not both be 0"}},
		{name: "maxUnavailable percentage resolving to 0 pods", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("5%")
		}},
		{name: "maxUnavailable 0 with surge", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("0")
			cs.Spec.UpdateStrategy.MaxSurge = intOrStr("10%")
		}},
		{name: "maxSurge with InPlaceOnly", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
			cs.Spec.UpdateStrategy.MaxSurge = intOrStr("1")
		}, want: []string{"spec.updateStrategy.maxSurge: Invalid value: 1: must be 0 with updateStrategy.type InPlaceOnly"}},
		{name: "InPlaceOnly without room to update", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
			cs.Spec.UpdateStrategy.MaxUnavailable = intOrStr("0")
			cs.Spec.UpdateStrategy.MaxSurge = intOrStr("2")
		}, want: []string{
			"spec.updateStrategy.maxUnavailable: Invalid value: 0: must be at least 1 with updateStrategy.type InPlaceOnly",
			"spec.updateStrategy.maxSurge: Invalid value: 2: must be 0 with updateStrategy.type InPlaceOnly",
		}},
		{name: "maxSurge percentage with InPlaceOnly", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
			cs.Spec.UpdateStrategy.MaxSurge = intOrStr("5%")
		}, want: []string{`spec.updateStrategy.maxSurge: Invalid value: "5%"`}},
		{name: "maxSurge 0 with InPlaceOnly", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
			cs.Spec.UpdateStrategy.MaxSurge = intOrStr("0%")
		}},
		{name: "negative grace period", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.InPlaceUpdateStrategy = &pub.InPlaceUpdateStrategy{GracePeriodSeconds: -5}
		}, want: []string{"spec.updateStrategy.inPlaceUpdateStrategy.gracePeriodSeconds: Invalid value: -5"}},

		// priority strategy
		{name: "weight 0", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{WeightPriority: []pub.UpdatePriorityWeightTerm{
				{Weight: 0, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"canary": "true"}}}}}
		}, want: []string{"spec.updateStrategy.priorityStrategy.weightPriority[0].weight: Invalid value: 0: must be between 1 and 100"}},
		{name: "weight 101", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{WeightPriority: []pub.UpdatePriorityWeightTerm{
				{Weight: 50, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"canary": "true"}}},
				{Weight: 101, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a"}}}}}
		}, want: []string{"spec.updateStrategy.priorityStrategy.weightPriority[1].weight: Invalid value: 101"}},
		{name: "weight with empty selector", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{WeightPriority: []pub.UpdatePriorityWeightTerm{{Weight: 10}}}
		}, want: []string{"spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector: Required value"}},
		{name: "weight with invalid selector", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{WeightPriority: []pub.UpdatePriorityWeightTerm{
				{Weight: 10, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a b"}}}}}
		}, want: []string{`spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector.matchLabels: Invalid value: "a b"`}},
		{name: "weight and order priority", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{
				WeightPriority: []pub.UpdatePriorityWeightTerm{{Weight: 10, MatchSelector: metav1.LabelSelector{MatchLabels: map[string]string{"canary": "true"}}}},
				OrderPriority:  []pub.UpdatePriorityOrderTerm{{OrderedKey: "priority"}},
			}
		}, want: []string{"spec.updateStrategy.priorityStrategy: Forbidden: set weightPriority or orderPriority, not both"}},
		{name: "empty ordered key", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{OrderPriority: []pub.UpdatePriorityOrderTerm{{OrderedKey: ""}}}
		}, want: []string{"spec.updateStrategy.priorityStrategy.orderPriority[0].orderedKey: Required value"}},
		{name: "invalid ordered key", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.PriorityStrategy = &pub.UpdatePriorityStrategy{OrderPriority: []pub.UpdatePriorityOrderTerm{{OrderedKey: "update priority"}}}
		}, want: []string{`spec.updateStrategy.priorityStrategy.orderPriority[0].orderedKey: Invalid value: "update priority"`}},

		// scatter strategy
		{name: "scatter without key and value", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.ScatterStrategy = pub.UpdateScatterStrategy{{}}
		}, want: []string{"spec.updateStrategy.scatterStrategy[0].key: Required value", "spec.updateStrategy.scatterStrategy[0].value: Required value"}},
		{name: "scatter with invalid value", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.ScatterStrategy = pub.UpdateScatterStrategy{{Key: "zone", Value: "us east"}}
		}, want: []string{`spec.updateStrategy.scatterStrategy[0].value: Invalid value: "us east"`}},
		{name: "scatter duplicate term", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.ScatterStrategy = pub.UpdateScatterStrategy{{Key: "zone", Value: "a"}, {Key: "zone", Value: "a"}}
		}, want: []string{`spec.updateStrategy.scatterStrategy[1]: Duplicate value: {"key":"zone","value":"a"}`}},
		{name: "scatter same key, other values", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.UpdateStrategy.ScatterStrategy = pub.UpdateScatterStrategy{{Key: "zone", Value: "a"}, {Key: "zone", Value: "b"}}
		}},

		// scale strategy
		{name: "podsToDelete invalid name", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.ScaleStrategy.PodsToDelete = []string{"web-abcde", "Web_1"}
		}, want: []string{`spec.scaleStrategy.podsToDelete[1]: Invalid value: "Web_1": must be a pod name`}},
		{name: "podsToDelete duplicate", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.ScaleStrategy.PodsToDelete = []string{"web-abcde", "web-abcde"}
		}, want: []string{`spec.scaleStrategy.podsToDelete[1]: Duplicate value: "web-abcde"`}},
		{name: "scale maxUnavailable invalid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.ScaleStrategy.MaxUnavailable = intOrStr("ten")
		}, want: []string{`spec.scaleStrategy.maxUnavailable: Invalid value: "ten"`}},
		{name: "scale maxUnavailable 0", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.ScaleStrategy.MaxUnavailable = intOrStr("0")
		}},
		{name: "scale maxUnavailable 50%", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.ScaleStrategy.MaxUnavailable = intOrStr("50%")
		}},

		// counts
		{name: "negative revisionHistoryLimit", change: func(cs *v1alpha1.CloneSet) { cs.Spec.RevisionHistoryLimit = ptr.To[int32](-1) },
			want: []string{"spec.revisionHistoryLimit: Invalid value: -1"}},
		{name: "negative minReadySeconds", change: func(cs *v1alpha1.CloneSet) { cs.Spec.MinReadySeconds = -3 },
			want: []string{"spec.minReadySeconds: Invalid value: -3"}},

		// lifecycle
		{name: "hook label key invalid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{LabelsHandler: map[string]string{"hold me": "true"}}}
		}, want: []string{`spec.lifecycle.preDelete.labelsHandler: Invalid value: "hold me"`}},
		{name: "hook label value invalid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Lifecycle = &pub.Lifecycle{InPlaceUpdate: &pub.LifecycleHook{LabelsHandler: map[string]string{"example.com/hold": "yes please"}}}
		}, want: []string{`spec.lifecycle.inPlaceUpdate.labelsHandler: Invalid value: "yes please"`}},
		{name: "hook finalizer not qualified", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Lifecycle = &pub.Lifecycle{PreDelete: &pub.LifecycleHook{FinalizersHandler: []string{"example.com/ok", "hold"}}}
		}, want: []string{`spec.lifecycle.preDelete.finalizersHandler[1]: Invalid value: "hold": must be domain-qualified`}},
		{name: "hook finalizer malformed", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Lifecycle = &pub.Lifecycle{PreNormal: &pub.LifecycleHook{FinalizersHandler: []string{"example.com/hold me"}}}
		}, want: []string{`spec.lifecycle.preNormal.finalizersHandler[0]: Invalid value: "example.com/hold me"`}},
		{name: "hooks valid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Lifecycle = &pub.Lifecycle{
				PreDelete:     &pub.LifecycleHook{FinalizersHandler: []string{"example.com/drain"}, MarkPodNotReady: true},
				InPlaceUpdate: &pub.LifecycleHook{LabelsHandler: map[string]string{"example.com/hold-update": "true"}},
			}
		}},

		// pod template
		{name: "template label invalid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Labels["tier"] = "front end"
		}, want: []string{`spec.template.metadata.labels: Invalid value: "front end"`}},
		{name: "template annotation invalid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Annotations = map[string]string{"not a key": "x"}
		}, want: []string{`spec.template.metadata.annotations: Invalid value: "not a key"`}},
		{name: "restartPolicy Never", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{name: "restartPolicy Always", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }},
		{name: "activeDeadlineSeconds", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) },
			want: []string{"spec.template.spec.activeDeadlineSeconds: Forbidden"}},
		{name: "ephemeral containers", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, want: []string{"spec.template.spec.ephemeralContainers: Forbidden"}},
		{name: "no containers", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers = nil },
			want: []string{"spec.template.spec.containers: Required value"}},
		{name: "container without name", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Name = "" },
			want: []string{"spec.template.spec.containers[0].name: Required value"}},
		{name: "container name invalid", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Name = "Nginx" },
			want: []string{`spec.template.spec.containers[0].name: Invalid value: "Nginx"`}},
		{name: "duplicate container names", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.Containers = append(cs.Spec.Template.Spec.Containers, corev1.Container{Name: "nginx", Image: "envoy:1"})
		}, want: []string{`spec.template.spec.containers[1].name: Duplicate value: "nginx"`}},
		{name: "init container shares a name", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "nginx", Image: "busybox"}}
		}, want: []string{`spec.template.spec.containers[0].name: Duplicate value: "nginx"`}},
		{name: "init container without image", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "setup"}}
		}, want: []string{"spec.template.spec.initContainers[0].image: Required value"}},
		{name: "container without image", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Image = "" },
			want: []string{"spec.template.spec.containers[0].image: Required value"}},
		{name: "image with whitespace", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Image = "nginx:1.27 " },
			want: []string{`spec.template.spec.containers[0].image: Invalid value: "nginx:1.27 "`}},

		// volumes and claim templates
		{name: "mount of unknown volume", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, want: []string{`spec.template.spec.containers[0].volumeMounts[0].name: Invalid value: "data": must name a volume`}},
		{name: "mount of claim template", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim("data")}
			cs.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}},
		{name: "mount of template volume", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			cs.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}
		}},
		{name: "claim template named like a volume", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim("data")}
		}, want: []string{`spec.volumeClaimTemplates[0].metadata.name: Duplicate value: "data"`}},
		{name: "volume name invalid", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "my_cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}, want: []string{`spec.template.spec.volumes[0].name: Invalid value: "my_cache"`}},
		{name: "claim template without name, size or access mode", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{}}
		}, want: []string{
			"spec.volumeClaimTemplates[0].metadata.name: Required value",
			"spec.volumeClaimTemplates[0].spec.accessModes: Required value",
			"spec.volumeClaimTemplates[0].spec.resources.requests[storage]: Required value",
		}},
		{name: "claim template of zero size", change: func(cs *v1alpha1.CloneSet) {
			c := claim("data")
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
			cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{c}
		}, want: []string{`spec.volumeClaimTemplates[0].spec.resources.requests[storage]: Invalid value: "0"`}},

		// several mistakes are all reported at once
		{name: "several errors", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Replicas = ptr.To[int32](-1)
			cs.Spec.UpdateStrategy.Type = "Rolling"
			cs.Spec.Template.Spec.Containers[0].Image = ""
		}, want: []string{"spec.replicas", "spec.updateStrategy.type", "spec.template.spec.containers[0].image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := cloneSet()
			tc.change(cs)
			wantErrors(t, ValidateCloneSet(cs), tc.want)
		})
	}
}

func claim(name string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("10Gi"),
			}},
		},
	}
}

func TestValidateCloneSetUpdate(t *testing.T) {
	inPlaceOnly := func(cs *v1alpha1.CloneSet) {
		cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
	}
	cpu := func(request string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(request)}}
	}
	for _, tc := range []struct {
		name   string
		old    func(cs *v1alpha1.CloneSet) // applied to both old and new
		change func(cs *v1alpha1.CloneSet) // applied to new only
		opts   inplace.EligibilityOptions
		want   []string
	}{
		{name: "scale", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To[int32](20) }},
		{name: "create rules apply", change: func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To[int32](-1) },
			want: []string{"spec.replicas: Invalid value: -1"}},
		{name: "selector is immutable", change: func(cs *v1alpha1.CloneSet) {
			cs.Spec.Selector.MatchLabels["tier"] = "front"
			cs.Spec.Template.Labels["tier"] = "front"
		}, want: []string{"spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"front\"}}: field is immutable"}},

		// partition against replicas
		{name: "scale below an unchanged partition",
			old:    func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("8") },
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.Replicas = ptr.To[int32](5) }},
		{name: "raise partition above replicas",
			old: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("8") },
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Replicas = ptr.To[int32](5)
				cs.Spec.UpdateStrategy.Partition = intOrStr("9")
			},
			want: []string{"spec.updateStrategy.partition: Invalid value: 9: must not be greater than spec.replicas (5)"}},
		{name: "set partition above replicas",
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("11") },
			want:   []string{"spec.updateStrategy.partition: Invalid value: 11"}},
		{name: "partition from percentage to a number above replicas",
			old:    func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("20%") },
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.UpdateStrategy.Partition = intOrStr("20") },
			want:   []string{"spec.updateStrategy.partition: Invalid value: 20"}},

		// writes that leave the spec alone are never blocked
		{name: "metadata-only write to a stored invalid spec",
			old: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Image = "" },
			change: func(cs *v1alpha1.CloneSet) {
				cs.Finalizers = nil
				cs.Labels = map[string]string{"team": "edge"}
			}},

		// InPlaceOnly
		{name: "InPlaceOnly image change", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" }},
		{name: "InPlaceOnly metadata change", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Template.Labels["version"] = "2"
				cs.Spec.Template.Annotations = map[string]string{"example.com/rev": "2"}
			}},
		{name: "InPlaceOnly env change", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				cs.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "fast"}}
			},
			want: []string{"spec.template.spec.containers[0].env: Forbidden: cannot be changed in place: with updateStrategy.type InPlaceOnly only container images, labels and annotations may change"}},
		{name: "InPlaceOnly added container", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Template.Spec.Containers = append(cs.Spec.Template.Spec.Containers, corev1.Container{Name: "envoy", Image: "envoy:1"})
			},
			want: []string{"spec.template.spec.containers: Forbidden: cannot be changed in place"}},
		{name: "InPlaceOnly renamed container", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Name = "web" },
			want:   []string{"spec.template.spec.containers[0].name: Forbidden"}},
		{name: "InPlaceOnly pod-level changes", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
				cs.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
			},
			want: []string{"spec.template.spec.volumes: Forbidden", "spec.template.spec.nodeSelector: Forbidden"}},
		{name: "InPlaceOnly cpu change without resize", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Resources = cpu("500m") },
			want:   []string{"spec.template.spec.containers[0].resources: Forbidden"}},
		{name: "InPlaceOnly cpu change with resize",
			old: func(cs *v1alpha1.CloneSet) {
				inPlaceOnly(cs)
				cs.Spec.Template.Spec.Containers[0].Resources = cpu("250m")
			},
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Resources = cpu("500m") },
			opts:   inplace.EligibilityOptions{InPlaceResize: true}},
		{name: "InPlaceOnly resize changing QoS", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) { cs.Spec.Template.Spec.Containers[0].Resources = cpu("500m") },
			opts:   inplace.EligibilityOptions{InPlaceResize: true},
			want:   []string{"spec.template.spec.containers[0].resources: Forbidden: cannot be changed in place: with updateStrategy.type InPlaceOnly only container images, container cpu and memory (keeping the pod's QoS class)"}},
		{name: "InPlaceOnly resizes changing QoS only together",
			old: func(cs *v1alpha1.CloneSet) {
				inPlaceOnly(cs)
				cs.Spec.Template.Spec.Containers = []corev1.Container{
					{Name: "a", Image: "a:1", Resources: cpu("100m")},
					{Name: "b", Image: "b:1", Resources: cpu("100m")},
				}
			},
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
				cs.Spec.Template.Spec.Containers[1].Resources = corev1.ResourceRequirements{}
			},
			opts: inplace.EligibilityOptions{InPlaceResize: true},
			want: []string{"spec.template: Forbidden: this change cannot be made in place"}},
		{name: "switching away from InPlaceOnly", old: inPlaceOnly,
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType
				cs.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "fast"}}
			}},
		{name: "switching to InPlaceOnly with a recreating change",
			change: func(cs *v1alpha1.CloneSet) {
				inPlaceOnly(cs)
				cs.Spec.Template.Spec.Containers[0].Command = []string{"nginx", "-g", "daemon off;"}
			},
			want: []string{"spec.template.spec.containers[0].command: Forbidden"}},
		{name: "InPlaceOnly claim template change",
			old: func(cs *v1alpha1.CloneSet) {
				inPlaceOnly(cs)
				cs.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim("data")}
			},
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("20Gi")
			}},
		{name: "InPlaceIfPossible recreating change",
			old: func(cs *v1alpha1.CloneSet) {
				cs.Spec.UpdateStrategy.Type = v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType
			},
			change: func(cs *v1alpha1.CloneSet) {
				cs.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "fast"}}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := cloneSet()
			if tc.old != nil {
				tc.old(old)
			}
			cs := old.DeepCopy()
			tc.change(cs)
			wantErrors(t, ValidateCloneSetUpdate(cs, old, tc.opts), tc.want)
		})
	}
}
