package failover

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// The standby runs what `myriad up` runs, with only its listen ports
// moved: same identity, kubeconfig and Lease.
func TestStandbyArgsMoveOnlyTheListenPorts(t *testing.T) {
	port := 40000
	free := func() (int, error) { port++; return port, nil }
	kcm := []string{"kube-controller-manager", "--authentication-kubeconfig=/d/kc", "--bind-address=127.0.0.1", "--secure-port=10257", "--kubeconfig=/d/kc", "--leader-elect=true"}
	got, err := standbyArgs(specs["kube-controller-manager"], kcm, free)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(kcm)
	want[3] = "--secure-port=40001"
	if !slices.Equal(got, want) {
		t.Errorf("kube-controller-manager standby %q, want %q", got, want)
	}
	mgr := []string{"manager", "--kubeconfig", "/d/manager.kubeconfig", "--metrics-bind-address", "127.0.0.1:10270",
		"--health-probe-bind-address", "127.0.0.1:10271", "--webhook-bind-address", "127.0.0.1:10272", "--tls-cert-file", "/d/w.crt"}
	got, err = standbyArgs(specs["myriad-manager"], mgr, free)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "manager --kubeconfig /d/manager.kubeconfig --metrics-bind-address 127.0.0.1:40002 --health-probe-bind-address 127.0.0.1:40003 --webhook-bind-address 127.0.0.1:40004 --tls-cert-file /d/w.crt" {
		t.Errorf("manager standby %q", got)
	}
	if mgr[4] != "127.0.0.1:10270" {
		t.Error("the leader's arguments were changed in place")
	}
	ep, err := endpointOf(specs["myriad-manager"], got)
	if err != nil || ep.metrics != "https://127.0.0.1:40002/metrics" || ep.ready != "http://127.0.0.1:40003/readyz" {
		t.Errorf("manager standby endpoint %+v, %v", ep, err)
	}
	ep, err = endpointOf(specs["kube-controller-manager"], want)
	if err != nil || ep.metrics != "https://127.0.0.1:40001/metrics" || ep.ready != "https://127.0.0.1:40001/healthz" {
		t.Errorf("kube-controller-manager standby endpoint %+v, %v", ep, err)
	}
	if _, err := standbyArgs(specs["myriad-scheduler"], []string{"scheduler", "--kubeconfig", "k"}, free); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("a scheduler without --metrics-addr: %v", err)
	}
}

// Each instance says whether it leads through its own metrics: the
// scheduler's gauge, and for the manager the CloneSet controller's
// gauges, which exist only once it started, on the leader.
func TestLeadsReadsEachComponentsOwnMetric(t *testing.T) {
	for _, c := range []struct {
		component, metrics string
		want               bool
	}{
		{"myriad-scheduler", "myriad_scheduler_leader 1\n", true},
		{"myriad-scheduler", "myriad_scheduler_leader 0\n", false},
		{"myriad-manager", `controller_runtime_max_concurrent_reconciles{controller="cloneset-controller"} 8` + "\n", true},
		{"myriad-manager", `leader_election_master_status{name="myriad-manager"} 1` + "\n", false},
		{"kube-controller-manager", `leader_election_master_status{name="kube-controller-manager"} 1` + "\n", true},
		{"kube-controller-manager", `leader_election_master_status{name="kube-controller-manager"} 0` + "\n", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(c.metrics)) }))
		in := instance{process: c.component, ep: endpoint{metrics: srv.URL}, http: srv.Client()}
		got, err := in.leads(context.Background(), specs[c.component])
		srv.Close()
		if err != nil || got != c.want {
			t.Errorf("%s with %q: leads %v, %v; want %v", c.component, c.metrics, got, err, c.want)
		}
	}
}
