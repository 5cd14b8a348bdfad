//go:build unix

package core_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system, GC
// included): on a shared machine it measures the work of a benchmark far
// more steadily than wall time, which also counts waiting for a core.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
