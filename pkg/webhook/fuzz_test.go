package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

// FuzzValidateCloneSet feeds admission arbitrary CloneSets, as a user's
// manifests would be: validation must answer with field errors, never
// panic, whatever the object, on create and on update against another.
// The samples under testdata seed it.
func FuzzValidateCloneSet(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			js, err := yaml.YAMLToJSON(raw)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(js, js)
		}
	}
	f.Add([]byte(`{"spec":{"replicas":-1,"updateStrategy":{"partition":"150%"}}}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var cs, old v1alpha1.CloneSet
		if json.Unmarshal(a, &cs) != nil {
			return
		}
		_ = ValidateCloneSet(&cs)
		if json.Unmarshal(b, &old) != nil {
			return
		}
		_ = ValidateCloneSetUpdate(&cs, &old, inplace.EligibilityOptions{})
	})
}

// FuzzParseIntOrPercent: every accepted value is in range, and accepted
// percentages are exactly the CRD's pattern (digits, no leading zero).
func FuzzParseIntOrPercent(f *testing.F) {
	for _, s := range []string{"20%", "0%", "100%", "101%", "05%", "+5%", "-0%", "%", "1e2%"} {
		f.Add(s, int32(0), true)
	}
	f.Add("", int32(-3), false)
	f.Add("", int32(7), false)
	f.Fuzz(func(t *testing.T, s string, i int32, isString bool) {
		v := intstr.FromInt32(i)
		if isString {
			v = intstr.FromString(s)
		}
		n, percent, err := ParseIntOrPercent(v)
		if err != nil {
			return
		}
		if n < 0 || (percent && n > 100) || percent != isString {
			t.Fatalf("%v parsed as n=%d percent=%v", v, n, percent)
		}
		if percent && strconv.Itoa(n)+"%" != s {
			t.Fatalf("%q accepted as %d%%: not in canonical form", s, n)
		}
	})
}
