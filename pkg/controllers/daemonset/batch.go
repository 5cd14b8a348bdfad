package daemonset

import (
	"errors"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
)

// writeParallelism bounds the concurrent API writes of one pass. Writes run
// on short-lived goroutines of the pass that joins them; nothing outlives it.
const writeParallelism = 32

// slowStart calls fn for 0..n-1 in batches of 1, 2, 4, ... and stops after
// the first batch with an error, as upstream's controllers create pods: a
// DaemonSet whose pods the API server refuses (quota, admission) costs one
// failed create per pass, not burstReplicas of them.
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

// parallel calls fn for 0..n-1, at most writeParallelism at once, and joins
// the errors.
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

// hooked reports whether a lifecycle hook holds the pod: it carries any of
// the hook's labels (with its value) or finalizers, as in OpenKruise.
func hooked(h *pub.LifecycleHook, pod *corev1.Pod) bool {
	if h == nil {
		return false
	}
	for k, v := range h.LabelsHandler {
		if got, ok := pod.Labels[k]; ok && got == v {
			return true
		}
	}
	for _, f := range h.FinalizersHandler {
		if slices.Contains(pod.Finalizers, f) {
			return true
		}
	}
	return false
}
