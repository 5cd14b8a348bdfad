// Package durable writes the small files a cluster cannot lose or half-write:
// the data directory's version stamp, keys and certificates, kubeconfigs and
// the encryption configuration. After a crash or power cut a reader finds
// either the old content or the new, never an empty or torn file.
//
// It must never be used for large or frequently written data (each write
// costs two fsyncs), and it never follows the target if it is a symlink to
// a different directory: the file is replaced in place.
package durable

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteFile replaces path with data, with mode perm, atomically and durably:
// a temporary file in the same directory is written and synced, renamed
// over path (renameio), and the directory is synced so the rename itself
// survives a power cut, which rename alone does not promise.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := renameio.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// renameio creates the temporary file with perm masked by the umask;
	// keys must end up exactly perm (0600) whatever the umask.
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}
