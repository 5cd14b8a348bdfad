//go:build unix

package oracle_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system, every
// goroutine and the GC included), as pkg/scheduler/core's benchmarks
// measure it: it counts the work of kube-scheduler's parallel workers and
// binding goroutines as much as the caller's, and on a shared machine it is
// far steadier than wall time.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
