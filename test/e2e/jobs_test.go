package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/manager"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// jobNodes is the size of the cluster TestJobs runs on.
const jobNodes = 5

// jobsEnv is what the BroadcastJob and AdvancedCronJob tests share.
type jobsEnv struct {
	t  *testing.T
	up *upProcess
	cs kubernetes.Interface
	c  client.Client
	ns string
}

// TestJobs runs OpenKruise-style BroadcastJob and AdvancedCronJob manifests
// on a small cluster: admission, one pod per node, nodes that become
// eligible while a job runs, FailFast and Pause, and cron runs of both job
// kinds. Forbid and Replace are covered with a fake clock in
// pkg/controllers/advancedcronjob, which a one-minute schedule would make
// slow here.
func TestJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	dataDir := filepath.Join(t.TempDir(), "jobs")
	up := startUp(t, dataDir, freePort(t), freePort(t), "--nodes", fmt.Sprint(jobNodes))
	defer up.stop(t)
	cs := up.client(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := "jobs"
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "default ServiceAccount", func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	e := &jobsEnv{up: up, cs: cs, c: c, ns: ns}
	run := func(name string, f func(e *jobsEnv)) {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					raw, _ := os.ReadFile(filepath.Join(up.dataDir, "logs", "myriad-manager.log"))
					lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
					t.Logf("myriad-manager.log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
					out, _ := e.kubectl("", "get", "broadcastjobs,advancedcronjobs,jobs,pods,nodes", "-o", "wide")
					t.Logf("objects:\n%s", out)
				}
			})
			e := *e
			e.t = t
			f(&e)
		})
	}
	run("rejected at admission naming the field", testJobsAdmission)
	run("broadcastjob runs one pod on every node and completes", testBroadcastJobEveryNode)
	run("broadcastjob FailFast", testBroadcastJobFailFast)
	run("broadcastjob Pause", testBroadcastJobPause)
	run("advancedcronjob creates broadcastjobs and jobs once per time", testAdvancedCronJob)
	run("broadcastjob reaches uncordoned and new nodes while active", testBroadcastJobLateNodes)
}

func (e *jobsEnv) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(e.up.dataDir, "kubeconfig"), "-n", e.ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *jobsEnv) apply(manifest string) {
	e.t.Helper()
	if out, err := e.kubectl(manifest, "apply", "-f", "-"); err != nil {
		e.t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// broadcastJobManifest is an OpenKruise v1alpha1 BroadcastJob whose pods
// run for run and exit with exitCode on the simulated nodes; extra lines go
// under spec.
func broadcastJobManifest(name, run string, exitCode int, extra string) string {
	m := fmt.Sprintf(`apiVersion: apps.kruise.io/v1alpha1
kind: BroadcastJob
metadata:
  name: %s
spec:
  template:
    metadata:
      annotations:
        %s: %q
        %s: %q
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
`, name, nodesim.RunDurationAnnotation, run, nodesim.ExitCodeAnnotation, fmt.Sprint(exitCode))
	if extra != "" {
		m += "  " + strings.ReplaceAll(strings.TrimSpace(extra), "\n", "\n  ") + "\n"
	}
	return m
}

func (e *jobsEnv) broadcastJob(name string) *v1beta1.BroadcastJob {
	e.t.Helper()
	j := &v1beta1.BroadcastJob{}
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, j); err != nil {
		e.t.Fatalf("get BroadcastJob %s: %v", name, err)
	}
	return j
}

// jobPods are the BroadcastJob's pods, by the node they run on.
func (e *jobsEnv) jobPods(job *v1beta1.BroadcastJob) (map[string][]corev1.Pod, error) {
	list, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: v1beta1.BroadcastJobControllerUIDLabel + "=" + string(job.UID)})
	if err != nil {
		return nil, err
	}
	out := map[string][]corev1.Pod{}
	for _, p := range list.Items {
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
	}
	return out, nil
}

func (e *jobsEnv) waitPhase(name string, phase v1beta1.BroadcastJobPhase, timeout time.Duration) *v1beta1.BroadcastJob {
	e.t.Helper()
	var job *v1beta1.BroadcastJob
	eventually(e.t, timeout, "BroadcastJob "+name+" "+string(phase), func() error {
		job = e.broadcastJob(name)
		if job.Status.Phase != phase {
			return fmt.Errorf("phase %q, status %+v", job.Status.Phase, job.Status)
		}
		return nil
	})
	return job
}

func testJobsAdmission(e *jobsEnv) {
	for _, c := range []struct{ manifest, want string }{
		{strings.Replace(broadcastJobManifest("always", "1s", 0, ""), "restartPolicy: Never", "restartPolicy: Always", 1),
			"spec.template.spec.restartPolicy"},
		{broadcastJobManifest("wide", "1s", 0, "parallelism: 150%"), "spec.parallelism"},
		{`apiVersion: apps.kruise.io/v1beta1
kind: AdvancedCronJob
metadata: {name: badcron}
spec:
  schedule: "*/1 * * *"
  template:
    broadcastJobTemplate:
      spec:
        template:
          spec:
            restartPolicy: Never
            containers: [{name: c, image: busybox}]
`, "spec.schedule"},
		{`apiVersion: apps.kruise.io/v1alpha1
kind: AdvancedCronJob
metadata: {name: badzone}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Atlantis
  template:
    jobTemplate:
      spec:
        template:
          spec:
            restartPolicy: Never
            containers: [{name: c, image: busybox}]
`, "spec.timeZone"},
		{`apiVersion: apps.kruise.io/v1beta1
kind: AdvancedCronJob
metadata: {name: notemplate}
spec:
  schedule: "0 3 * * *"
  template: {}
`, "spec.template"},
	} {
		out, err := e.kubectl(c.manifest, "apply", "-f", "-")
		if err == nil || !strings.Contains(out, c.want) {
			e.t.Errorf("want a rejection naming %s, got err %v:\n%s", c.want, err, out)
		}
	}
}

func testBroadcastJobEveryNode(e *jobsEnv) {
	e.apply(broadcastJobManifest("everywhere", "3s", 0, "completionPolicy: {type: Always}"))
	job := e.waitPhase("everywhere", v1beta1.PhaseCompleted, 2*time.Minute)
	if s := job.Status; s.Desired != jobNodes || s.Succeeded != jobNodes || s.Failed != 0 || s.Active != 0 || s.CompletionTime == nil {
		e.t.Errorf("status %+v, want desired = succeeded = %d", s, jobNodes)
	}
	pods, err := e.jobPods(job)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(pods) != jobNodes {
		e.t.Errorf("pods on %d nodes, want %d: %v", len(pods), jobNodes, pods)
	}
	for node, ps := range pods {
		if len(ps) != 1 || ps[0].Status.Phase != corev1.PodSucceeded {
			e.t.Errorf("node %s: %d pods (want one Succeeded)", node, len(ps))
		}
	}
	// The counts stay put after completion (kruise#2414).
	time.Sleep(3 * time.Second)
	if again := e.broadcastJob("everywhere"); again.Status.Succeeded != jobNodes || again.Status.Desired != jobNodes {
		e.t.Errorf("counts drifted after completion: %+v", again.Status)
	}
}

func testBroadcastJobFailFast(e *jobsEnv) {
	// Two pods at a time, each failing: the first failure fails the job
	// and no further pod is started.
	e.apply(broadcastJobManifest("failfast", "1s", 3, "parallelism: 2\nfailurePolicy: {type: FailFast}"))
	job := e.waitPhase("failfast", v1beta1.PhaseFailed, 2*time.Minute)
	var cond *v1beta1.JobCondition
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == v1beta1.JobFailed {
			cond = &job.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "PodFailed" || job.Status.Failed == 0 {
		e.t.Fatalf("status %+v, want a Failed condition for the failed pod", job.Status)
	}
	time.Sleep(3 * time.Second)
	pods, err := e.jobPods(job)
	if err != nil {
		e.t.Fatal(err)
	}
	total := 0
	for _, ps := range pods {
		total += len(ps)
	}
	if total > 2 {
		e.t.Errorf("%d pods after FailFast with parallelism 2, want at most 2", total)
	}
}

func testBroadcastJobPause(e *jobsEnv) {
	e.apply(broadcastJobManifest("pauser", "1s", 1, "parallelism: 1\nfailurePolicy: {type: Pause}"))
	job := e.waitPhase("pauser", v1beta1.PhasePaused, 2*time.Minute)
	if !job.Spec.Paused || job.Status.Failed != 1 {
		e.t.Fatalf("paused %v status %+v, want spec.paused and one failed pod", job.Spec.Paused, job.Status)
	}
	time.Sleep(3 * time.Second)
	pods, err := e.jobPods(job)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(pods) != 1 {
		e.t.Errorf("pods on %d nodes while paused, want 1", len(pods))
	}
}

func testAdvancedCronJob(e *jobsEnv) {
	// The BroadcastJob is deleted as soon as it finishes (TTL 0) and
	// history cleanup keeps no Job: neither comes back for the same time.
	e.apply(`apiVersion: apps.kruise.io/v1alpha1
kind: AdvancedCronJob
metadata: {name: sweep}
spec:
  schedule: "*/1 * * * *"
  concurrencyPolicy: Forbid
  template:
    broadcastJobTemplate:
      metadata:
        labels: {team: infra}
      spec:
        completionPolicy: {type: Always, ttlSecondsAfterFinished: 0}
        template:
          metadata:
            annotations: {` + nodesim.RunDurationAnnotation + `: 1s}
          spec:
            restartPolicy: Never
            containers: [{name: c, image: busybox}]
---
apiVersion: apps.kruise.io/v1beta1
kind: AdvancedCronJob
metadata: {name: report}
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 0
  template:
    jobTemplate:
      spec:
        template:
          metadata:
            annotations: {` + nodesim.RunDurationAnnotation + `: 1s}
          spec:
            restartPolicy: Never
            containers: [{name: c, image: busybox}]
`)
	ctx := context.Background()
	var sweepTime, reportTime time.Time
	eventually(e.t, 90*time.Second, "both AdvancedCronJobs run once", func() error {
		for _, c := range []struct {
			name string
			at   *time.Time
		}{{"sweep", &sweepTime}, {"report", &reportTime}} {
			acj := &v1beta1.AdvancedCronJob{}
			if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: c.name}, acj); err != nil {
				return err
			}
			if acj.Status.LastScheduleTime == nil {
				return fmt.Errorf("%s has not run yet", c.name)
			}
			*c.at = acj.Status.LastScheduleTime.Time
		}
		return nil
	})
	if sweepTime.Second() != 0 || !sweepTime.Equal(reportTime) {
		e.t.Errorf("schedule times %v and %v, want the same whole minute", sweepTime, reportTime)
	}
	sweepChild := fmt.Sprintf("sweep-%d", sweepTime.Unix())
	reportChild := fmt.Sprintf("report-%d", reportTime.Unix())
	// The Job ran; both children are then removed (TTL, history limit 0).
	eventually(e.t, time.Minute, "the children run and are removed", func() error {
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: sweepChild}, &v1beta1.BroadcastJob{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("BroadcastJob %s still there (%v)", sweepChild, err)
		}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: reportChild}, &batchv1.Job{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Job %s still there (%v)", reportChild, err)
		}
		return nil
	})
	events, err := e.cs.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=AdvancedCronJob"})
	if err != nil {
		e.t.Fatal(err)
	}
	created := map[string]int{}
	for _, ev := range events.Items {
		if ev.Reason == "SuccessfulCreate" {
			created[ev.Message] += int(max(1, ev.Count))
		}
	}
	// Give a controller that would re-create them a few passes, within the
	// same minute when possible.
	time.Sleep(3 * time.Second)
	for _, name := range []string{sweepChild, reportChild} {
		for msg, n := range created {
			if strings.HasSuffix(msg, " "+name) && n != 1 {
				e.t.Errorf("%s created %d times (kruise#862)", name, n)
			}
		}
	}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: sweepChild}, &v1beta1.BroadcastJob{}); !apierrors.IsNotFound(err) {
		e.t.Errorf("BroadcastJob %s re-created after its TTL removed it (err %v)", sweepChild, err)
	}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: reportChild}, &batchv1.Job{}); !apierrors.IsNotFound(err) {
		e.t.Errorf("Job %s re-created after history cleanup removed it (err %v)", reportChild, err)
	}
	for _, name := range []string{"sweep", "report"} {
		_ = e.c.Delete(ctx, &v1beta1.AdvancedCronJob{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}})
	}
}

func testBroadcastJobLateNodes(e *jobsEnv) {
	ctx := context.Background()
	cordoned := "myriad-node-4"
	if out, err := e.kubectl("", "cordon", cordoned); err != nil {
		e.t.Fatalf("cordon: %v\n%s", err, out)
	}
	e.apply(broadcastJobManifest("late", "25s", 0, ""))
	eventually(e.t, time.Minute, "pods on the uncordoned nodes", func() error {
		if s := e.broadcastJob("late").Status; s.Desired != jobNodes-1 || s.Active != jobNodes-1 {
			return fmt.Errorf("status %+v, want %d desired and active", s, jobNodes-1)
		}
		return nil
	})
	if out, err := e.kubectl("", "uncordon", cordoned); err != nil {
		e.t.Fatalf("uncordon: %v\n%s", err, out)
	}
	// A node that joins while the job runs, from a second node simulator.
	sim := exec.Command(binary, "nodes", "--count", "1", "--name-prefix", "late-node-", "--pod-cidr", "10.250.0.0/16",
		"--kubeconfig", filepath.Join(e.up.dataDir, "kubeconfig"))
	if err := sim.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = sim.Process.Kill()
		_ = sim.Wait()
		_ = e.cs.CoreV1().Nodes().Delete(context.Background(), "late-node-0", metav1.DeleteOptions{})
	})
	job := e.waitPhase("late", v1beta1.PhaseCompleted, 3*time.Minute)
	if s := job.Status; s.Desired != jobNodes+1 || s.Succeeded != jobNodes+1 {
		e.t.Errorf("status %+v, want %d desired and succeeded", s, jobNodes+1)
	}
	pods, err := e.jobPods(job)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, node := range []string{cordoned, "late-node-0"} {
		if ps := pods[node]; len(ps) != 1 || ps[0].Status.Phase != corev1.PodSucceeded {
			e.t.Errorf("node %s: pods %d, want one Succeeded", node, len(ps))
		}
	}
	if _, err := e.cs.CoreV1().Nodes().Get(ctx, "late-node-0", metav1.GetOptions{}); err != nil {
		e.t.Errorf("late node: %v", err)
	}
}
