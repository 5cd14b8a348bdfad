package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareNewDirectory(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cluster")
	d := DataDir{Root: root}
	s, fresh, err := d.Inspect(2379)
	if err != nil || !fresh {
		t.Fatalf("inspect new directory: fresh=%v err=%v", fresh, err)
	}
	if _, err := os.Stat(root); err == nil {
		t.Fatal("Inspect must not create the directory")
	}
	if err := d.Create(); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteStamp(s); err != nil {
		t.Fatal(err)
	}
	if s.Format != FormatVersion || s.EtcdPort != 2379 {
		t.Fatalf("stamp = %+v", s)
	}
	info, _ := os.Stat(root)
	if info.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %v, want 0700", info.Mode().Perm())
	}
	// Resuming returns the recorded stamp, whatever port is asked now.
	s2, fresh, err := d.Inspect(9999)
	if err != nil || fresh || s2.EtcdPort != 2379 {
		t.Fatalf("resume: %+v, fresh=%v, %v", s2, fresh, err)
	}
}

func TestPrepareRefusesBadDirectories(t *testing.T) {
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "precious.txt"), []byte("x"), 0o600)

	newer := t.TempDir()
	os.WriteFile(filepath.Join(newer, stampName), []byte(`{"format": 99, "kubernetesVersion": "v1.37.2"}`), 0o600)

	oldKube := t.TempDir()
	os.WriteFile(filepath.Join(oldKube, stampName), []byte(`{"format": 1, "kubernetesVersion": "v1.30.0"}`), 0o600)

	corrupt := t.TempDir()
	os.WriteFile(filepath.Join(corrupt, stampName), []byte(`{`), 0o600)

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)

	for _, tc := range []struct {
		name, root, want string
	}{
		{"foreign", foreign, "not created by myriad"},
		{"newer format", newer, "format 99"},
		{"other kubernetes", oldKube, "v1.30.0"},
		{"corrupt stamp", corrupt, "corrupt"},
		{"a file", file, "is a file"},
		{"under a file", filepath.Join(file, "sub"), "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := listing(t, tc.root)
			_, _, err := DataDir{Root: tc.root}.Inspect(2379)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error must be one line: %q", err)
			}
			if after := listing(t, tc.root); after != before {
				t.Fatalf("a refused directory was modified: %q -> %q", before, after)
			}
		})
	}
}

func TestPatchReleasesShareAFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, stampName), []byte(`{"format": 1, "kubernetesVersion": "v1.37.0"}`), 0o600)
	if _, _, err := (DataDir{Root: dir}).Inspect(2379); err != nil {
		t.Fatalf("a patch release must resume the directory: %v", err)
	}
}

func TestLockIsExclusive(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	release, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lock(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second lock: %v", err)
	}
	release()
	again, err := d.Lock()
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

func listing(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "unreadable"
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

// An empty stamp (a power cut before stamps were written durably) beside
// intact etcd data is not a reason to abandon the cluster: the error says
// how to resume, and carries the stamp that --etcd-port rewrites.
func TestDamagedStampBesideEtcdDataCanBeRewritten(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	os.WriteFile(d.stamp(), nil, 0o600)
	os.MkdirAll(filepath.Join(d.Etcd(), "member"), 0o700)
	s, fresh, err := d.Inspect(23790)
	var damaged *DamagedStampError
	if !errors.As(err, &damaged) || fresh {
		t.Fatalf("err = %v, fresh = %v; want a DamagedStampError", err, fresh)
	}
	if !strings.Contains(err.Error(), "--etcd-port") || s.EtcdPort != 23790 || s.Format != FormatVersion {
		t.Fatalf("err %q, stamp %+v", err, s)
	}
	if err := d.WriteStamp(s); err != nil {
		t.Fatal(err)
	}
	if s2, fresh, err := d.Inspect(1); err != nil || fresh || s2.EtcdPort != 23790 {
		t.Fatalf("after rewrite: %+v fresh=%v err=%v", s2, fresh, err)
	}
}

func TestUpgradeStepIsOneMinorForward(t *testing.T) {
	for _, c := range []struct {
		stored, running string
		want            int
	}{
		{"v1.37.2", "v1.37.5", 0},
		{"v1.36.9", "v1.37.2", 1},
		{"v1.35.0", "v1.37.2", -1}, // a skipped minor
		{"v1.38.0", "v1.37.2", -1}, // a downgrade
		{"v2.37.0", "v1.37.2", -1},
		{"garbage", "v1.37.2", -1},
	} {
		if got := upgradeStep(c.stored, c.running); got != c.want {
			t.Errorf("upgradeStep(%s, %s) = %d, want %d", c.stored, c.running, got, c.want)
		}
	}
}

// A directory of the previous minor resumes and is marked for the stamp's
// rewrite; the stamp on disk is untouched until `up` holds the lock.
func TestPreviousMinorIsUpgraded(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	var maj, min int
	fmt.Sscanf(KubernetesVersion, "v%d.%d", &maj, &min)
	prev := fmt.Sprintf("v%d.%d.3", maj, min-1)
	os.WriteFile(d.stamp(), []byte(fmt.Sprintf(`{"format": %d, "kubernetesVersion": %q, "etcdPort": 2379}`, FormatVersion, prev)), 0o600)
	s, fresh, err := d.Inspect(2379)
	if err != nil || fresh || !s.Upgraded || s.KubernetesVersion != KubernetesVersion {
		t.Fatalf("inspect %s dir: %+v fresh=%v err=%v", prev, s, fresh, err)
	}
	raw, _ := os.ReadFile(d.stamp())
	if !strings.Contains(string(raw), prev) {
		t.Fatalf("Inspect changed the stamp: %s", raw)
	}
}
