package webhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// TestSampleManifests runs the manifests in testdata as a user would apply
// them: those under valid/ (written in OpenKruise's style) must be accepted,
// and so must an image-only rollout of each; each one under invalid/ must be
// rejected with exactly the errors its "# want:" lines name.
func TestSampleManifests(t *testing.T) {
	for _, path := range sampleFiles(t, "valid") {
		t.Run(path, func(t *testing.T) {
			cs, _ := loadSample(t, path)
			wantErrors(t, ValidateCloneSet(cs), nil)

			rollout := cs.DeepCopy()
			rollout.Spec.Template.Spec.Containers[0].Image += "-next"
			wantErrors(t, ValidateCloneSetUpdate(rollout, cs, inplace.EligibilityOptions{}), nil)
		})
	}
	for _, path := range sampleFiles(t, "invalid") {
		t.Run(path, func(t *testing.T) {
			cs, want := loadSample(t, path)
			if len(want) == 0 {
				t.Fatal(`an invalid sample needs "# want:" lines`)
			}
			wantErrors(t, ValidateCloneSet(cs), want)
		})
	}
}

func sampleFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples in testdata/%s (err %v)", dir, err)
	}
	return paths
}

// loadSample decodes a CloneSet strictly, so a misspelt field in a sample
// fails the test instead of being silently dropped.
func loadSample(t *testing.T, path string) (*v1alpha1.CloneSet, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cs := &v1alpha1.CloneSet{}
	if err := yaml.UnmarshalStrict(data, cs); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	var want []string
	for line := range strings.Lines(string(data)) {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			want = append(want, strings.TrimSpace(w))
		}
	}
	return cs, want
}
