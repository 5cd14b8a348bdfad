package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// Component is an extra process a scenario starts beside the cluster (a
// scheduler under test, a standby manager): a child of the myriad binary
// with a supervisor of its own, so it can be stopped alone, and sampled
// with the cluster's processes under its name.
type Component struct {
	Name string
	Log  string
	sup  *supervisor.Supervisor

	mu     sync.Mutex
	events []string
}

// StartComponent runs `myriad ARGS...` as name, logging to the cluster's
// log directory (or the bench's temporary directory when attached), and
// returns once ready answers (nil: once it runs). A crash is restarted
// with backoff and recorded in Events. obs, when not nil, follows the
// process as supervisor.Process.Observer does.
func (r *Rig) StartComponent(ctx context.Context, name string, args, env []string, ready func(context.Context) error, obs supervisor.Observer) (*Component, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	logDir := os.TempDir()
	if r.Cluster != nil {
		logDir = r.Cluster.Plan.Dir.Logs()
	}
	events := make(chan supervisor.Event, 16)
	c := &Component{Name: name, Log: filepath.Join(logDir, name+".log"),
		sup: &supervisor.Supervisor{Binary: bin, Events: events, StopTimeout: 10 * time.Second}}
	go func() {
		for ev := range events {
			c.mu.Lock()
			c.events = append(c.events, ev.Message)
			c.mu.Unlock()
			r.printf("%s: %s", ev.Process, ev.Message)
		}
	}()
	timeout := r.opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	if err := c.sup.Start(ctx, supervisor.Process{Name: name, Args: args, Env: env, LogFile: c.Log, Ready: ready, Observer: obs}, timeout); err != nil {
		c.sup.Stop()
		return nil, err
	}
	r.mu.Lock()
	r.extras[name] = c
	r.mu.Unlock()
	return c, nil
}

// Pid is the component's current process, 0 when none runs.
func (c *Component) Pid() int { return c.sup.Pids()[c.Name] }

// Sample reads the component's process now.
func (c *Component) Sample() (lab.ProcSample, error) {
	pid := c.Pid()
	if pid <= 0 {
		return lab.ProcSample{}, fmt.Errorf("%s is not running", c.Name)
	}
	return lab.ReadProc("/proc", pid)
}

// Events are the crashes and restarts the supervisor reported.
func (c *Component) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// StopComponent stops c (SIGTERM, SIGKILL after 10s) and forgets it.
func (r *Rig) StopComponent(c *Component) {
	r.mu.Lock()
	delete(r.extras, c.Name)
	r.mu.Unlock()
	c.sup.Stop()
}

// Signal sends sig to the named process of the started cluster (or an
// extra component) and returns its pid; the supervisor restarts it after
// it exits.
func (r *Rig) Signal(name string, sig syscall.Signal) (int, error) {
	// The supervisor that owns the process sends it, so the exit counts as
	// injected, never toward a crash loop that would end the run.
	if c := r.cluster.Load(); c != nil {
		if _, ok := c.Supervisor.Pids()[name]; ok {
			return c.Supervisor.Signal(name, sig)
		}
	}
	r.mu.Lock()
	c := r.extras[name]
	r.mu.Unlock()
	if c != nil {
		return c.sup.Signal(name, sig)
	}
	pid := r.pids(os.Getpid(), 0)[name]
	if pid <= 0 {
		return 0, fmt.Errorf("no running process %q in this cluster", name)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return 0, fmt.Errorf("signal %s (pid %d): %w", name, pid, err)
	}
	return pid, nil
}

// WaitRestarted waits until the supervisor has replaced oldPid and ready
// (if not nil) answers, and returns when it did.
func (r *Rig) WaitRestarted(ctx context.Context, name string, oldPid int, ready func(context.Context) error) (time.Time, error) {
	tick := r.Clock.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid := r.pids(os.Getpid(), 0)[name]; pid != 0 && pid != oldPid {
			if ready == nil || ready(ctx) == nil {
				return r.Clock.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s was not back within the time allowed: %w", name, ctx.Err())
		case <-tick.C():
		}
	}
}

// Restart signals a component and waits until its successor is ready.
func (r *Rig) Restart(ctx context.Context, name string, sig syscall.Signal, ready func(context.Context) error, timeout time.Duration) error {
	pid, err := r.Signal(name, sig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = r.WaitRestarted(ctx, name, pid, ready)
	return err
}

// APIServerName is the supervisor's name for API server i.
func (r *Rig) APIServerName(i int) string {
	if len(r.Cluster.Plan.APIServerPort) == 1 {
		return "kube-apiserver"
	}
	return fmt.Sprintf("kube-apiserver-%d", i)
}

// APIServerReady asks API server i itself (not the balancer) for /readyz.
func (r *Rig) APIServerReady(i int) (func(context.Context) error, error) {
	rc, err := kubeclient.Config(r.Kubeconfig, kubeclient.Options{Timeout: 3 * time.Second, UserAgent: "myriad-bench"})
	if err != nil {
		return nil, err
	}
	rc.Host = "https://127.0.0.1:" + strconv.Itoa(r.Cluster.Plan.APIServerPort[i])
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}, nil
}

// Scrapers are the started cluster's metrics endpoints: the simulator,
// every API server and etcd. Attached, there are none: its endpoints are
// not the bench's to reach. An endpoint that cannot be set up is left out
// and named in the error.
func (r *Rig) Scrapers() (lab.Targets, error) {
	var t lab.Targets
	if r.Cluster == nil {
		return t, nil
	}
	plan := r.Cluster.Plan
	var errs []error
	cert, key := plan.Certs.Client(controlplane.SuperAdminUser)
	sim, err := lab.NewScraper("nodes", fmt.Sprintf("https://127.0.0.1:%d/metrics", r.MetricsPort), plan.Certs.CA, cert, key)
	if err != nil {
		errs = append(errs, err)
	}
	t.NodeSim = sim
	for i, port := range plan.APIServerPort {
		s, err := lab.NewScraper(fmt.Sprintf("kube-apiserver-%d", i), fmt.Sprintf("https://127.0.0.1:%d/metrics", port), plan.Certs.CA, cert, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.APIServers = append(t.APIServers, s)
	}
	etcd, err := lab.NewScraper("etcd", fmt.Sprintf("https://127.0.0.1:%d/metrics", plan.EtcdPort), plan.Certs.EtcdCA, plan.Certs.EtcdClientCert, plan.Certs.EtcdClientKey)
	if err != nil {
		errs = append(errs, err)
	} else {
		t.Etcd = etcd
	}
	return t, errors.Join(errs...)
}
