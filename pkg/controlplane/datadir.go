package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/myriad-dev/myriad/pkg/durable"
	"github.com/myriad-dev/myriad/pkg/version"
)

// FormatVersion is bumped whenever the on-disk layout changes in a way an
// older or newer Myriad cannot read. A mismatch stops `myriad up` before it
// touches anything.
const FormatVersion = 1

// KubernetesVersion is the version of the k8s.io/kubernetes module linked
// into this binary; the data directory records it because etcd contents are
// only guaranteed readable by the same or the next minor version.
var KubernetesVersion = version.Kubernetes()

const stampName = "myriad.json"

// RoleTenantHost marks a data directory of `myriad tenant-host`.
const RoleTenantHost = "tenant-host"

// Stamp is what a data directory records about the Myriad that created it.
type Stamp struct {
	Format            int    `json:"format"`
	KubernetesVersion string `json:"kubernetesVersion"`
	// EtcdPort is fixed at creation: etcd stores its peer URL in its own
	// data, so the member must come back on the same address.
	EtcdPort int `json:"etcdPort"`
	// Role is what the directory holds: "" a cluster of `myriad up`,
	// RoleTenantHost the etcd and tenants of `myriad tenant-host`. Neither
	// command runs on the other's directory.
	Role string `json:"role,omitempty"`
	// Upgraded is set by Inspect (never stored) when the directory was
	// written by the previous Kubernetes minor: `up` rewrites the stamp.
	Upgraded bool `json:"-"`
}

// DataDir is the layout of one cluster's state on disk.
type DataDir struct {
	Root string
}

func (d DataDir) PKI() string             { return filepath.Join(d.Root, "pki") }
func (d DataDir) Etcd() string            { return filepath.Join(d.Root, "etcd") }
func (d DataDir) Logs() string            { return filepath.Join(d.Root, "logs") }
func (d DataDir) Run() string             { return filepath.Join(d.Root, "run") }
func (d DataDir) AdminKubeconfig() string { return filepath.Join(d.Root, "kubeconfig") }

// SuperAdminKubeconfig is the break-glass kubeconfig (system:masters).
func (d DataDir) SuperAdminKubeconfig() string { return d.Kubeconfig("super-admin") }
func (d DataDir) Kubeconfig(who string) string {
	return filepath.Join(d.Root, "kubeconfigs", who+".kubeconfig")
}
func (d DataDir) stamp() string { return filepath.Join(d.Root, stampName) }

// Inspect checks that Root is usable without changing anything. For a
// directory that does not exist yet or is empty it returns fresh=true and
// the stamp Init will write. Every refusal is one line naming what to fix.
func (d DataDir) Inspect(etcdPort int) (s Stamp, fresh bool, err error) {
	newStamp := Stamp{Format: FormatVersion, KubernetesVersion: KubernetesVersion, EtcdPort: etcdPort}
	info, err := os.Stat(d.Root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := creatable(d.Root); err != nil {
			return Stamp{}, false, fmt.Errorf("cannot create data directory %s: %v; choose another --data-dir", d.Root, err)
		}
		return newStamp, true, nil
	case err != nil:
		return Stamp{}, false, fmt.Errorf("cannot use data directory %s: %v; choose another --data-dir", d.Root, unwrapPathErr(err))
	case !info.IsDir():
		return Stamp{}, false, fmt.Errorf("data directory %s is a file, not a directory; choose another --data-dir", d.Root)
	}
	if err := writable(d.Root); err != nil {
		return Stamp{}, false, fmt.Errorf("data directory %s is not writable (%v); fix its permissions or choose another --data-dir", d.Root, err)
	}

	raw, err := os.ReadFile(d.stamp())
	if errors.Is(err, os.ErrNotExist) {
		entries, err := os.ReadDir(d.Root)
		if err != nil {
			return Stamp{}, false, fmt.Errorf("read data directory %s: %w", d.Root, err)
		}
		if len(entries) > 0 {
			return Stamp{}, false, fmt.Errorf("data directory %s is not empty and was not created by myriad (no %s); choose an empty or new --data-dir", d.Root, stampName)
		}
		return newStamp, true, nil
	}
	if err != nil {
		return Stamp{}, false, fmt.Errorf("read %s: %w", d.stamp(), err)
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Format == 0 {
		if err == nil {
			err = errors.New("no format recorded")
		}
		if etcd, _ := os.ReadDir(d.Etcd()); len(etcd) > 0 {
			// The stamp is three facts; losing it must not cost the
			// cluster. The etcd port is the one fact only the user can
			// give back (etcd's member data records its peer address).
			return newStamp, false, &DamagedStampError{Path: d.stamp(), Err: err}
		}
		return Stamp{}, false, fmt.Errorf("%s is corrupt (%v) and there is no etcd data beside it; choose another --data-dir", d.stamp(), err)
	}
	if s.Format != FormatVersion {
		return Stamp{}, false, fmt.Errorf("data directory %s has format %d but this myriad reads format %d; use a matching myriad or another --data-dir", d.Root, s.Format, FormatVersion)
	}
	switch upgradeStep(s.KubernetesVersion, KubernetesVersion) {
	case 0:
	case 1:
		// Kubernetes upgrades one minor at a time: the API server of minor
		// N+1 reads what N stored (and rewrites objects in its own storage
		// versions as they change). The stamp then records the new minor,
		// which the older myriad will refuse: there is no way back.
		s.KubernetesVersion = KubernetesVersion
		s.Upgraded = true
	default:
		return Stamp{}, false, fmt.Errorf("data directory %s was written by Kubernetes %s but this myriad runs %s; Kubernetes moves one minor version at a time and never back, so use a myriad of %s or the next minor, or another --data-dir", d.Root, s.KubernetesVersion, KubernetesVersion, minorOf(s.KubernetesVersion))
	}
	return s, false, nil
}

// upgradeStep is how many minor versions from stored to running: 0 for the
// same minor, 1 for the next, and -1 for anything else (older binary,
// a skipped minor, another major, or a version that does not parse).
func upgradeStep(stored, running string) int {
	var smaj, smin, rmaj, rmin int
	if _, err := fmt.Sscanf(stored, "v%d.%d", &smaj, &smin); err != nil {
		return -1
	}
	if _, err := fmt.Sscanf(running, "v%d.%d", &rmaj, &rmin); err != nil {
		return -1
	}
	if smaj != rmaj || rmin < smin || rmin > smin+1 {
		return -1
	}
	return rmin - smin
}

// DamagedStampError says the data directory's stamp is unreadable (a power
// cut before stamps were written durably, or a hand edit) while its etcd
// data is there. Running `up` again with the --etcd-port the directory was
// created with rewrites the stamp and resumes the cluster.
type DamagedStampError struct {
	Path string
	Err  error
}

func (e *DamagedStampError) Error() string {
	return fmt.Sprintf("%s is damaged (%v) but the cluster's etcd data is intact: run again with --etcd-port set to the port this directory was created with (logs/etcd.log names it) to rewrite it", e.Path, e.Err)
}

// Create makes a fresh data directory, private to the user. It writes
// nothing else: the stamp follows once the directory is locked, so two
// `myriad up` racing for one new directory never both initialise it.
func (d DataDir) Create() error {
	if err := os.MkdirAll(d.Root, 0o700); err != nil {
		return fmt.Errorf("cannot create data directory %s: %v; choose another --data-dir", d.Root, unwrapPathErr(err))
	}
	return nil
}

// WriteStamp records s in the directory, durably.
func (d DataDir) WriteStamp(s Stamp) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	// A torn or empty stamp would make the next `up` refuse a directory
	// whose etcd data is intact.
	return durable.WriteFile(d.stamp(), append(raw, '\n'), 0o600)
}

// MakeDirs creates the sub-directories, all private to the user.
func (d DataDir) MakeDirs() error {
	for _, dir := range []string{d.PKI(), d.Etcd(), d.Logs(), d.Run(), filepath.Dir(d.Kubeconfig("x"))} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return os.Chmod(d.Root, 0o700)
}

// Lock takes an exclusive advisory lock so two `myriad up` never share one
// directory. The kernel drops the lock when the process dies, even on
// kill -9, so a crashed run never blocks the next.
func (d DataDir) Lock() (release func(), err error) {
	path := filepath.Join(d.Root, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another myriad (up or tenant-host); stop it or choose another --data-dir", d.Root)
	}
	return func() { f.Close() }, nil
}

// creatable reports why dir could not be created: its nearest existing
// ancestor must be a writable directory.
func creatable(dir string) error {
	parent := filepath.Dir(dir)
	for {
		info, err := os.Stat(parent)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("%s is not a directory", parent)
			}
			return writable(parent)
		}
		if !errors.Is(err, os.ErrNotExist) || parent == filepath.Dir(parent) {
			return unwrapPathErr(err)
		}
		parent = filepath.Dir(parent)
	}
}

func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return unwrapPathErr(err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// minorOf reduces "v1.37.2" to "v1.37": patch releases share a storage
// format, minor releases may not.
func minorOf(v string) string {
	if i := strings.LastIndexByte(v, '.'); i > 0 && strings.Count(v, ".") == 2 {
		return v[:i]
	}
	return v
}
