package status

import (
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// TestPatchReplacesWhole: the patch sets the status to exactly the new one,
// dropping fields the new one leaves out and creating status when absent.
func TestPatchReplacesWhole(t *testing.T) {
	type st struct {
		Replicas int `json:"replicas"`
		Updated  int `json:"updatedReplicas,omitempty"`
	}
	patch, err := Patch(st{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`{"spec":{"x":1},"status":{"replicas":5,"updatedReplicas":4,"other":"kept?"}}`,
		`{"spec":{"x":1}}`,
	} {
		out, err := p.Apply([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		status, _ := json.Marshal(got["status"])
		if string(status) != `{"replicas":3}` {
			t.Errorf("%s: status became %s, want exactly {\"replicas\":3}", doc, status)
		}
		if got["spec"] == nil {
			t.Errorf("%s: spec lost", doc)
		}
	}
}
