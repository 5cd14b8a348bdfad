package sandbox

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Files is every simulated container's written state, in memory. Trees
// are created on first write and forgotten with what owns them.
type Files struct {
	mu      sync.Mutex
	trees   map[string]*tree
	byOwner map[types.UID]map[string]struct{} // pod → its run layers and emptyDirs
	used    int64
	limit   int64
	perTree int64
	changed func(Change)
}

// A Change is one command's writes: the pod it ran in, and the claim
// ("namespace/name") whose volume it wrote to, if any, since every pod
// that mounts the claim sees the change.
type Change struct {
	Pod   string // namespace/name
	Claim string
}

// Default bounds: exec'd commands write markers and small files; a
// runaway `dd` gets ENOSPC, never the simulator's memory.
const (
	DefaultLimit   = 64 << 20
	DefaultPerTree = 4 << 20
)

// NewFiles returns an empty store holding at most limit bytes in all and
// perTree bytes in one layer or volume (0: the defaults). changed, if not
// nil, is called after each command that wrote, outside any lock.
func NewFiles(limit, perTree int64, changed func(Change)) *Files {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if perTree <= 0 {
		perTree = DefaultPerTree
	}
	return &Files{trees: map[string]*tree{}, byOwner: map[types.UID]map[string]struct{}{},
		limit: limit, perTree: perTree, changed: changed}
}

// Tree keys. A run layer belongs to one container run (its container ID);
// an emptyDir to its pod; a claim's tree to the claim.
func RunTree(pod types.UID, container, containerID string) string {
	return "run/" + string(pod) + "/" + container + "/" + containerID
}

func EmptyDirTree(pod types.UID, volume string) string {
	return "emptydir/" + string(pod) + "/" + volume
}

func ClaimTree(namespace, claim string) string { return "claim/" + namespace + "/" + claim }

// ForgetPod drops the layers and emptyDirs of a deleted pod.
func (f *Files) ForgetPod(uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key := range f.byOwner[uid] {
		f.dropLocked(key)
	}
	delete(f.byOwner, uid)
}

// ForgetClaim drops a deleted claim's volume data.
func (f *Files) ForgetClaim(namespace, claim string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := ClaimTree(namespace, claim)
	for k := range f.trees {
		if k == key || strings.HasPrefix(k, key+"#") { // and its subPaths
			f.dropLocked(k)
		}
	}
}

// ForgetRun drops the layer of a container run that ended: a restarted
// container starts from its image again.
func (f *Files) ForgetRun(pod types.UID, container, containerID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := RunTree(pod, container, containerID)
	f.dropLocked(key)
	delete(f.byOwner[pod], key)
}

// Used is how many bytes the store holds.
func (f *Files) Used() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

func (f *Files) dropLocked(key string) {
	if t := f.trees[key]; t != nil {
		f.used -= t.size
		delete(f.trees, key)
	}
}

// tree is one layer or volume: cleaned absolute paths ("/a/b", relative to
// the volume's root for a volume) to entries. Directories are explicit, so
// a path exists only if its parent does.
type tree struct {
	entries map[string]*entry
	size    int64
}

type entry struct {
	dir      bool
	whiteout bool // run layers only: removed from the image below
	data     []byte
	mode     fs.FileMode
	mod      time.Time
}

func (e *entry) info(name string) fs.FileInfo {
	mode := e.mode
	if e.dir {
		mode |= fs.ModeDir
	}
	return fileInfo{name: name, size: int64(len(e.data)), mode: mode, mod: e.mod}
}

// get returns the entry at p in tree key (nil if none).
func (f *Files) get(key, p string) *entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.trees[key]; t != nil {
		if e := t.entries[p]; e != nil {
			c := *e
			return &c
		}
	}
	return nil
}

// children returns the names directly below p in tree key, whiteouts
// included (the caller decides).
func (f *Files) children(key, p string) map[string]*entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*entry{}
	t := f.trees[key]
	if t == nil {
		return out
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	for path, e := range t.entries {
		if rest, ok := strings.CutPrefix(path, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			c := *e
			out[rest] = &c
		}
	}
	return out
}

// below returns every path strictly below p in tree key.
func (f *Files) below(key, p string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.trees[key]
	if t == nil {
		return nil
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	var out []string
	for path := range t.entries {
		if strings.HasPrefix(path, prefix) {
			out = append(out, path)
		}
	}
	return out
}

var errNoSpace = &fs.PathError{Op: "write", Err: syscall.ENOSPC}

// put stores e at p in tree key (owned by owner, "" for a claim's),
// replacing what was there, within the bounds.
func (f *Files) put(key string, owner types.UID, p string, e *entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.trees[key]
	var old int64
	if t != nil {
		if o := t.entries[p]; o != nil {
			old = int64(len(o.data))
		}
	}
	grow := int64(len(e.data)) - old
	if grow > 0 && (f.used+grow > f.limit || (t != nil && t.size+grow > f.perTree) || (t == nil && grow > f.perTree)) {
		return errNoSpace
	}
	if t == nil {
		t = &tree{entries: map[string]*entry{}}
		f.trees[key] = t
		if owner != "" {
			if f.byOwner[owner] == nil {
				f.byOwner[owner] = map[string]struct{}{}
			}
			f.byOwner[owner][key] = struct{}{}
		}
	}
	t.entries[p] = e
	t.size += grow
	f.used += grow
	return nil
}

// del removes p from tree key.
func (f *Files) del(key, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.trees[key]; t != nil {
		if o := t.entries[p]; o != nil {
			t.size -= int64(len(o.data))
			f.used -= int64(len(o.data))
			delete(t.entries, p)
		}
	}
}

func (f *Files) notify(c Change) {
	if f.changed != nil {
		f.changed(c)
	}
}

// fileInfo is an fs.FileInfo of the sandbox.
type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

// NotSimulatedError says a path lies in a volume whose contents the
// simulator does not have (a ConfigMap's, a Secret's, a host's).
type NotSimulatedError struct{ Volume string }

func (e *NotSimulatedError) Error() string {
	return "the contents of volume " + strconv.Quote(e.Volume) + " are not simulated"
}

// errno returns err's errno, if it has one.
func errno(err error) (syscall.Errno, bool) {
	var e syscall.Errno
	ok := errors.As(err, &e)
	return e, ok
}
