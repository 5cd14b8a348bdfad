package controlplane

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Durability is not a tuning knob: an acknowledged write is fsynced, the
// quota is what up asks for, and only the API server's identity is a
// client. A change to any of these must change this test.
func TestEtcdConfigPinsDurabilityAndAccess(t *testing.T) {
	d := DataDir{Root: t.TempDir()}
	if err := d.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureCerts(d)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := EtcdConfig(EtcdOptions{Dir: t.TempDir(), ClientPort: 23790, PeerPort: 23791, QuotaBytes: 1 << 30, Certs: certs, CompactionRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UnsafeNoFsync {
		t.Error("UnsafeNoFsync is on: acknowledged writes could be lost on a power cut")
	}
	if cfg.QuotaBackendBytes != 1<<30 || cfg.BackendFreelistType != FreelistMap {
		t.Errorf("quota %d, freelist %q", cfg.QuotaBackendBytes, cfg.BackendFreelistType)
	}
	if !cfg.ClientTLSInfo.ClientCertAuth || cfg.ClientTLSInfo.TrustedCAFile != certs.EtcdCA || !cfg.PeerTLSInfo.ClientCertAuth {
		t.Errorf("client TLS %+v", cfg.ClientTLSInfo)
	}
	if cfg.AutoCompactionMode != "periodic" || cfg.AutoCompactionRetention != "1h0m0s" {
		t.Errorf("compaction %s %s", cfg.AutoCompactionMode, cfg.AutoCompactionRetention)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("etcd refuses the config: %v", err)
	}
}

// startEtcd runs a member of a fresh data directory in-process.
func startEtcd(t *testing.T, quota int64) (DataDir, Certs, int) {
	t.Helper()
	dir := DataDir{Root: t.TempDir()}
	if err := dir.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	runEtcdMember(t, EtcdOptions{Dir: dir.Etcd(), ClientPort: ports[0], PeerPort: ports[1], QuotaBytes: quota, Certs: certs})
	return dir, certs, ports[0]
}

// runEtcdMember runs the member o in-process until the test ends, and
// returns once it serves.
func runEtcdMember(t *testing.T, o EtcdOptions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- RunEtcd(ctx, o, ready) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("etcd member %s: %v", o.Name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("etcd member %s did not start", o.Name)
	}
}

func raiseNoSpace(t *testing.T, c *clientv3.Client) {
	t.Helper()
	ctx := context.Background()
	st, err := c.Status(ctx, c.Endpoints()[0])
	if err != nil {
		t.Fatal(err)
	}
	// etcd raises it itself at the quota; tests raise it as etcd's own
	// integration tests do, through the maintenance API.
	if _, err := etcdserverpb.NewMaintenanceClient(c.ActiveConnection()).Alarm(ctx, &etcdserverpb.AlarmRequest{
		Action: etcdserverpb.AlarmRequest_ACTIVATE, MemberID: st.Header.MemberId, Alarm: etcdserverpb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
}

// A NOSPACE alarm is seen, refused writes are explained in one line, and
// defrag, disarm and up's start-up check clear it.
func TestNoSpaceIsDetectedAndCleared(t *testing.T) {
	dir, certs, port := startEtcd(t, 256<<20)
	c, err := EtcdClient(certs, port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Put(ctx, "/registry/k", "v"); err != nil {
		t.Fatal(err)
	}

	raiseNoSpace(t, c)
	st, err := ReadEtcdState(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !st.NoSpace() || st.Quota != 256<<20 || st.DBSize == 0 {
		t.Fatalf("state %+v; want NOSPACE, the quota and a size", st)
	}
	if _, err := c.Put(ctx, "/registry/k", "w"); err == nil {
		t.Fatal("a write succeeded under NOSPACE")
	}
	advice := NoSpaceAdvice(st, dir.Root)
	for _, want := range []string{"NOSPACE", "myriad etcd defrag --data-dir " + dir.Root, "myriad etcd disarm", "--etcd-quota"} {
		if !strings.Contains(advice, want) {
			t.Errorf("advice %q does not say %q", advice, want)
		}
	}

	if before, after, err := CompactAndDefrag(ctx, c); err != nil || before == 0 || after == 0 {
		t.Errorf("defrag: %d -> %d, %v", before, after, err)
	}
	cleared, err := DisarmEtcd(ctx, c)
	if err != nil || strings.Join(cleared, ",") != "NOSPACE" {
		t.Fatalf("disarm: %v, %v", cleared, err)
	}
	if _, err := c.Put(ctx, "/registry/k", "x"); err != nil {
		t.Fatalf("write after disarm: %v", err)
	}

	// up's check: a database well below its quota is disarmed, saying so.
	raiseNoSpace(t, c)
	var out bytes.Buffer
	if err := checkEtcdSpace(ctx, dir, certs, []int{port}, &out); err != nil || !strings.Contains(out.String(), "NOSPACE alarm cleared") {
		t.Fatalf("checkEtcdSpace: %v, %q", err, out.String())
	}
	if st, _ := ReadEtcdState(ctx, c); st.NoSpace() {
		t.Error("the alarm is still raised after up's check")
	}
}

// A database that still fills its quota is not disarmed: the alarm would
// come back at the next write; up clears only one well below it.
func TestNoSpaceAtTheQuotaIsNotDisarmed(t *testing.T) {
	for _, c := range []struct {
		size, quota   int64
		disarm, clear bool
	}{{100, 100, false, false}, {95, 100, true, false}, {50, 100, true, true}} {
		st := EtcdState{Alarms: []string{"NOSPACE"}, DBSize: c.size << 20, Quota: c.quota << 20}
		if err := disarmable(st); (err == nil) != c.disarm || clearOnStart(st) != c.clear {
			t.Errorf("%d of %d MiB: disarmable %v, clear on start %v; want %v, %v", c.size, c.quota, err, clearOnStart(st), c.disarm, c.clear)
		}
	}
	if NoSpaceAdvice(EtcdState{Alarms: []string{"CORRUPT"}}, "/d") != "" || clearOnStart(EtcdState{DBSize: 1, Quota: 100}) {
		t.Error("advice or clearing without a NOSPACE alarm")
	}
}
