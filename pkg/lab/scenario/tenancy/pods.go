package tenancy

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// RunLabel marks every pod a run creates with the run's id.
const RunLabel = "bench.myriad.dev/tenancy-run"

// target is where some of a phase's pods go: a namespace of the cluster
// (direct) or of a tenant, through that cluster's or tenant's client.
type target struct {
	Name      string // "direct/<namespace>" or the tenant's name
	Client    kubernetes.Interface
	Namespace string
}

// job is one pod to create: in target T, the N-th, not before At.
type job struct {
	T  int
	N  int
	At time.Duration
}

// podClock records, per pod, when its create was sent and when a watch
// first saw it Running: the latency a user of that (virtual) cluster sees.
type podClock struct {
	clk     clock.Clock
	through bool // pods are created through tenants
	mu      sync.Mutex
	created map[string]time.Time
	running map[string]time.Time
	failed  int
	lastErr string
	// The stages (stages.go): stamps on the cluster that runs the pods,
	// and when a tenant's pod was bound.
	cluster     map[string]*stamps
	tenantBound map[string]time.Time
}

func newPodClock(clk clock.Clock, through bool) *podClock {
	return &podClock{clk: clk, through: through, created: map[string]time.Time{}, running: map[string]time.Time{},
		cluster: map[string]*stamps{}, tenantBound: map[string]time.Time{}}
}

func podKey(t int, name string) string { return fmt.Sprintf("%d/%s", t, name) }

// watch starts one pod informer per target (the run's pods only) and
// records Running; it stops with ctx.
func (pc *podClock) watch(ctx context.Context, targets []target, runID string) error {
	for i, t := range targets {
		err := watchRunPods(ctx, t.Client, t.Namespace, runID, t.Name, func(p *corev1.Pod) {
			if pc.through && p.Spec.NodeName != "" {
				pc.stampTenantBound(podKey(i, p.Name))
			}
			if p.Status.Phase == corev1.PodRunning {
				pc.sawRunning(podKey(i, p.Name))
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// watchRunPods calls seen with every add and update of the run's pods in
// namespace ("": all) of one cluster or tenant, once its cache has synced;
// it stops with ctx.
func watchRunPods(ctx context.Context, c kubernetes.Interface, namespace, runID, what string, seen func(*corev1.Pod)) error {
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = RunLabel + "=" + runID }))
	inf := factory.Core().V1().Pods().Informer()
	handle := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			seen(p)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: handle, UpdateFunc: func(_, o any) { handle(o) }}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("pod watch of %s did not sync", what)
	}
	return nil
}

func (pc *podClock) sawRunning(key string) {
	now := pc.clk.Now()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if _, ok := pc.running[key]; !ok {
		pc.running[key] = now
	}
}

// create sends jobs through workers, each create paced by limiter (nil:
// not paced) and not before its At after began.
func (pc *podClock) create(ctx context.Context, targets []target, jobs []job, workers int, limiter flowcontrol.RateLimiter, runID string, began time.Time) {
	ch := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range ch {
				if wait := began.Add(j.At).Sub(pc.clk.Now()); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-pc.clk.After(wait):
					}
				}
				if limiter != nil {
					if err := limiter.Wait(ctx); err != nil {
						return
					}
				}
				pc.createOne(ctx, targets[j.T], j, runID)
			}
		})
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
}

func (pc *podClock) createOne(ctx context.Context, t target, j job, runID string) {
	name := fmt.Sprintf("p-%05d", j.N)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{RunLabel: runID}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}}},
	}
	key := podKey(j.T, name)
	sent := pc.clk.Now()
	_, err := t.Client.CoreV1().Pods(t.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if err != nil {
		pc.failed++
		pc.lastErr = err.Error()
		return
	}
	pc.created[key] = sent
}

// counts says how many pods were created and how many of those run.
func (pc *podClock) counts() (created, running, failed int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for k := range pc.created {
		if _, ok := pc.running[k]; ok {
			running++
		}
	}
	return len(pc.created), running, pc.failed
}

// waitRunning waits until want pods run, printing progress, or the
// timeout passes.
func (pc *podClock) waitRunning(ctx context.Context, con *lab.Console, what string, want int, timeout time.Duration, began time.Time) error {
	deadline := began.Add(timeout)
	for {
		created, running, failed := pc.counts()
		el := pc.clk.Since(began)
		con.Progress(fmt.Sprintf("%s: created %d, Running %d/%d, failed %d | %s elapsed", what, created, running, want, failed, el.Round(time.Second)))
		if running+failed >= want {
			con.EndProgress()
			return nil
		}
		if pc.clk.Now().After(deadline) {
			con.EndProgress()
			return fmt.Errorf("%s: only %d of %d pods Running after %s", what, running, want, timeout)
		}
		select {
		case <-ctx.Done():
			con.EndProgress()
			return ctx.Err()
		case <-pc.clk.After(500 * time.Millisecond):
		}
	}
}

// outcome reduces the clock to latencies per target and the span from
// the first create to the last pod Running.
func (pc *podClock) outcome(keep func(t int) bool) Outcome {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	o := Outcome{Failed: pc.failed, LastError: pc.lastErr}
	var all []float64
	var first, last time.Time
	for k, sent := range pc.created {
		var t int
		if _, err := fmt.Sscanf(k, "%d/", &t); err != nil || !keep(t) {
			continue
		}
		o.Created++
		if first.IsZero() || sent.Before(first) {
			first = sent
		}
		if run, ok := pc.running[k]; ok {
			all = append(all, run.Sub(sent).Seconds())
			if run.After(last) {
				last = run
			}
		}
	}
	o.Running = len(all)
	o.Latency = lab.SummarizeLatencies(all)
	o.Stages = pc.stages(keep, pc.through)
	if !first.IsZero() && !last.IsZero() {
		o.TotalSeconds = lab.Some(last.Sub(first).Seconds())
		o.PodsPerSecond = lab.Some(float64(o.Running) / max(last.Sub(first).Seconds(), 1e-3))
	}
	return o
}

// Outcome is one phase's (or one group's) pods.
type Outcome struct {
	Created   int    `json:"created"`
	Running   int    `json:"running"`
	Failed    int    `json:"failed"`
	LastError string `json:"lastError,omitempty"`
	// Latency is create sent → watch sees Running, in seconds.
	Latency lab.Latencies `json:"latency"`
	// Stages split Latency into its legs; nil if the cluster's pods
	// were not watched.
	Stages *Stages `json:"stages,omitempty"`
	// TotalSeconds is the first create to the last pod Running.
	TotalSeconds  *float64 `json:"totalSeconds,omitempty"`
	PodsPerSecond *float64 `json:"podsPerSecond,omitempty"`
}
