package controlplane

import (
	"strings"
	"testing"
	"time"
)

func validOptions() Options {
	return Options{DataDir: "/tmp/x", Nodes: 10, APIServers: 1, Port: 6443, EtcdPort: 2379,
		BindAddress: "127.0.0.1", EtcdQuota: DefaultEtcdQuota, NodeMonitorGracePeriod: 40 * time.Second}
}

func TestOptionsValidateNamesTheFlag(t *testing.T) {
	if err := validOptions().Validate(); err != nil {
		t.Fatalf("valid options rejected: %v", err)
	}
	for _, tc := range []struct {
		flag   string
		mutate func(*Options)
	}{
		{"--nodes", func(o *Options) { o.Nodes = -1 }},
		{"--apiservers", func(o *Options) { o.APIServers = 0 }},
		{"--port", func(o *Options) { o.Port = 70000 }},
		{"--port", func(o *Options) { o.Port = 2380 }},
		{"--etcd-port", func(o *Options) { o.EtcdPort = 0 }},
		{"--bind-address", func(o *Options) { o.BindAddress = "localhost:1" }},
		{"--etcd-quota", func(o *Options) { o.EtcdQuota = 1 }},
		{"--node-monitor-grace-period", func(o *Options) { o.NodeMonitorGracePeriod = time.Second }},
		{"--data-dir", func(o *Options) { o.DataDir = "" }},
	} {
		o := validOptions()
		tc.mutate(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: err = %v", tc.flag, err)
		}
	}
}

func TestAPIServerArgs(t *testing.T) {
	p := Plan{BindAddress: "127.0.0.1", EtcdPort: 2379, APIPort: 6443, APIServerPort: []int{6443}}
	one := strings.Join(p.APIServerArgs(0), " ")
	for _, want := range []string{"--bind-address=127.0.0.1", "--authorization-mode=Node,RBAC", "--anonymous-auth=false", "--watch-cache=true",
		// Logs and exec reach the simulated kubelets by address and verify them.
		"--kubelet-certificate-authority=", "--kubelet-client-certificate=", "--kubelet-preferred-address-types=InternalIP,"} {
		if !strings.Contains(one, want) {
			t.Errorf("missing %s in %s", want, one)
		}
	}
	if strings.Contains(one, "goaway") {
		t.Error("a single API server needs no GOAWAY rebalancing")
	}
	p.APIServerPort = []int{7001, 7002}
	if s := strings.Join(p.APIServerArgs(1), " "); !strings.Contains(s, "--goaway-chance") || !strings.Contains(s, "--secure-port=7002") {
		t.Errorf("second of two API servers: %s", s)
	}
}

func TestOptionsValidateScheduler(t *testing.T) {
	for _, s := range []string{"", "kube", "myriad", "none"} {
		o := validOptions()
		o.Scheduler = s
		if err := o.Validate(); err != nil {
			t.Errorf("--scheduler %q rejected: %v", s, err)
		}
	}
	o := validOptions()
	o.Scheduler = "volcano"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--scheduler") {
		t.Errorf("--scheduler volcano: err = %v", err)
	}
}
