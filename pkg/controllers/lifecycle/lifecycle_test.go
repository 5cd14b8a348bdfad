package lifecycle

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

func TestHooked(t *testing.T) {
	h := &pub.LifecycleHook{LabelsHandler: map[string]string{"a": "1", "b": "2"}, FinalizersHandler: []string{"example.com/hold"}}
	cases := []struct {
		name       string
		labels     map[string]string
		finalizers []string
		want       bool
	}{
		{"all labels", map[string]string{"a": "1", "b": "2"}, nil, true},
		{"one label is enough", map[string]string{"a": "1"}, nil, true},
		{"wrong values", map[string]string{"a": "2", "b": "3"}, nil, false},
		{"finalizer", nil, []string{"other", "example.com/hold"}, true},
		{"nothing", nil, nil, false},
	}
	for _, tc := range cases {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels, Finalizers: tc.finalizers}}
		if got := Hooked(h, pod); got != tc.want {
			t.Errorf("%s: hooked = %v, want %v", tc.name, got, tc.want)
		}
	}
	if Hooked(nil, &corev1.Pod{}) || Hooked(&pub.LifecycleHook{}, &corev1.Pod{}) {
		t.Error("an absent or empty hook must hold nothing")
	}
}

func TestNextState(t *testing.T) {
	hook := &pub.LifecycleHook{LabelsHandler: map[string]string{"ready-for": "traffic"}}
	pod := func(state pub.LifecycleStateType, armed bool) *corev1.Pod {
		l := map[string]string{pub.LifecycleStateKey: string(state)}
		if armed {
			l["ready-for"] = "traffic"
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: l}}
	}
	scheduled := func(p *corev1.Pod) *corev1.Pod { p.Spec.NodeName = "node-1"; return p }
	both := &pub.LifecycleHook{LabelsHandler: map[string]string{"ready-for": "traffic"}, FinalizersHandler: []string{"example.com/warm"}}
	armedLabelOnly := pod(pub.LifecycleStatePreparingNormal, true)
	armedBoth := pod(pub.LifecycleStatePreparingNormal, true)
	armedBoth.Finalizers = []string{"example.com/warm"}
	cases := []struct {
		name string
		lc   *pub.Lifecycle
		pod  *corev1.Pod
		atUp bool
		want pub.LifecycleStateType
	}{
		{"preNormal waits", &pub.Lifecycle{PreNormal: hook}, pod(pub.LifecycleStatePreparingNormal, false), false, ""},
		{"preNormal armed", &pub.Lifecycle{PreNormal: hook}, pod(pub.LifecycleStatePreparingNormal, true), false, pub.LifecycleStateNormal},
		{"preNormal removed from spec, scheduled", nil, scheduled(pod(pub.LifecycleStatePreparingNormal, false)), false, pub.LifecycleStateNormal},
		{"no preNormal hook, not scheduled yet", nil, pod(pub.LifecycleStatePreparingNormal, false), false, ""},
		{"preNormal needs every label and finalizer", &pub.Lifecycle{PreNormal: both}, armedLabelOnly, false, ""},
		{"preNormal with every label and finalizer", &pub.Lifecycle{PreNormal: both}, armedBoth, false, pub.LifecycleStateNormal},
		{"updated waits for re-arm", &pub.Lifecycle{InPlaceUpdate: hook}, pod(pub.LifecycleStateUpdated, false), true, ""},
		{"updated re-armed", &pub.Lifecycle{InPlaceUpdate: hook}, pod(pub.LifecycleStateUpdated, true), true, pub.LifecycleStateNormal},
		{"rollback frees PreparingUpdate", &pub.Lifecycle{InPlaceUpdate: hook}, pod(pub.LifecycleStatePreparingUpdate, true), true, pub.LifecycleStateNormal},
		{"PreparingUpdate stays", &pub.Lifecycle{InPlaceUpdate: hook}, pod(pub.LifecycleStatePreparingUpdate, true), false, ""},
		{"normal stays", nil, pod(pub.LifecycleStateNormal, false), false, ""},
	}
	for _, tc := range cases {
		if got := Next(tc.lc, tc.pod, tc.atUp); got != tc.want {
			t.Errorf("%s: next = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestServing(t *testing.T) {
	for s, want := range map[pub.LifecycleStateType]bool{
		"":                                true,
		pub.LifecycleStateNormal:          true,
		pub.LifecycleStatePreparingNormal: false,
		pub.LifecycleStatePreparingUpdate: false,
		pub.LifecycleStateUpdating:        false,
		pub.LifecycleStateUpdated:         false, // as OpenKruise: back in service only at Normal
		pub.LifecycleStatePreparingDelete: false,
	} {
		if got := Serving(s); got != want {
			t.Errorf("Serving(%q) = %v, want %v", s, got, want)
		}
	}
}
