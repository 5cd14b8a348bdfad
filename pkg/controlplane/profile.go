package controlplane

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// Profiles are named sets of `myriad up` settings for a kind of cluster.
// Each setting in one is there because a `myriad bench` run measured it
// (docs/benchmarks says which); a flag the user gives explicitly wins over
// the profile.
const (
	// ProfileDefault is no profile: every setting at its own default.
	ProfileDefault = ""
	// ProfileSeeds is for the seeds' cluster: 10^4 nodes and 10^6
	// objects on one machine, where the API server's memory runs out
	// first (docs/benchmarks/density-1m, docs/benchmarks/memory-levers).
	ProfileSeeds = "seeds"
)

// SeedsNodes is the node count of `myriad up --profile seeds` when --nodes
// is not given.
const SeedsNodes = 10000

// seedsAPIServerMemoryShare is the part of the machine's memory the seeds
// profile lets each API server's Go heap grow to before collecting harder
// (GOMEMLIMIT). At 10^6 objects the API server's RSS reached 13.4 GiB
// with no limit; the other components together held ~7 GiB. 40% of a
// 23.5 GiB machine, ~9.4 GiB, keeps the sum under 20 GiB.
const seedsAPIServerMemoryShare = 0.40

// seedsWatchCacheOff are the resources the seeds profile serves from etcd
// instead of the API server's watch cache: the bulk of a cluster's
// objects. Myriad's syncer and kube-controller-manager still list and
// watch them, selecting few by label or field; without the cache such a
// list reads every object of the type from etcd (memory-levers says what
// that costs).
var seedsWatchCacheOff = []string{"configmaps#0", "secrets#0"}

// ValidProfile checks --profile.
func ValidProfile(name string) error {
	switch name {
	case ProfileDefault, ProfileSeeds:
		return nil
	}
	return fmt.Errorf("--profile must be %q or empty, got %q", ProfileSeeds, name)
}

// WithProfile is m with the named profile's API server memory settings
// where m leaves them unset (zero); machineMemory is the machine's RAM in
// bytes, 0 when unknown, and then no limit is set.
func (m APIServerMemory) WithProfile(name string, machineMemory int64) APIServerMemory {
	if name != ProfileSeeds {
		return m
	}
	if m.Limit == 0 && machineMemory > 0 {
		m.Limit = max(int64(float64(machineMemory)*seedsAPIServerMemoryShare), MinAPIServerMemoryLimit)
	}
	if len(m.WatchCacheSizes) == 0 {
		m.WatchCacheSizes = slices.Clone(seedsWatchCacheOff)
	}
	return m
}

// MachineMemory is this machine's RAM in bytes, 0 when it cannot be read.
func MachineMemory() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
