package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// The ceiling's bindings and Scheduled events go out as the schedulers'
// identity, not as the admin: the admin's system:masters group is exempt
// from API Priority and Fairness, a lane no scheduler has.
func TestCeilingWritesAsTheSchedulersIdentity(t *testing.T) {
	c := newCluster(t, 3)
	r := c.run(t, c.scenario("ceiling", 20))
	if !r.Verdict.Pass {
		t.Fatalf("verdict: %+v", r.Verdict)
	}
	if n := actions(c.admin, "create", "pods", "binding"); n != 0 {
		t.Errorf("the admin made %d bindings; the ceiling must bind as %s", n, CeilingIdentity)
	}
	if n := actions(c.admin, "create", "events", ""); n != 0 {
		t.Errorf("the admin wrote %d events; the ceiling must record them as %s", n, CeilingIdentity)
	}
	if n := actions(c.sched, "create", "pods", "binding"); n != 20 {
		t.Errorf("%d bindings as the schedulers' identity, want 20", n)
	}
	run := r.Ceiling.Runs[0]
	if run.CeilingWrites == nil || run.CeilingWrites.Identity != "system:kube-scheduler" || r.Ceiling.Identity != "system:kube-scheduler" {
		t.Errorf("result.json does not say who the ceiling wrote as: %+v", run.CeilingWrites)
	}
	if run.WritesPriorityLevel != "workload-high" || r.Ceiling.WritesPriorityLevel != "workload-high" {
		t.Errorf("ceiling's writes' priority level %q / %q, want workload-high (from its responses)", run.WritesPriorityLevel, r.Ceiling.WritesPriorityLevel)
	}
	if r.IdentityFlow == nil || r.IdentityFlow.PriorityLevel != "workload-high" {
		t.Errorf("identity flow %+v, want the probe's workload-high", r.IdentityFlow)
	}
}

// The ceiling's client is built from the scheduler's kubeconfig of the
// cluster, never the admin's.
func TestCeilingClientIsTheSchedulersKubeconfig(t *testing.T) {
	root := t.TempDir()
	d := controlplane.DataDir{Root: root}
	for _, k := range []struct{ path, user string }{{d.AdminKubeconfig(), "myriad-admin"}, {d.Kubeconfig("scheduler"), "system:kube-scheduler"}} {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
		cfg.AuthInfos[k.user] = &clientcmdapi.AuthInfo{ClientCertificateData: []byte("cert of " + k.user), ClientKeyData: []byte("key")}
		cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: k.user}
		cfg.CurrentContext = "c"
		if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := clientcmd.WriteToFile(*cfg, k.path); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := ceilingConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rc.CertData); got != "cert of system:kube-scheduler" {
		t.Errorf("the ceiling presents %q, want the scheduler's certificate", got)
	}
	if rc.QPS < 5000 || !strings.Contains(rc.ContentType, "protobuf") {
		t.Errorf("the ceiling's client is not kube-scheduler's (QPS %v, %s)", rc.QPS, rc.ContentType)
	}
}

// The ceiling counts the Scheduled event writes still out when its last
// binding returns, and says how long they took after it.
func TestCeilingCountsEventWritesPendingAtTheLastBinding(t *testing.T) {
	c := newCluster(t, 2)
	c.release = make(chan struct{})
	var pods []string
	for i := range 5 {
		p := benchPod("1-ceiling", ceilingSchedName, i)
		if _, err := c.admin.CoreV1().Pods(Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p.Name)
	}
	ce := &ceiling{client: c.binder(), clk: c.clk, binders: 5, events: true}
	w, err := ce.bind(context.Background(), pods, []NodeAlloc{{Name: "n0"}, {Name: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Binds != 5 || w.PendingAtLastBind != 5 {
		t.Fatalf("binds %d, pending at the last binding %d; want 5 and 5 (every event write held)", w.Binds, w.PendingAtLastBind)
	}
	c.clk.Step(3 * time.Second)
	close(c.release)
	ce.drain(w)
	if w.EventWrites != 5 || w.EventErrors != 0 {
		t.Errorf("%d event writes, %d failed; want all 5 written", w.EventWrites, w.EventErrors)
	}
	if d := w.EventsDone.Sub(w.BindsDone); d != 3*time.Second || !w.Done().Equal(w.EventsDone) {
		t.Errorf("events returned %s after the last binding, done at %s; want 3s and the events' end", d, w.Done())
	}
}
