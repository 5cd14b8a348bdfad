package cloneset

import (
	"errors"
	"sync"
)

// writeParallelism bounds the concurrent API writes of one batch.
const writeParallelism = 32

// slowStart calls fn for 0..n-1 in batches of 1, 2, 4, ... (each batch in
// parallel, at most writeParallelism at once) and stops after the first
// batch with an error. A CloneSet whose pods the API server refuses (quota,
// admission) then costs one failed write per pass instead of hundreds,
// which is how upstream's ReplicaSet controller batches creations too.
// It returns how many calls were made and their joined errors.
func slowStart(n int, fn func(i int) error) (int, error) {
	done := 0
	for batch := 1; done < n; batch *= 2 {
		size := min(batch, n-done)
		if err := parallel(size, func(i int) error { return fn(done + i) }); err != nil {
			return done + size, err
		}
		done += size
	}
	return done, nil
}

// parallel calls fn for 0..n-1 with at most writeParallelism at once and
// joins the errors.
func parallel(n int, fn func(i int) error) error {
	var mu sync.Mutex
	var errs []error
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, writeParallelism) {
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
