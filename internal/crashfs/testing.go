package crashfs

import (
	"os"
	"testing"
)

// Mounted is a crashfs over a fresh directory, unmounted when t ends. It
// skips t on a machine without FUSE (no /dev/fuse, or not root and no
// fusermount), and fails it where FUSE is there but mounting fails.
func Mounted(t testing.TB) *FS {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse, so no file system that loses unsynced writes: %v", err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	c, err := Mount(backing, mnt)
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("cannot mount FUSE as a user here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Unmount() })
	return c
}
