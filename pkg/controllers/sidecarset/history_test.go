package sidecarset

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

func TestRevisionRecordsWhatIsInjected(t *testing.T) {
	v1 := sidecarSet("log", func(ss *v1beta1.SidecarSet) {
		ss.Labels = map[string]string{"team": "infra"}
		ss.Annotations = map[string]string{"note": "first"}
		ss.Spec.CustomVersion = "v1"
		ss.Spec.Volumes = []corev1.Volume{{Name: "conf"}}
	})
	cr, err := NewRevision(v1, DefaultRevisionNamespace, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Revisions(v1)
	if cr.Namespace != "kube-system" || cr.Revision != 3 || !strings.HasPrefix(cr.Name, "log-") {
		t.Errorf("revision %s/%s number %d, want kube-system/log-<hash> number 3", cr.Namespace, cr.Name, cr.Revision)
	}
	for k, v := range map[string]string{SidecarSetNameLabel: "log", v1beta1.SidecarSetCustomVersionLabel: "v1", "team": "infra"} {
		if cr.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cr.Labels[k], v)
		}
	}
	if cr.Annotations["note"] != "first" || cr.Annotations[v1beta1.SidecarSetHashAnnotation] != want.Hash ||
		cr.Annotations[v1beta1.SidecarSetHashWithoutImageAnnotation] != want.HashWithoutImage {
		t.Errorf("annotations %v: want the SidecarSet's and the revision's hashes", cr.Annotations)
	}
	if !metav1.IsControlledBy(cr, v1) || cr.OwnerReferences[0].BlockOwnerDeletion != nil {
		t.Errorf("owner %+v: want the SidecarSet as controller, without blockOwnerDeletion", cr.OwnerReferences)
	}
	var data map[string]map[string]json.RawMessage
	if err := json.Unmarshal(cr.Data.Raw, &data); err != nil || string(data["spec"]["$patch"]) != `"replace"` {
		t.Errorf("data %s: want OpenKruise's {\"spec\": {\"$patch\": \"replace\", ...}}", cr.Data.Raw)
	}
	if other, _ := NewRevision(v1, DefaultRevisionNamespace, 3, 1); other.Name == cr.Name {
		t.Errorf("a collision count gives the same name %s", cr.Name)
	}

	// Edits that are not injected leave the revision the same.
	v1b := v1.DeepCopy()
	v1b.Spec.UpdateStrategy.Paused = true
	v1b.Spec.RevisionHistoryLimit = ptr.To[int32](3)
	if !sameSpec(cr, v1b, want.Hash) {
		t.Error("an updateStrategy edit counts as a new revision")
	}
	v2 := v1.DeepCopy()
	v2.Spec.Containers[0].Image = "agent:2"
	h2, _ := Revisions(v2)
	if sameSpec(cr, v2, h2.Hash) {
		t.Error("an image change is the same revision")
	}
	noHash := cr.DeepCopy()
	delete(noHash.Annotations, v1beta1.SidecarSetHashAnnotation)
	if !sameSpec(noHash, v1b, "x") || sameSpec(noHash, v2, "x") {
		t.Error("a revision without a hash annotation is not compared by its data")
	}

	// Restoring it on the changed SidecarSet gives the first spec back.
	restored, rev, err := RestoreRevision(v2, cr)
	if err != nil {
		t.Fatal(err)
	}
	if restored.Spec.Containers[0].Image != "agent:1" || len(restored.Spec.Volumes) != 1 || v2.Spec.Containers[0].Image != "agent:2" {
		t.Errorf("restored image %s volumes %v, want agent:1 and conf (and the SidecarSet untouched)", restored.Spec.Containers[0].Image, restored.Spec.Volumes)
	}
	if rev.Hash != want.Hash || rev.HashWithoutImage != want.HashWithoutImage || rev.ControllerRevision != cr.Name {
		t.Errorf("restored revision %+v, want %+v named %s", rev, want, cr.Name)
	}
}

// revisionsOf are n revisions numbered 1..n, named r1..rn, hashed h1..hn.
func revisionsOf(n int, customVersions map[int]string) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for i := 1; i <= n; i++ {
		cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d", i), Labels: map[string]string{},
			Annotations: map[string]string{v1beta1.SidecarSetHashAnnotation: fmt.Sprintf("h%d", i)}}, Revision: int64(i)}
		if cv, ok := customVersions[i]; ok {
			cr.Labels[v1beta1.SidecarSetCustomVersionLabel] = cv
		}
		out = append(out, cr)
	}
	return out
}

func TestPinnedRevision(t *testing.T) {
	revs := revisionsOf(4, map[int]string{1: "stable", 3: "stable", 4: "canary"})
	for _, tc := range []struct {
		name     string
		pin      *v1beta1.SidecarSetInjectRevision
		want     string
		wantOK   bool
		wantWhat string
	}{
		{"no pin", nil, "", true, ""},
		{"by name", &v1beta1.SidecarSetInjectRevision{RevisionName: ptr.To("r2")}, "r2", true, "revisionName r2"},
		{"by custom version, the newest carrying it", &v1beta1.SidecarSetInjectRevision{CustomVersion: ptr.To("stable")}, "r3", true, "customVersion stable"},
		{"unknown name", &v1beta1.SidecarSetInjectRevision{RevisionName: ptr.To("r9")}, "", false, "revisionName r9"},
		{"unknown custom version", &v1beta1.SidecarSetInjectRevision{CustomVersion: ptr.To("gone")}, "", false, "customVersion gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := sidecarSet("log", func(ss *v1beta1.SidecarSet) { ss.Spec.InjectionStrategy.Revision = tc.pin })
			cr, what, ok := PinnedRevision(ss, revs)
			got := ""
			if cr != nil {
				got = cr.Name
			}
			if got != tc.want || ok != tc.wantOK || what != tc.wantWhat {
				t.Errorf("got %q %q %v, want %q %q %v", got, what, ok, tc.want, tc.wantWhat, tc.wantOK)
			}
		})
	}
}

func TestRevisionsToTrimKeepWhatIsInUse(t *testing.T) {
	running := func(name, hash, rev string) *corev1.Pod {
		raw, _ := json.Marshal(map[string]upgradeSpec{"log": {Hash: hash, SidecarSetName: "log", ControllerRevision: rev}})
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{v1beta1.SidecarSetHashAnnotation: string(raw)}}}
	}
	names := func(list []*appsv1.ControllerRevision) string {
		var out []string
		for _, cr := range list {
			out = append(out, cr.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name  string
		n     int
		limit *int32
		pin   *v1beta1.SidecarSetInjectRevision
		pods  []*corev1.Pod
		want  string
	}{
		{"within the default limit of 10", 10, nil, nil, nil, ""},
		{"over the default limit, oldest first", 12, nil, nil, nil, "r1,r2"},
		{"limit 0 keeps the latest", 3, ptr.To[int32](0), nil, nil, "r1,r2"},
		{"a pod's revision (by hash or by name) and the pinned one stay", 6, ptr.To[int32](2),
			&v1beta1.SidecarSetInjectRevision{CustomVersion: ptr.To("old")},
			[]*corev1.Pod{running("a", "h2", ""), running("b", "other", "r4")}, "r1,r5"},
		{"pods of another SidecarSet protect nothing", 3, ptr.To[int32](1), nil,
			[]*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{v1beta1.SidecarSetHashAnnotation: `{"other":{"hash":"h1"}}`}}}}, "r1,r2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := sidecarSet("log", func(ss *v1beta1.SidecarSet) {
				ss.Spec.RevisionHistoryLimit = tc.limit
				ss.Spec.InjectionStrategy.Revision = tc.pin
			})
			if got := names(RevisionsToTrim(ss, revisionsOf(tc.n, map[int]string{3: "old"}), tc.pods)); got != tc.want {
				t.Errorf("trimmed %q, want %q", got, tc.want)
			}
		})
	}
}
