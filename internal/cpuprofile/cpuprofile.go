// Package cpuprofile lets any process of the myriad binary write a Go CPU
// profile of its whole life when its environment asks for one, and beside
// it the allocations of that life (Go's "allocs" profile: every byte and
// object allocated, sampled, with the stack that allocated it), which is
// what garbage collection costs are traced back to. Benches set
// DirEnv on the process they measure (a scheduler under test), so that
// kube-scheduler and Myriad's scheduler are profiled the same way, from
// process start to exit, whatever flags each offers.
//
// It never profiles unless asked, and it never passes the request on: the
// variable is removed before any child could inherit it.
package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
)

// DirEnv names the directory a process writes its profiles to, as
// NAME-PID.pprof (CPU) and NAME-PID.allocs.pprof (allocations).
const DirEnv = "MYRIAD_CPU_PROFILE_DIR"

// FromEnv starts profiling if DirEnv is set and returns the function that
// stops it and writes the profile (a no-op otherwise). A profile that
// cannot start is reported on stderr; the process runs on unprofiled.
func FromEnv(name string) (stop func()) {
	dir := os.Getenv(DirEnv)
	if dir == "" {
		return func() {}
	}
	_ = os.Unsetenv(DirEnv)
	path := filepath.Join(dir, FileName(name, os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
		}
		writeAllocs(filepath.Join(dir, AllocsFileName(name, os.Getpid())))
	}
}

// writeAllocs writes the allocations since process start. Allocation
// sampling is always on (runtime.MemProfileRate), so asking costs nothing
// until here.
func writeAllocs(path string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "allocs profile: %v\n", err)
		return
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintf(os.Stderr, "allocs profile: %v\n", err)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "allocs profile: %v\n", err)
	}
}

// FileName is the CPU profile's file name for the process name and pid.
func FileName(name string, pid int) string {
	return name + "-" + strconv.Itoa(pid) + ".pprof"
}

// AllocsFileName is the allocation profile's file name.
func AllocsFileName(name string, pid int) string {
	return name + "-" + strconv.Itoa(pid) + AllocsSuffix
}

// AllocsSuffix ends every allocation profile's file name.
const AllocsSuffix = ".allocs.pprof"
