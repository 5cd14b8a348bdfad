package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
)

const (
	failoverNS         = "myriad-bench-failover"
	failoverDeployment = "failover"
)

// failoverComponents are the leader-elected components the scenario can
// kill, with the Lease each holds in kube-system.
var failoverComponents = map[string]string{
	"kube-controller-manager": "kube-controller-manager",
	"kube-scheduler":          "kube-scheduler",
	"myriad-scheduler":        "myriad-scheduler",
}

type failoverOptions struct {
	cluster      soakOptions
	component    string
	rounds       int
	replicas     int
	roundTimeout time.Duration
	signal       string
}

func newBenchFailoverCommand() *cobra.Command {
	var o failoverOptions
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Kill a leader-elected component and time until its work resumes",
		Long: `Start a cluster of --nodes simulated nodes and a Deployment scaled to 0, then
run a control round (scale to --replicas without a kill) and --rounds
rounds that kill the --component process holding its leader Lease
(kube-controller-manager, kube-scheduler, or myriad-scheduler, which runs
the cluster with 'myriad up --scheduler myriad') and scale the Deployment
right after. Each round times, from the kill: the supervisor's restart, the
new leader in the Lease, the component's first work (the ReplicaSet scaled;
for a scheduler, the first pod bound), the first pod, all pods Running; then
scales back to 0. Writes result.json and report.html to --out and exits
non-zero unless every round's pods all ran within --round-timeout.`,
		Example: `  myriad bench failover --component kube-controller-manager --rounds 3 --out /tmp/fo
  myriad bench failover --component kube-scheduler --rounds 1 --nodes 5 --replicas 5 --out /tmp/fo-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			return runFailover(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.component, "component", "kube-controller-manager", "what to kill: kube-controller-manager, kube-scheduler or myriad-scheduler")
	f.IntVar(&o.rounds, "rounds", 3, "rounds that kill the component (after one control round)")
	f.IntVar(&o.replicas, "replicas", 20, "replicas the Deployment is scaled to in each round")
	f.DurationVar(&o.roundTimeout, "round-timeout", 3*time.Minute, "longest a round may take until all pods run, and its scale-down")
	f.StringVar(&o.signal, "signal", "KILL", "how the component is stopped: KILL (a crash; the Lease is not released) or TERM")
	addLabClusterFlags(cmd, &o.cluster, 10, "simulated nodes the pods run on")
	return cmd
}

func (o failoverOptions) validate() error {
	if err := validateClusterFlags(o.cluster); err != nil {
		return err
	}
	if _, ok := failoverComponents[o.component]; !ok {
		return fmt.Errorf("--component must be kube-controller-manager, kube-scheduler or myriad-scheduler, got %q", o.component)
	}
	switch {
	case o.rounds < 1 || o.rounds > 100:
		return fmt.Errorf("--rounds must be between 1 and 100, got %d", o.rounds)
	case o.replicas < 1 || o.replicas > 10000:
		return fmt.Errorf("--replicas must be between 1 and 10000, got %d", o.replicas)
	case o.roundTimeout < 30*time.Second:
		return fmt.Errorf("--round-timeout must be at least 30s, got %s", o.roundTimeout)
	case o.cluster.nodes < 1:
		return fmt.Errorf("--nodes must be at least 1: the pods need somewhere to run, got %d", o.cluster.nodes)
	}
	_, err := parseSignal("--signal", o.signal)
	return err
}

// failover is one run of the scenario.
type failover struct {
	o     failoverOptions
	con   *lab.Console
	lc    *labCluster
	sig   syscall.Signal
	lease string
	watch *failoverWatch
	stopW context.CancelFunc
}

func runFailover(cmd *cobra.Command, o failoverOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, dataDir, closeLog, err := labOutput(o.cluster.out, o.cluster.dataDir)
	if err != nil {
		return err
	}
	defer closeLog()
	sig, _ := parseSignal("--signal", o.signal)
	f := &failover{o: o, con: lab.NewConsole(out), sig: sig, lease: failoverComponents[o.component]}
	in := lab.FailoverInput{Component: o.component, Lease: "kube-system/" + f.lease}
	in.Info = lab.NewRunInfo("failover", lab.ThisMachine(controlplane.KubernetesVersion), failoverParameters(o, dataDir), time.Now())
	stoppedEarly(out, f.con, &in.Info, f.run(ctx, dataDir, &in))
	if f.stopW != nil {
		f.stopW()
	}
	endLab(out, &in.Info, f.lc)
	res := lab.BuildFailoverResult(in)
	path, err := lab.WriteFailoverReport(outDir, res)
	rows := lab.FailoverRows(res)
	if res.FirstWork.Mean != nil {
		rows = append(rows, []string{fmt.Sprintf("kill → first work: mean %.1fs over %d rounds (Lease duration %s)", *res.FirstWork.Mean, res.FirstWork.Count, fmtSeconds(res.LeaseDurationSeconds))})
	}
	return reportLab(out, outDir, path, err, rows, res.Verdict)
}

func (f *failover) run(ctx context.Context, dataDir string, in *lab.FailoverInput) error {
	o := f.o
	lc, err := startLabCluster(ctx, o.cluster, dataDir, f.con, func(up *controlplane.Options) {
		if o.component == "myriad-scheduler" {
			up.Scheduler = "myriad"
		}
	})
	f.lc = lc
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if _, ok := lc.Supervisor.Pids()[o.component]; !ok {
		return fmt.Errorf("the cluster runs no %s", o.component)
	}
	if err := ensureNamespaces(ctx, lc.cs, failoverNS); err != nil {
		return err
	}
	if err := waitDefaultServiceAccount(ctx, lc.cs, failoverNS); err != nil {
		return err
	}
	if _, err := lc.cs.AppsV1().Deployments(failoverNS).Create(ctx, failoverDeploymentObject(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create deployment: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	f.stopW = cancel
	if f.watch, err = startFailoverWatch(ctx, wctx, lc, f.lease, int32(o.replicas)); err != nil {
		return err
	}
	for r := 0; r <= o.rounds; r++ {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before round %d", r)
		}
		ri, err := f.round(ctx, r)
		ri.Round = r
		if err != nil {
			ri.Err = err.Error()
		}
		in.Rounds = append(in.Rounds, ri)
		if d := f.watch.leaseDuration(); d != nil {
			in.LeaseDurationSeconds = d
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	return nil
}

// round 0 is the control: scale without a kill. Every round ends with the
// Deployment back at 0 and its pods gone.
func (f *failover) round(ctx context.Context, r int) (lab.FailoverRoundInput, error) {
	o, lc, con := f.o, f.lc, f.con
	kill := r > 0
	label := "control"
	if kill {
		label = fmt.Sprintf("%d/%d (kill %s)", r, o.rounds, o.component)
	}
	holder, err := f.watch.waitFreshLease(ctx, 2*time.Minute)
	if err != nil {
		return lab.FailoverRoundInput{Killed: kill}, fmt.Errorf("no live leader before the round: %w", err)
	}
	in := &lab.FailoverRoundInput{Killed: kill, OldHolder: holder, Replicas: o.replicas}
	rctx, cancel := context.WithTimeout(ctx, o.roundTimeout)
	defer cancel()
	f.watch.begin(in)
	in.Start = time.Now()
	if kill {
		pid, err := lc.signal(o.component, f.sig)
		if err != nil {
			f.watch.end()
			return *in, err
		}
		go func() {
			if t, err := lc.waitRestarted(rctx, o.component, pid, nil); err == nil {
				f.watch.set(func(in *lab.FailoverRoundInput) { in.Restarted = &t })
			}
		}()
	}
	err = scaleDeployment(rctx, lc, o.replicas)
	f.watch.set(func(in *lab.FailoverRoundInput) { in.ScaledAt = time.Now() })
	if err == nil {
		err = f.watch.waitAllRunning(rctx, func(s string) {
			con.Progress(fmt.Sprintf("round %s: %s after %s", label, s, map[bool]string{true: "the kill", false: "the scale"}[kill]))
		})
	}
	con.EndProgress()
	result := f.watch.end()
	if err != nil {
		return result, err
	}
	fmt.Fprintf(con, "round %s: all %d pods Running %.1fs after %s\n", label, o.replicas, result.AllRunning.Sub(result.Start).Seconds(), map[bool]string{true: "the kill", false: "the scale"}[kill])
	dctx, dcancel := context.WithTimeout(ctx, o.roundTimeout)
	defer dcancel()
	if err := scaleDeployment(dctx, lc, 0); err != nil {
		return result, fmt.Errorf("scale back to 0: %w", err)
	}
	if err := f.watch.waitNoPods(dctx, func(n int) { con.Progress(fmt.Sprintf("round %s: scaling back to 0, %d pods left", label, n)) }); err != nil {
		con.EndProgress()
		return result, fmt.Errorf("scale back to 0: %w", err)
	}
	con.EndProgress()
	return result, nil
}

func scaleDeployment(ctx context.Context, lc *labCluster, replicas int) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := lc.cs.AppsV1().Deployments(failoverNS).Patch(ctx, failoverDeployment, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("scale deployment to %d: %w", replicas, err)
	}
	return nil
}

func failoverDeploymentObject() *appsv1.Deployment {
	zero32, zero, no := int32(0), int64(0), false
	labels := map[string]string{"app": failoverDeployment}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: failoverDeployment, Namespace: failoverNS},
		Spec: appsv1.DeploymentSpec{
			Replicas: &zero32,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &zero,
					AutomountServiceAccountToken:  &no,
					Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
				},
			},
		},
	}
}

// waitDefaultServiceAccount waits for the namespace's default
// ServiceAccount, without which pods are rejected at admission.
func waitDefaultServiceAccount(ctx context.Context, cs kubernetes.Interface, ns string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s has no default ServiceAccount after 2m: %w", ns, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// failoverWatch follows the Lease, the ReplicaSets and the pods with
// informers and stamps each round's steps as they are first seen.
type failoverWatch struct {
	lease, rs, pods cache.SharedIndexInformer
	leaseName       string
	replicas        int32
	scheduler       bool

	mu    sync.Mutex
	round *lab.FailoverRoundInput
}

func startFailoverWatch(ctx, wctx context.Context, lc *labCluster, leaseName string, replicas int32) (*failoverWatch, error) {
	w := &failoverWatch{leaseName: leaseName, replicas: replicas, scheduler: leaseName != "kube-controller-manager"}
	lf := informers.NewSharedInformerFactoryWithOptions(lc.cs, 0, informers.WithNamespace("kube-system"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + leaseName }))
	nf := informers.NewSharedInformerFactoryWithOptions(lc.cs, 0, informers.WithNamespace(failoverNS))
	w.lease, w.rs, w.pods = lf.Coordination().V1().Leases().Informer(), nf.Apps().V1().ReplicaSets().Informer(), nf.Core().V1().Pods().Informer()
	for inf, fn := range map[cache.SharedIndexInformer]func(any){w.lease: w.onLease, w.rs: w.onReplicaSet, w.pods: w.onPod} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: fn, UpdateFunc: func(_, o any) { fn(o) }}); err != nil {
			return nil, err
		}
	}
	lf.Start(wctx.Done())
	nf.Start(wctx.Done())
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), w.lease.HasSynced, w.rs.HasSynced, w.pods.HasSynced) {
		return nil, errors.New("the bench's watches did not sync within 2m")
	}
	return w, nil
}

func (w *failoverWatch) begin(r *lab.FailoverRoundInput) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.round = r
}

// end stops stamping and returns the round as recorded.
func (w *failoverWatch) end() lab.FailoverRoundInput {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := *w.round
	w.round = nil
	return r
}

func (w *failoverWatch) set(f func(*lab.FailoverRoundInput)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.round != nil {
		f(w.round)
	}
}

// stamp sets *at to now if it is unset and a round is running.
func (w *failoverWatch) stamp(at func(*lab.FailoverRoundInput) **time.Time) {
	now := time.Now()
	w.set(func(r *lab.FailoverRoundInput) {
		if p := at(r); *p == nil {
			*p = &now
		}
	})
}

func (w *failoverWatch) onLease(obj any) {
	l, ok := obj.(*coordinationv1.Lease)
	if !ok || l.Spec.HolderIdentity == nil {
		return
	}
	holder := *l.Spec.HolderIdentity
	now := time.Now()
	w.set(func(r *lab.FailoverRoundInput) {
		if r.LeaseTaken != nil || holder == "" || holder == r.OldHolder {
			return
		}
		r.LeaseTaken, r.NewHolder = &now, holder
		if l.Spec.AcquireTime != nil {
			t := l.Spec.AcquireTime.Time
			r.LeaseAcquireTime = &t
		}
	})
}

func (w *failoverWatch) onReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok || w.scheduler || rs.Spec.Replicas == nil || *rs.Spec.Replicas != w.replicas {
		return
	}
	w.stamp(func(r *lab.FailoverRoundInput) **time.Time { return &r.FirstWork })
}

func (w *failoverWatch) onPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.DeletionTimestamp != nil {
		return
	}
	w.stamp(func(r *lab.FailoverRoundInput) **time.Time { return &r.FirstPod })
	if p.Spec.NodeName != "" {
		w.stamp(func(r *lab.FailoverRoundInput) **time.Time { return &r.FirstBound })
		if w.scheduler {
			w.stamp(func(r *lab.FailoverRoundInput) **time.Time { return &r.FirstWork })
		}
	}
}

// counts are the live pods, bound and Running, in the informer's cache.
func (w *failoverWatch) counts() (pods, bound, running int) {
	for _, obj := range w.pods.GetStore().List() {
		p := obj.(*corev1.Pod)
		if p.DeletionTimestamp != nil {
			continue
		}
		pods++
		if p.Spec.NodeName != "" {
			bound++
		}
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	return pods, bound, running
}

func (w *failoverWatch) waitAllRunning(ctx context.Context, progress func(string)) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	for {
		pods, bound, running := w.counts()
		if running >= int(w.replicas) {
			w.stamp(func(r *lab.FailoverRoundInput) **time.Time { return &r.AllRunning })
			return nil
		}
		w.mu.Lock()
		leader := "old leader's Lease"
		if w.round != nil && w.round.LeaseTaken != nil {
			leader = "new leader " + w.round.NewHolder
		}
		w.mu.Unlock()
		progress(fmt.Sprintf("%s | %s | pods %d, bound %d, Running %d of %d", time.Since(start).Round(100*time.Millisecond), leader, pods, bound, running, w.replicas))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d pods Running after %s: %w", running, w.replicas, time.Since(start).Round(time.Second), ctx.Err())
		case <-t.C:
		}
	}
}

func (w *failoverWatch) waitNoPods(ctx context.Context, progress func(int)) error {
	for {
		n := len(w.pods.GetStore().List())
		progress(n)
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still present: %w", n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitFreshLease waits until the Lease has a holder that renewed it
// recently (a live leader) and returns the holder.
func (w *failoverWatch) waitFreshLease(ctx context.Context, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		holder, renewed := "", time.Time{}
		for _, obj := range w.lease.GetStore().List() {
			l := obj.(*coordinationv1.Lease)
			if l.Spec.HolderIdentity != nil && l.Spec.RenewTime != nil {
				holder, renewed = *l.Spec.HolderIdentity, l.Spec.RenewTime.Time
			}
		}
		if holder != "" && time.Since(renewed) < 5*time.Second {
			return holder, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("lease kube-system/%s: holder %q last renewed %s ago", w.leaseName, holder, time.Since(renewed).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (w *failoverWatch) leaseDuration() *float64 {
	for _, obj := range w.lease.GetStore().List() {
		if l := obj.(*coordinationv1.Lease); l.Spec.LeaseDurationSeconds != nil {
			v := float64(*l.Spec.LeaseDurationSeconds)
			return &v
		}
	}
	return nil
}

func failoverParameters(o failoverOptions, dataDir string) map[string]string {
	return clusterParameters(map[string]string{
		"component": o.component,
		"lease":     "kube-system/" + failoverComponents[o.component],
		"rounds":    fmt.Sprintf("1 control + %d with a kill", o.rounds),
		"replicas":  strconv.Itoa(o.replicas) + " (Deployment scaled 0 → replicas right after the kill, back to 0 after)",
		"signal":    strings.ToUpper(o.signal),
		"restart":   "the supervisor of myriad up starts the killed process again after 1s",
		"timeout":   o.roundTimeout.String() + " per round",
	}, o.cluster, dataDir)
}

func fmtSeconds(v *float64) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.0fs", *v)
}
