//go:build unix

package testcluster

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time this process has used (user + system, every
// goroutine and the GC included): the scheduler benchmarks' measure of
// work, far steadier than wall time on a shared machine, and fair to a
// scheduler that spreads its work over goroutines.
func ProcessCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
