package lab

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// PodStartup watches a scenario's pods and records, per pod, when it was
// created (creationTimestamp), when the watch first saw it, saw it bound and
// saw it Running. Startup latency is the upstream SLI: creationTimestamp to
// the first Running seen by the watch. creationTimestamp has whole seconds
// only, so that figure is up to 1s high; the watch-only figure (first seen →
// Running seen, both on the bench's clock) is the sub-second view.
type PodStartup struct {
	Clock clock.WithTicker

	mu      sync.Mutex
	pods    map[types.UID]*podTimes
	running int
	samples []StartupSample
	points  []RunningPoint
	// lastRunningAt is when a pod last turned Running; zero before any.
	lastRunningAt time.Time
	// recent are the last SLI values, for a cheap progress figure.
	recent     [recentStartups]float64
	recentNext int
}

// recentStartups is how many startups RecentP99 looks at.
const recentStartups = 1000

type podTimes struct {
	created, seen, bound time.Time
	started, runningNow  bool
}

// StartupSample is one pod's startup, recorded when it was seen Running.
type StartupSample struct {
	At time.Time
	// SLI is creationTimestamp → Running seen; Watch is first seen →
	// Running seen; Schedule is first seen → seen bound. Seconds.
	SLI, Watch, Schedule float64
}

// RunningPoint is the number of the scenario's pods at one time.
type RunningPoint struct {
	At      time.Time `json:"t"`
	Running int       `json:"running"`
	Pods    int       `json:"pods"`
}

// NewPodStartup returns an empty tracker using clk.
func NewPodStartup(clk clock.WithTicker) *PodStartup {
	return &PodStartup{Clock: clk, pods: map[types.UID]*podTimes{}}
}

// Observe records the pod's state as the watch delivers it.
func (s *PodStartup) Observe(p *corev1.Pod) {
	now := s.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.pods[p.UID]
	if !ok {
		t = &podTimes{created: p.CreationTimestamp.Time, seen: now}
		s.pods[p.UID] = t
	}
	if p.Spec.NodeName != "" && t.bound.IsZero() {
		t.bound = now
	}
	running := p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
	switch {
	case running && !t.runningNow:
		s.running++
	case !running && t.runningNow:
		s.running--
	}
	t.runningNow = running
	if running && !t.started {
		t.started = true
		bound := t.bound
		if bound.IsZero() {
			bound = now
		}
		sample := StartupSample{At: now, SLI: now.Sub(t.created).Seconds(), Watch: now.Sub(t.seen).Seconds(), Schedule: bound.Sub(t.seen).Seconds()}
		s.samples = append(s.samples, sample)
		s.recent[s.recentNext%recentStartups] = sample.SLI
		s.recentNext++
		s.lastRunningAt = now
	}
}

// Forget records a pod's deletion.
func (s *PodStartup) Forget(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.pods[p.UID]; ok {
		if t.runningNow {
			s.running--
		}
		delete(s.pods, p.UID)
	}
}

// Current is the pod and Running counts now, without recording them.
func (s *PodStartup) Current() RunningPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return RunningPoint{At: s.Clock.Now(), Running: s.running, Pods: len(s.pods)}
}

// Sample appends the current counts to the series.
func (s *PodStartup) Sample() RunningPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := RunningPoint{At: s.Clock.Now(), Running: s.running, Pods: len(s.pods)}
	s.points = append(s.points, p)
	return p
}

// Points returns the recorded counts.
func (s *PodStartup) Points() []RunningPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RunningPoint(nil), s.points...)
}

// Samples returns every startup recorded so far, in the order seen.
func (s *PodStartup) Samples() []StartupSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StartupSample(nil), s.samples...)
}

// RecentP99 is the SLI p99 of the last 1,000 pods that turned Running;
// NaN before any did.
func (s *PodStartup) RecentP99() float64 {
	s.mu.Lock()
	v := append([]float64(nil), s.recent[:min(s.recentNext, recentStartups)]...)
	s.mu.Unlock()
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	return QuantileSorted(v, 0.99)
}

// Stalled is how long pods have been waiting with none turning Running:
// zero while none waits. It is what tells a stuck run from a slow one.
func (s *PodStartup) Stalled() time.Duration {
	now := s.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldestWaiting time.Time
	for _, t := range s.pods {
		if !t.started && (oldestWaiting.IsZero() || t.seen.Before(oldestWaiting)) {
			oldestWaiting = t.seen
		}
	}
	if oldestWaiting.IsZero() {
		return 0
	}
	since := oldestWaiting
	if s.lastRunningAt.After(since) {
		since = s.lastRunningAt
	}
	return now.Sub(since)
}

// Run watches pods matching selector in every namespace through cs and
// samples the counts every interval until ctx ends. The informer keeps
// only what the tracker needs of each pod, so 10^5 pods cost megabytes,
// not gigabytes. It returns once ctx ends; synced is closed when the
// initial list has been delivered.
func (s *PodStartup) Run(ctx context.Context, cs kubernetes.Interface, selector string, interval time.Duration, synced chan<- struct{}) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = selector
	}), informers.WithTransform(slimPod))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.Observe(obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { s.Observe(obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				s.Forget(p)
			}
		},
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) && synced != nil {
		close(synced)
	}
	t := s.Clock.NewTicker(interval)
	defer t.Stop()
	for {
		s.Sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// slimPod keeps the fields PodStartup reads.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID,
			ResourceVersion: p.ResourceVersion, CreationTimestamp: p.CreationTimestamp, DeletionTimestamp: p.DeletionTimestamp},
		Spec:   corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}, nil
}

// PodStartupSummary is startup latency over a set of pods, in seconds.
type PodStartupSummary struct {
	// SLI is creationTimestamp → Running seen by the watch: the upstream
	// SLI, up to 1s high because creationTimestamp has whole seconds.
	SLI Latencies `json:"sli"`
	// Watch is first seen → Running seen, both on the bench's clock.
	Watch Latencies `json:"watch"`
	// Schedule is first seen → seen bound to a node.
	Schedule Latencies `json:"schedule"`
}

// SummarizeStartup reduces the samples seen Running in [from, to].
func SummarizeStartup(samples []StartupSample, from, to time.Time) PodStartupSummary {
	var sli, watch, sched []float64
	for _, s := range samples {
		if s.At.Before(from) || s.At.After(to) {
			continue
		}
		sli, watch, sched = append(sli, s.SLI), append(watch, s.Watch), append(sched, s.Schedule)
	}
	return PodStartupSummary{SLI: SummarizeLatencies(sli), Watch: SummarizeLatencies(watch), Schedule: SummarizeLatencies(sched)}
}

// StartupPoint is the startup latency of the pods that turned Running in
// one interval ending at At.
type StartupPoint struct {
	At      time.Time `json:"t"`
	Started int       `json:"started"`
	P50     float64   `json:"p50Seconds"`
	P90     float64   `json:"p90Seconds"`
	P99     float64   `json:"p99Seconds"`
}

// StartupOverTime buckets the samples by the time they turned Running, one
// point per step from t0.
func StartupOverTime(samples []StartupSample, t0 time.Time, step time.Duration) []StartupPoint {
	if step <= 0 || len(samples) == 0 {
		return nil
	}
	buckets := map[int64][]float64{}
	for _, s := range samples {
		i := int64(s.At.Sub(t0) / step)
		buckets[i] = append(buckets[i], s.SLI)
	}
	idx := make([]int64, 0, len(buckets))
	for i := range buckets {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	out := make([]StartupPoint, 0, len(idx))
	for _, i := range idx {
		v := buckets[i]
		sort.Float64s(v)
		out = append(out, StartupPoint{At: t0.Add(time.Duration(i+1) * step), Started: len(v),
			P50: QuantileSorted(v, 0.5), P90: QuantileSorted(v, 0.9), P99: QuantileSorted(v, 0.99)})
	}
	return out
}
