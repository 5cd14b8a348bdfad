package failover

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// What the workloads are that give a component work after the kill.
const (
	workDeployment = "deployment"
	workCloneSet   = "cloneset"
)

// spec is a leader-elected component the scenario can measure: the
// process `myriad up` runs, its Lease in kube-system, what its first work
// after a takeover is, how to tell whether an instance leads, and which of
// its flags hold listen addresses a second instance must not share.
type spec struct {
	name      string
	lease     string
	workload  string
	firstWork string
	// leaderMetric (with leaderLabels) is above 0 on the instance that
	// leads.
	leaderMetric string
	leaderLabels map[string]string
	// secure: its endpoint is HTTPS, authenticated through the API server
	// (the bench's certificate passes); secureMetrics: only its /metrics
	// is (its probes are plain HTTP).
	secure, secureMetrics bool
	// metricsFlag serves /metrics (and readyPath unless probeFlag is set);
	// movedFlags are every listen-address flag, moved for the standby.
	metricsFlag, probeFlag, readyPath string
	movedFlags                        []string
}

var specs = map[string]spec{
	"kube-controller-manager": {name: "kube-controller-manager", lease: "kube-controller-manager", workload: workDeployment,
		firstWork: "the ReplicaSet scaled to the replicas asked for", leaderMetric: "leader_election_master_status",
		leaderLabels: map[string]string{"name": "kube-controller-manager"}, secure: true,
		metricsFlag: "--secure-port", readyPath: "/healthz", movedFlags: []string{"--secure-port"}},
	"kube-scheduler": {name: "kube-scheduler", lease: "kube-scheduler", workload: workDeployment,
		firstWork: "the first pod bound", leaderMetric: "leader_election_master_status",
		leaderLabels: map[string]string{"name": "kube-scheduler"}, secure: true,
		metricsFlag: "--secure-port", readyPath: "/healthz", movedFlags: []string{"--secure-port"}},
	"myriad-scheduler": {name: "myriad-scheduler", lease: "myriad-scheduler", workload: workDeployment,
		firstWork: "the first pod bound", leaderMetric: "myriad_scheduler_leader", secureMetrics: true,
		metricsFlag: "--metrics-addr", readyPath: "/readyz", movedFlags: []string{"--metrics-addr"}},
	"myriad-manager": {name: "myriad-manager", lease: "myriad-manager", workload: workCloneSet,
		// In the myriad binary client-go's leader-election metrics go to
		// kube-controller-manager's registry (the first provider set wins),
		// so the manager's own /metrics has no leader_election_master_status;
		// the CloneSet controller's gauges appear once it starts, and it
		// starts only on the leader.
		firstWork: "the first pod the CloneSet created", leaderMetric: "controller_runtime_max_concurrent_reconciles",
		leaderLabels: map[string]string{"controller": "cloneset-controller"},
		metricsFlag:  "--metrics-bind-address", probeFlag: "--health-probe-bind-address", readyPath: "/readyz", secureMetrics: true,
		movedFlags: []string{"--metrics-bind-address", "--health-probe-bind-address", "--webhook-bind-address"}},
}

// Components are the names --component takes, in the order they run.
var Components = []string{"kube-controller-manager", "kube-scheduler", "myriad-scheduler", "myriad-manager"}

// standbyName is the supervisor's name for a component's second instance.
func standbyName(component string) string { return component + "-standby" }

// flagValue is the value of flag in args ("--f=v" or "--f v").
func flagValue(args []string, flag string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// setFlag returns args with flag's value replaced (in whichever form it
// was given); false when args do not have flag.
func setFlag(args []string, flag, value string) ([]string, bool) {
	out := append([]string(nil), args...)
	for i, a := range out {
		if strings.HasPrefix(a, flag+"=") {
			out[i] = flag + "=" + value
			return out, true
		}
		if a == flag && i+1 < len(out) {
			out[i+1] = value
			return out, true
		}
	}
	return out, false
}

// standbyArgs are the leader's arguments (what `myriad up` runs, read from
// the running process) with every listen address moved to a free port, so
// that the second instance has the same identity, kubeconfig and Lease.
func standbyArgs(s spec, args []string, freePort func() (int, error)) ([]string, error) {
	out := args
	for _, f := range s.movedFlags {
		v, ok := flagValue(out, f)
		if !ok {
			return nil, fmt.Errorf("%s runs without %s: cannot give a second instance its own", s.name, f)
		}
		if v == "" || v == "0" {
			continue // disabled
		}
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		nv := strconv.Itoa(p)
		if host, _, err := net.SplitHostPort(v); err == nil {
			nv = net.JoinHostPort(host, nv)
		}
		out, _ = setFlag(out, f, nv)
	}
	return out, nil
}

// endpoint is how the bench reaches one instance: its metrics and its
// readiness (warm: informers synced; upstream components: serving).
type endpoint struct {
	metrics, ready string
}

func endpointOf(s spec, args []string) (endpoint, error) {
	url := func(flag, path string, https bool) (string, error) {
		v, ok := flagValue(args, flag)
		if !ok {
			return "", fmt.Errorf("%s runs without %s", s.name, flag)
		}
		switch {
		case s.secure: // a port
			return "https://" + net.JoinHostPort("127.0.0.1", v) + path, nil
		case https: // an address
			return "https://" + v + path, nil
		}
		return "http://" + v + path, nil
	}
	m, err := url(s.metricsFlag, "/metrics", s.secureMetrics)
	if err != nil {
		return endpoint{}, err
	}
	probe := s.metricsFlag
	if s.probeFlag != "" {
		probe = s.probeFlag
	}
	// Probes on the metrics address are as secure as it (/readyz is open
	// there); a separate probe address is plain.
	r, err := url(probe, s.readyPath, s.secureMetrics && s.probeFlag == "")
	return endpoint{metrics: m, ready: r}, err
}

// cmdline is a running process's arguments after the program.
func cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(parts) < 2 {
		return nil, fmt.Errorf("process %d has no arguments", pid)
	}
	return parts[1:], nil
}

// instance is one running instance of a component as the bench reaches
// it.
type instance struct {
	process string
	ep      endpoint
	http    *http.Client
}

// ready answers nil once the instance is warm.
func (in instance) readyz(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.ep.ready, nil)
	if err != nil {
		return err
	}
	resp, err := in.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", in.ep.ready, resp.Status)
	}
	return nil
}

// leads says whether the instance reports itself the leader.
func (in instance) leads(ctx context.Context, s spec) (bool, error) {
	f, err := (&lab.Scraper{Name: in.process, URL: in.ep.metrics, Client: in.http}).Scrape(ctx)
	if err != nil {
		return false, err
	}
	v, ok := f.Value(s.leaderMetric, s.leaderLabels)
	return ok && v > 0, nil
}
