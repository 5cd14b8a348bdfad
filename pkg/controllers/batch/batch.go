// Package batch runs a pass's API writes: at most Parallelism at once, on
// goroutines that end with the call (nothing outlives the pass), and, for
// creations, in batches that double while they succeed.
//
// Every workload controller writes this way, so that one whose writes the
// API server refuses (quota, admission) costs one failed write per pass
// rather than hundreds, as upstream's ReplicaSet, Job and DaemonSet
// controllers batch their creations. The package decides nothing and
// writes nothing itself.
package batch

import (
	"errors"
	"sync"
)

// Parallelism bounds the concurrent API writes of one pass.
const Parallelism = 32

// SlowStart calls fn for 0..n-1 in batches of 1, 2, 4, ... (each batch in
// parallel) and stops after the first batch with an error. It returns how
// many calls were made and their joined errors.
func SlowStart(n int, fn func(i int) error) (int, error) {
	done := 0
	for size := 1; done < n; size *= 2 {
		size = min(size, n-done)
		base := done
		if err := Parallel(size, func(i int) error { return fn(base + i) }); err != nil {
			return done + size, err
		}
		done += size
	}
	return done, nil
}

// Parallel calls fn for 0..n-1, at most Parallelism at once, and joins the
// errors.
func Parallel(n int, fn func(i int) error) error {
	var mu sync.Mutex
	var errs []error
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, Parallelism) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
