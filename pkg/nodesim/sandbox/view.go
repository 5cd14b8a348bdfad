package sandbox

import (
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// A Mount is a volume as a container sees it.
type Mount struct {
	Path     string // absolute
	Volume   string // the pod's volume name, for messages
	Tree     string // ClaimTree or EmptyDirTree; "" if its contents are not simulated
	Claim    string // namespace/name when Tree is a claim's
	ReadOnly bool
}

// View is one container's filesystem: its generated files, its mounts,
// its run layer and its image, first match wins.
type View struct {
	files     *Files
	pod       string // namespace/name
	owner     types.UID
	layer     string
	generated map[string]string
	image     map[string]string
	imageDirs map[string]bool
	mounts    []Mount // longest path first
	now       func() time.Time
	wrote     atomic.Bool // since the last Changed (commands in a pipe run concurrently)
}

// ViewSpec says what a View is made of.
type ViewSpec struct {
	Pod         string // namespace/name
	PodUID      types.UID
	Container   string
	ContainerID string
	// Generated are the files the kubelet writes into the container
	// (read-only here), by absolute path.
	Generated map[string]string
	// Image are the image's own files (from the image catalogue).
	Image  map[string]string
	Mounts []Mount
	Now    func() time.Time
}

// baseDirs exist in every container, as in any distribution's image.
var baseDirs = map[string]bool{"/": true, "/bin": true, "/dev": true, "/etc": true, "/home": true, "/lib": true,
	"/mnt": true, "/opt": true, "/proc": true, "/root": true, "/run": true, "/sbin": true, "/srv": true, "/sys": true,
	"/tmp": true, "/usr": true, "/usr/bin": true, "/usr/lib": true, "/usr/local": true, "/usr/local/bin": true,
	"/usr/sbin": true, "/usr/share": true, "/var": true, "/var/log": true, "/var/run": true, "/var/tmp": true}

const (
	devNull = "/dev/null"
	devZero = "/dev/zero"
)

// View returns the filesystem of one container run.
func (f *Files) View(s ViewSpec) *View {
	v := &View{files: f, pod: s.Pod, owner: s.PodUID, layer: RunTree(s.PodUID, s.Container, s.ContainerID),
		generated: s.Generated, image: s.Image, imageDirs: map[string]bool{}, now: s.Now}
	if v.now == nil {
		v.now = time.Now
	}
	for p := range s.Image {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			v.imageDirs[d] = true
		}
	}
	for _, m := range s.Mounts {
		m.Path = path.Clean("/" + m.Path)
		v.mounts = append(v.mounts, m)
	}
	sort.SliceStable(v.mounts, func(i, j int) bool { return len(v.mounts[i].Path) > len(v.mounts[j].Path) })
	return v
}

// where a path lives: in a mount's tree (mount != nil) or the run layer.
type where struct {
	mount *Mount
	key   string // tree key; "" for a mount whose contents are not simulated
	rel   string // path inside the tree
}

func (v *View) locate(p string) where {
	for i := range v.mounts {
		m := &v.mounts[i]
		if p == m.Path || strings.HasPrefix(p, m.Path+"/") || m.Path == "/" {
			rel := path.Clean("/" + strings.TrimPrefix(p, m.Path))
			return where{mount: m, key: m.Tree, rel: rel}
		}
	}
	return where{key: v.layer, rel: p}
}

// mountAncestor: p is a mount point's parent directory (or higher), which
// exists for the mount to exist.
func (v *View) mountAncestor(p string) bool {
	for _, m := range v.mounts {
		if p == "/" || strings.HasPrefix(m.Path, p+"/") {
			return true
		}
	}
	return false
}

func pathError(op, p string, err error) error { return &fs.PathError{Op: op, Path: p, Err: err} }

var (
	dirInfoMode  = fs.FileMode(0o755)
	fileInfoMode = fs.FileMode(0o644)
)

// Stat returns what p is (p absolute and clean).
func (v *View) Stat(p string) (fs.FileInfo, error) {
	name := path.Base(p)
	if c, ok := v.generated[p]; ok {
		return fileInfo{name: name, size: int64(len(c)), mode: fileInfoMode}, nil
	}
	if p == devNull || p == devZero {
		return fileInfo{name: name, mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}, nil
	}
	w := v.locate(p)
	if w.mount != nil {
		if w.rel == "/" {
			return fileInfo{name: name, mode: fs.ModeDir | dirInfoMode}, nil
		}
		if w.key == "" {
			return nil, pathError("stat", p, &NotSimulatedError{Volume: w.mount.Volume})
		}
		if e := v.files.get(w.key, w.rel); e != nil {
			return e.info(name), nil
		}
		return nil, pathError("stat", p, fs.ErrNotExist)
	}
	if v.mountAncestor(p) {
		return fileInfo{name: name, mode: fs.ModeDir | dirInfoMode}, nil
	}
	if e := v.files.get(v.layer, p); e != nil {
		if e.whiteout {
			return nil, pathError("stat", p, fs.ErrNotExist)
		}
		return e.info(name), nil
	}
	if c, ok := v.image[p]; ok {
		return fileInfo{name: name, size: int64(len(c)), mode: fileInfoMode}, nil
	}
	if v.imageDirs[p] || baseDirs[p] {
		return fileInfo{name: name, mode: fs.ModeDir | dirInfoMode}, nil
	}
	return nil, pathError("stat", p, fs.ErrNotExist)
}

// ReadFile returns p's contents.
func (v *View) ReadFile(p string) ([]byte, error) {
	if c, ok := v.generated[p]; ok {
		return []byte(c), nil
	}
	if p == devNull {
		return nil, nil
	}
	info, err := v.Stat(p)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, pathError("read", p, syscall.EISDIR)
	}
	w := v.locate(p)
	if e := v.files.get(w.key, w.rel); e != nil && !e.whiteout {
		return e.data, nil
	}
	return []byte(v.image[p]), nil
}

// ReadDir lists p's entries by name.
func (v *View) ReadDir(p string) ([]fs.FileInfo, error) {
	info, err := v.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, pathError("readdirent", p, syscall.ENOTDIR)
	}
	names := map[string]bool{}
	under := func(q string) (string, bool) { // q's name if directly below p
		if q == "/" || path.Dir(q) != p {
			return "", false
		}
		return path.Base(q), true
	}
	for q := range v.generated {
		if n, ok := under(q); ok {
			names[n] = true
		}
	}
	for _, m := range v.mounts {
		for q := m.Path; q != "/"; q = path.Dir(q) {
			if n, ok := under(q); ok {
				names[n] = true
			}
		}
	}
	if w := v.locate(p); w.mount != nil {
		if w.key != "" {
			for n, e := range v.files.children(w.key, w.rel) {
				names[n] = !e.whiteout
			}
		}
	} else {
		if p == "/dev" {
			names["null"], names["zero"] = true, true
		}
		for q := range v.image {
			if n, ok := under(q); ok {
				names[n] = true
			}
		}
		for q := range v.imageDirs {
			if n, ok := under(q); ok {
				names[n] = true
			}
		}
		for q := range baseDirs {
			if n, ok := under(q); ok {
				names[n] = true
			}
		}
		for n, e := range v.files.children(v.layer, p) {
			if e.whiteout {
				delete(names, n)
			} else {
				names[n] = true
			}
		}
	}
	out := make([]fs.FileInfo, 0, len(names))
	for n, ok := range names {
		if !ok {
			continue
		}
		if fi, err := v.Stat(path.Join(p, n)); err == nil {
			out = append(out, fi)
		}
	}
	slices.SortFunc(out, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// writable returns where p may be written, or why not.
func (v *View) writable(op, p string) (where, error) {
	if _, ok := v.generated[p]; ok {
		return where{}, pathError(op, p, syscall.EROFS)
	}
	w := v.locate(p)
	if w.mount != nil {
		if w.mount.ReadOnly {
			return w, pathError(op, p, syscall.EROFS)
		}
		if w.key == "" {
			return w, pathError(op, p, &NotSimulatedError{Volume: w.mount.Volume})
		}
		if w.rel == "/" {
			return w, pathError(op, p, syscall.EBUSY)
		}
	} else if v.mountAncestor(p) || p == "/" {
		return w, pathError(op, p, syscall.EBUSY)
	}
	parent, err := v.Stat(path.Dir(p))
	if err != nil {
		return w, pathError(op, p, fs.ErrNotExist)
	}
	if !parent.IsDir() {
		return w, pathError(op, p, syscall.ENOTDIR)
	}
	return w, nil
}

func (v *View) owner4(w where) types.UID {
	if w.mount != nil && w.mount.Claim != "" {
		return ""
	}
	return v.owner
}

// WriteFile replaces (or, with appendTo, extends) p's contents, creating it.
func (v *View) WriteFile(p string, data []byte, appendTo bool) error {
	if p == devNull {
		return nil
	}
	w, err := v.writable("open", p)
	if err != nil {
		return err
	}
	if info, err := v.Stat(p); err == nil && info.IsDir() {
		return pathError("open", p, syscall.EISDIR)
	}
	if appendTo {
		old, _ := v.ReadFile(p)
		data = append(slices.Clip(old), data...)
	}
	if err := v.files.put(w.key, v.owner4(w), w.rel, &entry{data: slices.Clone(data), mode: fileInfoMode, mod: v.now()}); err != nil {
		return pathError("write", p, syscall.ENOSPC)
	}
	v.wrote.Store(true)
	return nil
}

// Touch creates p empty if it does not exist, else updates its time.
func (v *View) Touch(p string) error {
	info, err := v.Stat(p)
	if err != nil {
		return v.WriteFile(p, nil, false)
	}
	if info.IsDir() {
		return nil
	}
	data, err := v.ReadFile(p)
	if err != nil {
		return err
	}
	return v.WriteFile(p, data, false)
}

// Mkdir creates directory p.
func (v *View) Mkdir(p string) error {
	if _, err := v.Stat(p); err == nil {
		return pathError("mkdir", p, fs.ErrExist)
	}
	w, err := v.writable("mkdir", p)
	if err != nil {
		return err
	}
	v.wrote.Store(true)
	return v.files.put(w.key, v.owner4(w), w.rel, &entry{dir: true, mode: dirInfoMode, mod: v.now()})
}

// Remove deletes p; a directory must be empty unless recursive.
func (v *View) Remove(p string, recursive bool) error {
	info, err := v.Stat(p)
	if err != nil {
		return pathError("remove", p, err.(*fs.PathError).Err)
	}
	if info.IsDir() {
		kids, err := v.ReadDir(p)
		if err != nil {
			return err
		}
		if len(kids) > 0 && !recursive {
			return pathError("remove", p, syscall.ENOTEMPTY)
		}
		for _, k := range kids {
			if err := v.Remove(path.Join(p, k.Name()), true); err != nil {
				return err
			}
		}
	}
	w, err := v.writable("remove", p)
	if err != nil {
		return err
	}
	v.wrote.Store(true)
	if w.mount != nil {
		v.files.del(w.key, w.rel)
		return nil
	}
	_, inImage := v.image[p]
	if inImage || v.imageDirs[p] || baseDirs[p] {
		return v.files.put(w.key, v.owner, p, &entry{whiteout: true, mod: v.now()})
	}
	v.files.del(w.key, p)
	return nil
}

// Rename moves old to new (a file or a whole directory, across volumes
// too, as mv does).
func (v *View) Rename(old, new string) error {
	info, err := v.Stat(old)
	if err != nil {
		return err
	}
	if old == new {
		return nil
	}
	if info.IsDir() && strings.HasPrefix(new, old+"/") {
		return pathError("rename", new, syscall.EINVAL)
	}
	if err := v.copy(old, new, info); err != nil {
		return err
	}
	return v.Remove(old, true)
}

// Copy copies old to new, directories recursively.
func (v *View) Copy(old, new string) error {
	info, err := v.Stat(old)
	if err != nil {
		return err
	}
	return v.copy(old, new, info)
}

func (v *View) copy(old, new string, info fs.FileInfo) error {
	if !info.IsDir() {
		data, err := v.ReadFile(old)
		if err != nil {
			return err
		}
		return v.WriteFile(new, data, false)
	}
	if to, err := v.Stat(new); err != nil {
		if err := v.Mkdir(new); err != nil {
			return err
		}
	} else if !to.IsDir() {
		return pathError("rename", new, syscall.ENOTDIR)
	}
	kids, err := v.ReadDir(old)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := v.copy(path.Join(old, k.Name()), path.Join(new, k.Name()), k); err != nil {
			return err
		}
	}
	return nil
}

// Changed reports one command's writes, if it made any, to the store's
// listener.
func (v *View) Changed() {
	if !v.wrote.Swap(false) {
		return
	}
	c := Change{Pod: v.pod}
	for _, m := range v.mounts {
		if m.Claim != "" {
			// Which claim a command wrote to is not tracked per write; a
			// claim mounted read-write may have changed.
			if !m.ReadOnly {
				v.files.notify(Change{Pod: v.pod, Claim: m.Claim})
			}
		}
	}
	v.files.notify(c)
}
