package rig

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/manager"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// Workload is the run skeleton of the workload scenarios (`myriad bench
// cloneset`, `sidecarset`, ...): one run against a cluster with
// `myriad manager`, in a namespace of its own. It owns what every such
// run does the same way, in this order: the run's head (RunInfo, started
// now), starting or attaching the cluster (node capacity, start-up time),
// the CRD client, Meters, the preflight (the scenario's API, Ready nodes
// and room for the pods and the manager's Lease on an existing cluster,
// the namespace), then the scenario's phases; and, however the phases
// ended, stopping the scenario's watches, the rig's recording, closing the
// head, and cleaning up (stopping a started cluster, or deleting the
// namespace of an existing one).
//
// The scenario owns everything else through WorkloadSteps: its API check,
// its phases, its watches and what it made outside the namespace. A
// Workload never decides about the scenario's figures, never writes to
// the cluster but the namespace (create, delete), and never prints more
// than the lines a run has always printed at start and cleanup.
type Workload struct {
	// Name is the command's name: the run's head and the namespace prefix.
	Name string
	// Options are the cluster's; NodeCapacity is `myriad nodes --capacity`
	// of a started cluster, empty for its default.
	Options      Options
	NodeCapacity string
	// Pods is how many pods the run needs room for on an existing cluster.
	Pods int
	// Namespace is the run's namespace; empty picks a fresh one.
	Namespace string
	// Holds says what the namespace holds, for the cleanup line:
	// "deleting namespace N (Holds go with it)".
	Holds string
	// Parameters are the run's parameters in its head, given the namespace.
	Parameters func(ns string) map[string]string
	// StartRig starts or attaches the cluster; nil is StartOrAttach (tests
	// give a New).
	StartRig func(ctx context.Context, o Options, con *lab.Console) (*Rig, error)
	// NewClient is the client for the scenario's custom resources; nil is
	// the rig's CRD client with the manager's scheme (tests give a fake).
	NewClient func(r *Rig) (client.WithWatch, error)
}

// WorkloadSteps are a workload scenario's own parts of a run.
type WorkloadSteps struct {
	// CheckAPI says whether the cluster serves the scenario's API, with an
	// error a user can act on when it does not.
	CheckAPI func(ctx context.Context, c client.WithWatch) error
	// Phases runs the scenario's phases once the cluster and namespace are
	// ready; its error stops the run early (lab.RunInfo.StopEarly).
	Phases func(ctx context.Context, w *WorkloadRun) error
	// StopWatches stops and joins what the phases left running in the
	// background, before the rig stops recording; nil when none.
	StopWatches func()
	// Cleanup deletes what the run made outside its namespace on an
	// existing cluster, before the namespace goes; nil when nothing.
	Cleanup func(ctx context.Context, c client.WithWatch)
}

// WorkloadRun is what a Workload gives the phases, and the head the
// scenario's result is built from.
type WorkloadRun struct {
	// Rig, Client (the rig's) and CRDs (NewClient's) are the cluster; nil
	// until started.
	Rig    *Rig
	Client kubernetes.Interface
	CRDs   client.WithWatch
	// Namespace is the run's.
	Namespace string
	// Meters are the API servers' and the manager's (nil when out of reach).
	Meters Meters
	// Info is the run's head; Nodes the nodes (Ready nodes found on an
	// existing cluster); StartupSeconds how long a started cluster took to
	// be Ready; ClusterSampled says the process series are the cluster's.
	Info           lab.RunInfo
	Nodes          int
	StartupSeconds *float64
	ClusterSampled bool
	// Notes are said in the report as they are (how the run was set up).
	Notes []string
}

// Run runs the skeleton around steps and returns the head, also when the
// cluster or a phase stopped the run early.
func (w *Workload) Run(ctx context.Context, env lab.Env, steps WorkloadSteps) *WorkloadRun {
	ns := w.Namespace
	if ns == "" {
		ns = "myriad-bench-" + w.Name + "-" + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
	}
	x := &WorkloadRun{Namespace: ns, Nodes: w.Options.Nodes}
	x.Info = lab.NewRunInfo(w.Name, lab.ThisMachine(controlplane.KubernetesVersion), w.Parameters(ns), env.Clock.Now())
	x.Info.StopEarly(env.Console, w.run(ctx, env, steps, x))
	if steps.StopWatches != nil {
		steps.StopWatches()
	}
	if x.Rig != nil {
		x.Rig.StopRecording()
	}
	x.Info.Finish(env.Clock.Now(), x.Rig.Processes())
	w.cleanup(env.Console, steps, x)
	return x
}

func (w *Workload) run(ctx context.Context, env lab.Env, steps WorkloadSteps, x *WorkloadRun) error {
	start := w.StartRig
	if start == nil {
		start = StartOrAttach
	}
	o, con := w.Options, env.Console
	if !o.Attached() {
		con.Printf("starting a cluster of %d nodes in %s", o.Nodes, o.DataDir)
		if w.NodeCapacity != "" {
			o.NodeArgs = append(o.NodeArgs, "--capacity", w.NodeCapacity)
		}
	}
	r, err := start(ctx, o, con)
	x.Rig = r
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if r.Cluster != nil {
		x.StartupSeconds = lab.Some(env.Clock.Since(x.Info.StartedAt).Seconds())
		x.ClusterSampled = true
		con.Printf("all %d nodes Ready after %s", o.Nodes, env.Clock.Since(x.Info.StartedAt).Round(time.Second))
	}
	newClient := w.NewClient
	if newClient == nil {
		newClient = ManagerCRDClient
	}
	if x.CRDs, err = newClient(r); err != nil {
		return err
	}
	x.Client = r.Client
	port := 0
	if r.Cluster != nil {
		port = r.Cluster.Plan.ManagerMetricsPort
	}
	var note string
	if x.Meters, note = r.Meters(port); note != "" {
		x.Notes = append(x.Notes, note)
	}
	if err := w.preflight(ctx, con, steps.CheckAPI, x); err != nil {
		return err
	}
	return steps.Phases(ctx, x)
}

// preflight checks what the phases need: the scenario's API, on an
// existing cluster Ready nodes with room for the pods (and a word when the
// manager's Lease is not held), and the namespace with its default
// ServiceAccount, without which pods are rejected at admission.
func (w *Workload) preflight(ctx context.Context, con *lab.Console, checkAPI func(context.Context, client.WithWatch) error, x *WorkloadRun) error {
	if err := checkAPI(ctx, x.CRDs); err != nil {
		return err
	}
	if w.Options.Attached() {
		ready, err := x.Rig.CheckNodes(ctx, w.Options.Nodes, w.Pods)
		if err != nil {
			return err
		}
		x.Nodes = ready
		if warn := x.Rig.CheckLease(ctx, manager.LeaderElectionID, "myriad manager"); warn != "" {
			con.Printf("%s", warn)
		}
	}
	return x.Rig.Namespaces(ctx, x.Namespace)
}

// ManagerCRDClient is the rig's client for custom resources, with the
// scheme of the manager that serves them.
func ManagerCRDClient(r *Rig) (client.WithWatch, error) {
	scheme, err := manager.Scheme()
	if err != nil {
		return nil, err
	}
	return r.CRDClient(scheme)
}

// cleanup stops the cluster the bench started, or deletes what the run
// made in an existing one: the scenario's own objects, then the namespace.
func (w *Workload) cleanup(con *lab.Console, steps WorkloadSteps, x *WorkloadRun) {
	if x.Rig == nil {
		return
	}
	if !w.Options.Attached() {
		x.Rig.Stop()
		return
	}
	defer x.Rig.Stop()
	if x.Client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if steps.Cleanup != nil && x.CRDs != nil {
		steps.Cleanup(ctx, x.CRDs)
	}
	err := x.Client.CoreV1().Namespaces().Delete(ctx, x.Namespace, metav1.DeleteOptions{})
	switch {
	case err == nil:
		con.Printf("deleting namespace %s (%s go with it)", x.Namespace, w.Holds)
	case !apierrors.IsNotFound(err):
		con.Printf("could not delete namespace %s: %v; delete it yourself", x.Namespace, err)
	}
}

// CommonParameters are the head's parameters every workload run states alike:
// the cluster, its size and data, the pods, the phase timeout, the
// namespace, the sampling and the command line. The scenario adds its own.
func (w *Workload) CommonParameters(ns string, phaseTimeout time.Duration) map[string]string {
	o := w.Options
	mode := o.OwnCluster()
	if o.Attached() {
		mode = "existing cluster (--kubeconfig " + o.Kubeconfig + ")"
	}
	p := map[string]string{
		"cluster":        mode,
		"nodes":          strconv.Itoa(o.Nodes),
		"pods":           strconv.Itoa(w.Pods),
		"phaseTimeout":   phaseTimeout.String(),
		"namespace":      ns,
		"sampleInterval": o.SampleInterval.String() + " (and at every phase boundary)",
		"command":        strings.Join(os.Args, " "),
	}
	if !o.Attached() {
		p["dataDir"] = o.DataDir
		p["nodeCapacity"] = w.NodeCapacity
		if w.NodeCapacity == "" {
			p["nodeCapacity"] = "myriad nodes default (cpu 32, memory 256Gi, pods 110)"
		}
		p["nodeProfile"] = o.NodeProfile
		if o.NodeProfile == "" {
			p["nodeProfile"] = nodesim.ProfileFast
		}
	}
	return p
}
