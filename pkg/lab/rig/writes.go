package rig

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
)

// CreatedBy labels everything the bench creates.
const CreatedBy = "myriad-bench"

// Namespaces creates the namespaces that do not exist yet and waits until
// each has its default ServiceAccount: until the serviceaccount controller
// made it, the API server rejects pods there.
func (r *Rig) Namespaces(ctx context.Context, names ...string) error {
	for _, n := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"app.kubernetes.io/created-by": CreatedBy}}}
		if _, err := r.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", n, err)
		}
	}
	for _, n := range names {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := r.Client.CoreV1().ServiceAccounts(n).Get(ctx, "default", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("namespace %s has no default ServiceAccount (is the serviceaccount controller running?): %w", n, err)
		}
	}
	return nil
}

// ConfigMap is a ConfigMap whose data is size bytes, about what a small
// Kubernetes object weighs.
func ConfigMap(ns, name string, size int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/created-by": CreatedBy}},
		Data:       map[string]string{"data": strings.Repeat("x", size)},
	}
}

// ConfigMaps creates perNS ConfigMaps "cm-000000"... in each namespace
// with workers in parallel, calling progress with the count so far.
func (r *Rig) ConfigMaps(ctx context.Context, namespaces []string, perNS, size, workers int, progress func(int)) error {
	return ForEach(ctx, r.Clock, len(namespaces)*perNS, workers, progress, func(ctx context.Context, i int) error {
		ns, name := namespaces[i%len(namespaces)], fmt.Sprintf("cm-%06d", i/len(namespaces))
		_, err := r.Client.CoreV1().ConfigMaps(ns).Create(ctx, ConfigMap(ns, name, size), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create configmap %s/%s: %w", ns, name, err)
		}
		return nil
	})
}

// ForEach calls op for 0..n-1 on workers goroutines, stopping at the first
// error, and reports the count done to progress (if not nil) every half
// second and at the end.
func ForEach(ctx context.Context, clk clock.WithTicker, n, workers int, progress func(int), op func(context.Context, int) error) error {
	var (
		next, done atomic.Int64
		firstErr   atomic.Pointer[error]
		wg         sync.WaitGroup
	)
	if progress == nil {
		progress = func(int) {}
	}
	stop := make(chan struct{})
	ticker := clk.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		for {
			select {
			case <-stop:
				return
			case <-ticker.C():
				progress(int(done.Load()))
			}
		}
	}()
	for range max(1, workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || firstErr.Load() != nil || ctx.Err() != nil {
					return
				}
				if err := op(ctx, i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-tickerDone
	progress(int(done.Load()))
	if e := firstErr.Load(); e != nil {
		return *e
	}
	return ctx.Err()
}

// Paced calls op rate times per second until ctx ends, each call in its
// own goroutine with at most maxInflight at once: the schedule does not
// wait for slow calls (a closed loop would hide the latency it measures by
// slowing down), and a slot with maxInflight calls still out is counted as
// skipped. i numbers the calls from 0. Paced returns once every call it
// started has returned.
func Paced(ctx context.Context, clk clock.Clock, rate float64, maxInflight int, op func(ctx context.Context, i int)) (skipped int) {
	if rate <= 0 {
		<-ctx.Done()
		return 0
	}
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, max(1, maxInflight))
	var wg sync.WaitGroup
	defer wg.Wait()
	start := clk.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := due.Sub(clk.Now()); d > 0 {
			t := clk.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return skipped
			case <-t.C():
			}
		} else if ctx.Err() != nil {
			return skipped
		}
		select {
		case sem <- struct{}{}:
		default:
			skipped++
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			op(ctx, i)
		})
	}
}
