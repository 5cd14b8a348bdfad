package tenancy

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "team-1", strings.Repeat("a", 20)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1team", "Team", "team-", "te_am", strings.Repeat("a", 21), "a.b"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidateHostName(t *testing.T) {
	for _, ok := range []string{"a", "rack-2", "2nd", strings.Repeat("a", 63)} {
		if err := ValidateHostName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "default", "Rack", "rack-", "-rack", "ra_ck", strings.Repeat("a", 64), "a.b"} {
		if err := ValidateHostName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSuperNamespaceIsAValidDistinctName(t *testing.T) {
	long := strings.Repeat("n", 63)
	seen := map[string]string{}
	for _, c := range []struct{ tenant, ns string }{
		{"a", "default"}, {"b", "default"}, {"a", "kube-system"},
		{strings.Repeat("t", 20), long}, {strings.Repeat("t", 20), long[:62] + "m"},
		{strings.Repeat("t", 20), strings.Repeat("-", 0) + "x" + long[:62]},
	} {
		got := SuperNamespace(c.tenant, c.ns)
		if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
			t.Errorf("SuperNamespace(%q, %q) = %q: %v", c.tenant, c.ns, got, errs)
		}
		if !strings.HasPrefix(got, c.tenant+"-") {
			t.Errorf("SuperNamespace(%q, %q) = %q lacks the tenant prefix", c.tenant, c.ns, got)
		}
		key := c.tenant + "/" + c.ns
		if prev, dup := seen[got]; dup {
			t.Errorf("%s and %s both map to %q", prev, key, got)
		}
		seen[got] = key
		if again := SuperNamespace(c.tenant, c.ns); again != got {
			t.Errorf("not deterministic: %q then %q", got, again)
		}
	}
	if got := SuperNamespace("a", "default"); got != "a-default" {
		t.Errorf("short names are kept readable: got %q", got)
	}
}

func TestOwnsNamespaceRefusesAnotherOrigin(t *testing.T) {
	// "a"/"b-c" and "a-b"/"c" share a super namespace name; the origin
	// recorded on it decides.
	if SuperNamespace("a", "b-c") != SuperNamespace("a-b", "c") {
		t.Fatal("test premise: the two map to one name")
	}
	l, a := map[string]string{LabelTenant: "a"}, map[string]string{AnnotationNamespace: "b-c"}
	if !OwnsNamespace(l, a, "a", "b-c") || OwnsNamespace(l, a, "a-b", "c") || OwnsNamespace(nil, nil, "a", "b-c") {
		t.Error("ownership must follow the recorded origin")
	}
}

func FuzzSuperNamespace(f *testing.F) {
	f.Add("a", "default")
	f.Add("tenant", strings.Repeat("x", 63))
	f.Fuzz(func(t *testing.T, tenant, ns string) {
		if ValidateName(tenant) != nil || len(validation.IsDNS1123Label(ns)) > 0 {
			return
		}
		if errs := validation.IsDNS1123Label(SuperNamespace(tenant, ns)); len(errs) > 0 {
			t.Fatalf("SuperNamespace(%q, %q) invalid: %v", tenant, ns, errs)
		}
	})
}
