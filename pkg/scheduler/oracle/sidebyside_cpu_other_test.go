//go:build !unix

package oracle_test

import "time"

// processCPU is not measured here; TestSideBySide reports wall time only.
func processCPU() (time.Duration, bool) { return 0, false }
