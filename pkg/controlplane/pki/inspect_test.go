package pki

import (
	"path/filepath"
	"testing"
	"time"
)

func TestInspectTellsIdentityIssuerAndEnd(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.EnsureCert(dir, "admin-client", Request{CommonName: "admin", Organization: []string{"ops"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := Inspect(cert)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Identity() != "admin (ops)" || leaf.Issuer != "test-ca" || leaf.IsCA || leaf.Count != 1 {
		t.Errorf("leaf: %+v", leaf)
	}
	if d := time.Until(leaf.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("a leaf lasts a year, this one %v", d)
	}
	root, err := Inspect(filepath.Join(dir, "ca.crt"))
	if err != nil || !root.IsCA || root.NotAfter.Before(leaf.NotAfter) {
		t.Errorf("CA: %+v %v", root, err)
	}
	if _, err := Inspect(filepath.Join(dir, "ca.key")); err == nil {
		t.Error("a key file was read as a certificate")
	}
}

func TestStateAndLeftAtAnyMoment(t *testing.T) {
	end := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	c := CertInfo{NotAfter: end}
	for _, tc := range []struct {
		before      time.Duration
		state, left string
	}{
		{400 * 24 * time.Hour, "ok", "400d"},
		{31 * 24 * time.Hour, "ok", "31d"},
		{29 * 24 * time.Hour, "due", "29d"},
		{5 * time.Hour, "due", "5h"},
		{0, "expired", "expired"},
		{-time.Hour, "expired", "expired"},
	} {
		now := end.Add(-tc.before)
		if got := c.State(now); got != tc.state {
			t.Errorf("%v before the end: state %q, want %q", tc.before, got, tc.state)
		}
		if got := c.Left(now); got != tc.left {
			t.Errorf("%v before the end: left %q, want %q", tc.before, got, tc.left)
		}
	}
}
