package broadcastjob

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/manager"
)

const (
	jobName   = "bench"
	container = "task"
)

// Scenario is `myriad bench broadcastjob`.
type Scenario struct {
	O Options
	// Namespace is where the jobs live; empty picks a fresh one.
	Namespace string
}

var _ lab.Scenario = (*Scenario)(nil)

// Name is the command's name.
func (s *Scenario) Name() string { return "broadcastjob" }

type run struct {
	o      Options
	env    lab.Env
	con    *lab.Console
	r      *rig.Rig
	cs     kubernetes.Interface
	c      client.Client
	ns     string
	pods   *Tracker
	apis   []*lab.Scraper
	bgCtx  context.Context
	stopBg context.CancelFunc
	bg     sync.WaitGroup
	in     Input
}

// Run drives the phases and returns the result, also when a phase (or the
// cluster) stopped the run.
func (s *Scenario) Run(ctx context.Context, env lab.Env) lab.Result {
	o := s.O
	ns := s.Namespace
	if ns == "" {
		ns = "myriad-bench-broadcastjob-" + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
	}
	x := &run{o: o, env: env, con: env.Console, ns: ns, pods: NewTracker(env.Clock)}
	x.in = Input{Nodes: o.Rig.Nodes, Parallelism: o.Parallelism, RunFor: o.RunFor}
	x.in.Info = lab.NewRunInfo(s.Name(), lab.ThisMachine(controlplane.KubernetesVersion), parameters(o, ns), env.Clock.Now())
	x.bgCtx, x.stopBg = context.WithCancel(context.Background())
	x.in.Info.StopEarly(x.con, x.run(ctx))
	x.stopBg()
	x.bg.Wait()
	if x.r != nil {
		x.r.StopRecording()
		x.in.Info.Finish(env.Clock.Now(), x.r.Processes())
		x.r.Stop()
	} else {
		x.in.Info.Finish(env.Clock.Now(), nil)
	}
	return Build(x.in)
}

func (x *run) run(ctx context.Context) error {
	o := x.o
	// Pods that are not restarted always run for the simulator's job
	// duration, then exit 0: the image catalogue's entrypoints are for
	// containers restarted always, which a BroadcastJob's never are.
	o.Rig.NodeArgs = append(o.Rig.NodeArgs, "--job-duration", o.RunFor.String())
	x.con.Printf("starting a cluster of %d nodes in %s", o.Rig.Nodes, o.Rig.DataDir)
	r, err := rig.StartOrAttach(ctx, o.Rig, x.con)
	x.r = r
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	x.in.StartupSeconds = lab.Some(x.env.Clock.Since(x.in.Info.StartedAt).Seconds())
	x.con.Printf("all %d nodes Ready after %s", o.Rig.Nodes, x.env.Clock.Since(x.in.Info.StartedAt).Round(time.Second))
	scheme, err := manager.Scheme()
	if err != nil {
		return err
	}
	if x.c, err = r.CRDClient(scheme); err != nil {
		return err
	}
	x.cs = r.Client
	if t, err := r.Scrapers(); err != nil {
		x.con.Printf("warning: %v; API figures will be absent", err)
	} else {
		x.apis = t.APIServers
	}
	err = x.c.List(ctx, &v1beta1.BroadcastJobList{}, client.InNamespace("default"), client.Limit(1))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return errors.New("the cluster has no BroadcastJob API (apps.kruise.io/v1beta1)")
	} else if err != nil {
		return fmt.Errorf("list BroadcastJobs: %w", err)
	}
	if err := r.Namespaces(ctx, x.ns); err != nil {
		return err
	}
	if err := x.watch(ctx); err != nil {
		return err
	}
	kinds := []string{Broadcast}
	if o.Compare {
		kinds = append(kinds, UpstreamJob)
	}
	for i, kind := range kinds {
		p, err := x.phase(ctx, i, len(kinds), kind)
		x.in.Phases = append(x.in.Phases, p)
		if err != nil {
			for _, k := range kinds[i+1:] {
				x.in.Skipped = append(x.in.Skipped, fmt.Sprintf("phase %s: phase %s did not finish", k, kind))
			}
			return fmt.Errorf("phase %s: %w", kind, err)
		}
	}
	return nil
}

// watch starts the namespace's pod informer and returns once it synced.
func (x *run) watch(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(x.cs, 0, informers.WithNamespace(x.ns))
	inf := factory.Core().V1().Pods().Informer()
	// 10^4 pods: keep what the tracker reads, not every pod's managedFields.
	if err := inf.SetTransform(func(obj any) (any, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			p.ManagedFields = nil
		}
		return obj, nil
	}); err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { x.upsert(obj) },
		UpdateFunc: func(_, obj any) { x.upsert(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				x.pods.Delete(p)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(x.bgCtx.Done())
	x.bg.Go(func() {
		<-x.bgCtx.Done()
		factory.Shutdown()
	})
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), inf.HasSynced) {
		return errors.New("the pod watch did not sync within 2m")
	}
	return nil
}

func (x *run) upsert(obj any) {
	if p, ok := obj.(*corev1.Pod); ok {
		x.pods.Upsert(p)
	}
}

// phase creates the phase's job and waits until every pod succeeded and
// the job's status says so, with the API counters and process samples
// taken on both sides.
func (x *run) phase(ctx context.Context, i, total int, kind string) (PhaseInput, error) {
	clk := x.env.Clock
	nodes, err := x.r.ReadyNodeNames(ctx)
	p := PhaseInput{Kind: kind, Want: len(nodes), Nodes: nodes}
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	x.con.Printf("== phase %d/%d: %s — one pod on each of %d nodes, each running %s", i+1, total, kind, len(nodes), x.o.RunFor)
	before := x.tally(ctx)
	machineFrom, machineErr := lab.ReadMachineCPU("")
	p.ProcFrom = clk.Now()
	if x.r.Procs != nil {
		x.r.Procs.SampleOnce()
	}
	p.Start = x.pods.Begin(kind, len(nodes))
	if err = x.create(ctx, kind, len(nodes)); err == nil {
		p.Status, p.StatusDoneAt, err = x.wait(ctx, i+1, total, kind, p.Start, len(nodes))
	}
	p.End = clk.Now()
	x.con.EndProgress()
	p.Pods = x.pods.End()
	if x.r.Procs != nil {
		x.r.Procs.SampleOnce()
	}
	p.ProcTo = clk.Now()
	if machineTo, err := lab.ReadMachineCPU(""); err == nil && machineErr == nil {
		p.MachineCPUSeconds = ptr.To(machineTo - machineFrom)
	}
	if after := x.tally(ctx); before != nil && after != nil {
		p.API = after.Since(*before)
	}
	if err != nil {
		p.Err = err.Error()
		return p, err
	}
	x.con.Printf("  done in %.1fs: %d pods succeeded", p.StatusDoneAt.Sub(p.Start).Seconds(), p.Pods.Final.Succeeded)
	return p, nil
}

// template is both phases' pod: small requests, the catalogue's image
// with no command (its entrypoint exits), never restarted.
func template(kind string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{PhaseLabel: kind}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: container,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
		},
	}
}

func (x *run) create(ctx context.Context, kind string, nodes int) error {
	t := template(kind)
	t.Spec.Containers[0].Image = x.o.Image
	if kind == Broadcast {
		par, _ := x.o.ParallelismValue()
		bj := &v1beta1.BroadcastJob{
			ObjectMeta: metav1.ObjectMeta{Name: jobName, Namespace: x.ns},
			Spec: v1beta1.BroadcastJobSpec{Parallelism: &par, Template: t,
				CompletionPolicy: v1beta1.CompletionPolicy{Type: v1beta1.Always}},
		}
		if err := x.c.Create(ctx, bj); err != nil {
			return fmt.Errorf("create BroadcastJob %s/%s: %w", x.ns, jobName, err)
		}
		return nil
	}
	// The Job runs as many pods at once as the BroadcastJob may.
	par, _ := x.o.ParallelismValue()
	running, err := intstr.GetScaledValueFromIntOrPercent(&par, nodes, true)
	if err != nil {
		return fmt.Errorf("--parallelism: %w", err)
	}
	n, atOnce := int32(nodes), int32(min(max(running, 1), nodes))
	t.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{PhaseLabel: kind}},
			TopologyKey:   corev1.LabelHostname}}}}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: jobName, Namespace: x.ns},
		Spec:       batchv1.JobSpec{Completions: &n, Parallelism: &atOnce, BackoffLimit: ptr.To[int32](0), Template: t},
	}
	if _, err := x.cs.BatchV1().Jobs(x.ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create Job %s/%s: %w", x.ns, jobName, err)
	}
	return nil
}

// status reads the phase's job.
func (x *run) status(ctx context.Context, kind string) (StatusView, error) {
	if kind == Broadcast {
		bj := &v1beta1.BroadcastJob{}
		if err := x.c.Get(ctx, client.ObjectKey{Namespace: x.ns, Name: jobName}, bj); err != nil {
			return StatusView{}, err
		}
		s := bj.Status
		return StatusView{Phase: string(s.Phase), Desired: s.Desired, Active: s.Active, Succeeded: s.Succeeded, Failed: s.Failed,
			Complete: s.Phase == v1beta1.PhaseCompleted}, nil
	}
	j, err := x.cs.BatchV1().Jobs(x.ns).Get(ctx, jobName, metav1.GetOptions{})
	if err != nil {
		return StatusView{}, err
	}
	v := StatusView{Desired: ptr.Deref(j.Spec.Completions, 0), Active: j.Status.Active, Succeeded: j.Status.Succeeded, Failed: j.Status.Failed}
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			v.Complete, v.Phase = true, "Complete"
		}
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			v.Phase = "Failed"
		}
	}
	return v, nil
}

// wait samples the pods every second and reads the job's status every half
// second until every pod succeeded and the status says complete with all
// of them, the phase times out, or the run is interrupted.
func (x *run) wait(ctx context.Context, order, total int, kind string, start time.Time, want int) (StatusView, *time.Time, error) {
	clk := x.env.Clock
	timeout := clk.NewTimer(start.Add(x.o.PhaseTimeout).Sub(clk.Now()))
	defer timeout.Stop()
	tick := clk.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var (
		last     StatusView
		statusAt *time.Time
	)
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return last, nil, fmt.Errorf("interrupted after %s", clk.Since(start).Round(time.Second))
		case <-timeout.C():
			c := x.pods.Counts()
			return last, nil, fmt.Errorf("not done within --phase-timeout %s: %d created, %d have run, %d succeeded of %d; status %s succeeded %d of desired %d",
				x.o.PhaseTimeout, c.Created, c.Running, c.Succeeded, want, last.Phase, last.Succeeded, last.Desired)
		case <-tick.C():
		}
		s, err := x.status(ctx, kind)
		if err != nil {
			x.con.Printf("warning: reading the %s's status: %v", kind, err)
		} else {
			last = s
			if statusAt == nil && s.Complete && int(s.Succeeded) >= want {
				statusAt = ptr.To(clk.Now())
			}
		}
		var c Counts
		if n%2 == 0 {
			c = x.pods.Sample()
		} else {
			c = x.pods.Counts()
		}
		if statusAt != nil && c.Succeeded >= want {
			return last, statusAt, nil
		}
		if last.Failed > 0 || last.Phase == string(v1beta1.PhaseFailed) || last.Phase == "Failed" {
			return last, nil, fmt.Errorf("the %s failed: %d pods failed, status %s", kind, last.Failed, last.Phase)
		}
		el := clk.Since(start)
		rate := float64(c.Succeeded) / max(el.Seconds(), 0.001)
		eta := "-"
		if c.Succeeded > 0 && c.Succeeded < want {
			eta = time.Duration(float64(want-c.Succeeded) / rate * float64(time.Second)).Round(time.Second).String()
		}
		x.con.Progress(fmt.Sprintf("phase %d/%d %s: created %d/%d | have run %d | succeeded %d | status %s %d/%d | %s | ETA %s",
			order, total, kind, c.Created, want, c.Running, c.Succeeded, s.Phase, s.Succeeded, s.Desired, el.Round(time.Second), eta))
	}
}

// tally is the API servers' request counters now; nil when a scrape failed.
func (x *run) tally(ctx context.Context) *lab.APIRequestTally {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var fams []lab.Families
	for _, sc := range x.apis {
		f, err := sc.Scrape(ctx)
		if err != nil {
			x.in.ScrapeErrors = append(x.in.ScrapeErrors, err.Error())
			return nil
		}
		fams = append(fams, f)
	}
	if len(fams) == 0 {
		return nil
	}
	t := lab.TallyAPIRequests(fams...)
	return &t
}

func parameters(o Options, ns string) map[string]string {
	p := map[string]string{
		"cluster":          o.Rig.OwnCluster(),
		"nodes":            strconv.Itoa(o.Rig.Nodes),
		"parallelism":      o.Parallelism,
		"runFor":           o.RunFor.String(),
		"image":            o.Image + " (the simulated nodes run each pod for runFor, myriad nodes --job-duration, then exit 0)",
		"compare":          strconv.FormatBool(o.Compare),
		"pod":              "1 container, requests cpu 10m / memory 16Mi, restartPolicy Never, no service account token",
		"phaseTimeout":     o.PhaseTimeout.String(),
		"namespace":        ns,
		"doneWhen":         "every pod Succeeded (pod watch) and the job's status complete with succeeded = nodes (read every 0.5s)",
		"dataDir":          o.Rig.DataDir,
		"nodeMonitorGrace": o.Rig.NodeMonitorGracePeriod.String(),
		"command":          strings.Join(os.Args, " "),
	}
	return p
}
