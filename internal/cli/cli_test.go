package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseCapacity(t *testing.T) {
	got, err := parseCapacity("cpu=16, memory=64Gi,nvidia.com/gpu=8")
	if err != nil {
		t.Fatal(err)
	}
	if got.Cpu().Value() != 16 || got.Memory().String() != "64Gi" || got.Name("nvidia.com/gpu", "").Value() != 8 {
		t.Fatalf("parsed %v", got)
	}
	for _, bad := range []string{"cpu", "=3", "cpu=lots"} {
		if _, err := parseCapacity(bad); err == nil || !strings.Contains(err.Error(), "--capacity") {
			t.Errorf("%q: err = %v, want it to name --capacity", bad, err)
		}
	}
}

// Flag mistakes are usage errors (the message points at --help); other
// failures are not.
func TestFlagErrorsAreUsageErrors(t *testing.T) {
	root := NewRoot()
	root.SetArgs([]string{"up", "--nodez=3"})
	root.SetOut(&bytes.Buffer{})
	_, err := root.ExecuteC()
	var usage usageError
	if !errors.As(err, &usage) {
		t.Fatalf("unknown flag gave %v (%T), want a usage error", err, err)
	}
}

func TestNodesFailNeedsNamesOrFraction(t *testing.T) {
	for _, args := range [][]string{
		{"nodes", "fail"},
		{"nodes", "fail", "n1", "--fraction", "0.5"},
		{"nodes", "recover", "--fraction", "2"},
	} {
		root := NewRoot()
		root.SetArgs(args)
		if _, err := root.ExecuteC(); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
