// Package crashfs is a FUSE file system for durability tests: a loopback
// of a directory that can forget, as a power cut would, every write no
// fsync made durable. Killing a process keeps the page cache, so a test
// that only kills would pass with fsync off; one run on crashfs, with
// Crash between the kill and the restart, loses what a machine losing
// power would lose. etcd's robustness tests use LazyFS for the same; this
// is the part of it Myriad's tests need, built on go-fuse's loopback.
//
// The model: a write is held back (in an undo log of the bytes it
// replaced) until fsync or fdatasync of its file; Crash restores every
// file's bytes and size to those of its last sync. Creating, renaming,
// removing and preallocating files are taken as durable at once (as a
// journalling file system with ordered data mostly makes them); only
// file data is lost. That is enough to tell "acknowledged writes are
// fsynced" from "they are not".
//
// It must never be imported outside tests: it mounts file systems.
package crashfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// undo is what one unsynced write replaced.
type undo struct {
	off      int64
	old      []byte // the bytes it overwrote, within the file's size then
	prevSize int64  // the file's size before it
}

// FS is one mounted crashfs.
type FS struct {
	Backing, Mountpoint string

	server *fuse.Server
	mu     sync.Mutex
	undos  map[uint64][]undo // by backing inode number, which renames keep
}

// Mount serves backing at mountpoint (both existing directories).
func Mount(backing, mountpoint string) (*FS, error) {
	c := &FS{Backing: backing, Mountpoint: mountpoint, undos: map[uint64][]undo{}}
	return c, c.mount()
}

func (c *FS) mount() error {
	var st syscall.Stat_t
	if err := syscall.Stat(c.Backing, &st); err != nil {
		return err
	}
	root := &gofs.LoopbackRoot{Path: c.Backing, Dev: uint64(st.Dev)}
	node := &node{LoopbackNode: &gofs.LoopbackNode{RootData: root}, fs: c}
	root.RootNode = node
	srv, err := gofs.Mount(c.Mountpoint, node, &gofs.Options{MountOptions: fuse.MountOptions{FsName: "crashfs", DisableXAttrs: true, DirectMount: true}})
	if err != nil {
		return fmt.Errorf("mount crashfs at %s: %w", c.Mountpoint, err)
	}
	c.server = srv
	return nil
}

// Unmount unmounts; the unsynced writes are kept for Crash.
func (c *FS) Unmount() error { return c.server.Unmount() }

// Crash unmounts (dropping the kernel's caches of the mount), forgets
// every write not synced since it was made, and mounts again. Whatever
// had files open must have exited first.
func (c *FS) Crash() (lostWrites int, err error) {
	if err := c.Unmount(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	pending := c.undos
	c.undos = map[uint64][]undo{}
	c.mu.Unlock()
	err = filepath.WalkDir(c.Backing, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || len(pending[st.Ino]) == 0 {
			return nil
		}
		lostWrites += len(pending[st.Ino])
		return rollBack(path, pending[st.Ino])
	})
	if err != nil {
		return lostWrites, err
	}
	return lostWrites, c.mount()
}

// rollBack undoes writes, last first, on the file at path.
func rollBack(path string, writes []undo) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := len(writes) - 1; i >= 0; i-- {
		w := writes[i]
		if _, err := f.WriteAt(w.old, w.off); err != nil {
			return err
		}
		if err := f.Truncate(w.prevSize); err != nil {
			return err
		}
	}
	return f.Sync()
}

// record notes that a write of n bytes at off is about to replace what
// fd holds there.
func (c *FS) record(fd int, off int64, n int) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	u := undo{off: off, prevSize: st.Size}
	if keep := min(int64(n), st.Size-off); keep > 0 {
		// The file may be open write-only (etcd's WAL is): read what the
		// write replaces through a descriptor of its own.
		r, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			return err
		}
		defer r.Close()
		u.old = make([]byte, keep)
		if _, err := r.ReadAt(u.old, off); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.undos[st.Ino] = append(c.undos[st.Ino], u)
	c.mu.Unlock()
	return nil
}

// synced makes every write to fd's file so far durable.
func (c *FS) synced(fd int) {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil {
		return
	}
	c.mu.Lock()
	delete(c.undos, st.Ino)
	c.mu.Unlock()
}

// node is a loopback node whose files are crashFiles.
type node struct {
	*gofs.LoopbackNode
	fs *FS
}

var (
	_ gofs.NodeWrapChilder = (*node)(nil)
	_ gofs.NodeOpener      = (*node)(nil)
	_ gofs.NodeCreater     = (*node)(nil)
)

func (n *node) WrapChild(_ context.Context, ops gofs.InodeEmbedder) gofs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*gofs.LoopbackNode), fs: n.fs}
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, fl, errno
	}
	return n.fs.wrap(fh, flags), fl, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return in, fh, fl, errno
	}
	return in, n.fs.wrap(fh, flags), fl, 0
}

// file is a loopback file whose writes wait for a sync to be durable. It
// forwards each operation it offers by hand rather than embedding the
// loopback file: the kernel's passthrough (which a root mount gets for a
// file that offers its descriptor) and Writev would go around Write.
type file struct {
	lf   *gofs.LoopbackFile
	fs   *FS
	sync bool // opened O_SYNC or O_DSYNC: every write is durable
}

var (
	_ gofs.FileReader    = (*file)(nil)
	_ gofs.FileWriter    = (*file)(nil)
	_ gofs.FileFsyncer   = (*file)(nil)
	_ gofs.FileFlusher   = (*file)(nil)
	_ gofs.FileReleaser  = (*file)(nil)
	_ gofs.FileGetattrer = (*file)(nil)
	_ gofs.FileSetattrer = (*file)(nil)
	_ gofs.FileLseeker   = (*file)(nil)
	_ gofs.FileAllocater = (*file)(nil)
	_ gofs.FileGetlker   = (*file)(nil)
	_ gofs.FileSetlker   = (*file)(nil)
	_ gofs.FileSetlkwer  = (*file)(nil)
)

func (c *FS) wrap(fh gofs.FileHandle, flags uint32) gofs.FileHandle {
	lf, ok := fh.(*gofs.LoopbackFile)
	if !ok {
		return fh
	}
	return &file{lf: lf, fs: c, sync: flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0}
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !f.sync {
		fd, ok := f.lf.PassthroughFd()
		if !ok {
			return 0, syscall.EBADF
		}
		if err := f.fs.record(fd, off, len(data)); err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return 0, errno
			}
			return 0, syscall.EIO
		}
	}
	return f.lf.Write(ctx, data, off)
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	errno := f.lf.Fsync(ctx, flags)
	if errno == 0 {
		if fd, ok := f.lf.PassthroughFd(); ok {
			f.fs.synced(fd)
		}
	}
	return errno
}

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.lf.Read(ctx, buf, off)
}
func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.lf.Flush(ctx) }
func (f *file) Release(ctx context.Context) syscall.Errno { return f.lf.Release(ctx) }
func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.lf.Getattr(ctx, out)
}
func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return f.lf.Setattr(ctx, in, out)
}
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.lf.Lseek(ctx, off, whence)
}
func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	return f.lf.Allocate(ctx, off, size, mode)
}
func (f *file) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.lf.Getlk(ctx, owner, lk, flags, out)
}
func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.lf.Setlk(ctx, owner, lk, flags)
}
func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.lf.Setlkw(ctx, owner, lk, flags)
}
