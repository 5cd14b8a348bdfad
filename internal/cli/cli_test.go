package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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

// Every command refuses an unknown subcommand, a stray argument and an
// unknown flag with a usage error, so a script never carries on after a
// typo; the bare grouping commands still print their help.
func TestEveryCommandRefusesBadWords(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(NewRoot(), nil)
	if len(paths) < 10 {
		t.Fatalf("walked only %d commands", len(paths))
	}
	for _, path := range paths {
		for _, extra := range [][]string{{"no-such-word"}, {"--no-such-flag"}} {
			args := append(append([]string{}, path...), extra...)
			if takesArgs(path) && extra[0] == "no-such-word" {
				continue
			}
			root := NewRoot()
			root.SetArgs(args)
			root.SetOut(&bytes.Buffer{})
			root.SetErr(&bytes.Buffer{})
			_, err := root.ExecuteC()
			var usage usageError
			if !errors.As(err, &usage) {
				t.Errorf("myriad %s: err = %v, want a usage error", strings.Join(args, " "), err)
			}
		}
	}
	for _, group := range [][]string{nil, {"bench"}} {
		root := NewRoot()
		out := &bytes.Buffer{}
		root.SetArgs(group)
		root.SetOut(out)
		if _, err := root.ExecuteC(); err != nil || !strings.Contains(out.String(), "Available Commands") {
			t.Errorf("myriad %v: err = %v, output %q, want its help", group, err, out.String())
		}
	}
}

// takesArgs lists the commands whose arguments are names (nodes, shells,
// etcd members).
func takesArgs(path []string) bool {
	s := strings.Join(path, " ")
	return strings.HasPrefix(s, "nodes fail") || strings.HasPrefix(s, "nodes recover") ||
		s == "tenant create" || s == "tenant delete" || s == "tenant kubeconfig" ||
		s == "etcd member add" || s == "etcd member promote" || s == "etcd member remove"
}

// A revision namespace that cannot name a namespace stops `up` with one
// line naming the flag, before anything starts.
func TestUpRevisionNamespaceMustBeANamespace(t *testing.T) {
	root := NewRoot()
	root.SetArgs([]string{"up", "--data-dir", t.TempDir(), "--manager-sidecarset-revision-namespace", "Kruise_System"})
	root.SetOut(&bytes.Buffer{})
	_, err := root.ExecuteC()
	var usage usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "--manager-sidecarset-revision-namespace") {
		t.Fatalf("got %v, want a usage error naming the flag", err)
	}
}

// Bad API server memory settings or profiles stop `up` and a bench with one line
// naming the flag, before anything starts.
func TestAPIServerMemoryAndProfileFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"up", "--apiserver-memory-limit", "lots"},
		{"up", "--apiserver-memory-limit", "100Mi"},
		{"up", "--watch-cache-sizes", "configmaps"},
		{"up", "--profile", "seed"},
		{"bench", "density", "--out", "unused", "--profile", "big"},
		{"bench", "density", "--out", "unused", "--apiserver-memory-limit", "8 GiB"},
		{"bench", "density", "--out", "unused", "--watch-cache-sizes", "secrets#-1"},
	} {
		root := NewRoot()
		root.SetArgs(append(args, "--data-dir", t.TempDir()))
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		_, err := root.ExecuteC()
		var usage usageError
		flag := args[len(args)-2]
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), flag) {
			t.Errorf("myriad %s: got %v, want a usage error naming %s", strings.Join(args, " "), err, flag)
		}
	}
}
