package crashfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A crash keeps what was synced and forgets the rest: overwrites are
// undone, appends cut off, files written in several steps rolled back
// in order, through renames.
func TestCrashForgetsWhatWasNotSynced(t *testing.T) {
	c := Mounted(t)
	path := filepath.Join(c.Mountpoint, "wal.tmp")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("synced-")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XXXXXX"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("lost-append"), 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	final := filepath.Join(c.Mountpoint, "wal")
	if err := os.Rename(path, final); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(final); string(got) != "XXXXXX-lost-append" {
		t.Fatalf("before the crash the file holds %q", got)
	}
	lost, err := c.Crash()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte("synced-")) || lost != 2 {
		t.Errorf("after the crash the file holds %q (%d writes lost), want %q (2)", got, lost, "synced-")
	}
	// Writes to a file opened O_SYNC are durable as made.
	g, err := os.OpenFile(filepath.Join(c.Mountpoint, "dsync"), os.O_CREATE|os.O_WRONLY|os.O_SYNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if _, err := c.Crash(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(c.Mountpoint, "dsync")); string(got) != "kept" {
		t.Errorf("an O_SYNC write was lost: %q", got)
	}
}
