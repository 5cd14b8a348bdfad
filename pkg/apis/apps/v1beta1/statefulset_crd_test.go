package v1beta1_test

import (
	"context"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
)

// The API server accepts the StatefulSet CRD as generated, so `myriad up`
// can install it.
func TestStatefulSetCRDIsValid(t *testing.T) {
	crd := loadCRD(t, "statefulsets")
	internal := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, internal, nil); err != nil {
		t.Fatalf("convert CRD: %v", err)
	}
	internal.Status.StoredVersions = []string{"v1beta1"}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
		t.Fatalf("the API server would reject the CRD:\n%v", errs.ToAggregate())
	}
	if got := crd.Spec.Names.ShortNames; len(got) != 2 || got[0] != "sts" || got[1] != "asts" {
		t.Errorf("short names %v, want OpenKruise's [sts asts]", got)
	}
	for _, v := range crd.Spec.Versions {
		if s := v.Subresources; s == nil || s.Scale == nil || s.Scale.LabelSelectorPath == nil || *s.Scale.LabelSelectorPath != ".status.labelSelector" {
			t.Errorf("%s: scale subresource %+v, want one reading .status.labelSelector", v.Name, v.Subresources)
		}
	}
}
