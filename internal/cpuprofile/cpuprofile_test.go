package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFromEnvWritesAPrivateProfileAndPassesNothingOn(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(DirEnv, dir)
	stop := FromEnv("kube-scheduler-1")
	if os.Getenv(DirEnv) != "" {
		t.Fatalf("%s still set: a child would write over the profile", DirEnv)
	}
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	_ = x
	stop()
	path := filepath.Join(dir, FileName("kube-scheduler-1", os.Getpid()))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		t.Fatal("empty profile")
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("profile mode %v, want 0600 (it holds the process's symbols and stacks)", fi.Mode().Perm())
	}
	for _, p := range []string{path, filepath.Join(dir, AllocsFileName("kube-scheduler-1", os.Getpid()))} {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
		if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
			t.Fatalf("%s: not a gzipped pprof profile", filepath.Base(p))
		}
	}
}

func TestFromEnvDoesNothingUnlessAsked(t *testing.T) {
	t.Setenv(DirEnv, "")
	FromEnv("x")() // must not panic or start a profile
}

func TestFromEnvWithAMissingDirectoryRunsUnprofiled(t *testing.T) {
	t.Setenv(DirEnv, filepath.Join(t.TempDir(), "missing"))
	FromEnv("x")()
}
