package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/myriad-dev/myriad/internal/crashfs"
)

// etcdHelperEnv carries an etcdHelper to the test binary run as etcd.
const etcdHelperEnv = "MYRIAD_TEST_ETCD_HELPER"

// etcdHelper is the etcd member TestEtcdHelperProcess runs.
type etcdHelper struct {
	DataDir, PKIRoot     string
	ClientPort, PeerPort int
	// NoFsync turns etcd's fsync off, the negative control.
	NoFsync bool
}

// TestEtcdHelperProcess is not a test: run by the test binary with
// etcdHelperEnv set, it is an etcd member, with Myriad's configuration,
// until it is killed.
func TestEtcdHelperProcess(t *testing.T) {
	raw := os.Getenv(etcdHelperEnv)
	if raw == "" {
		t.Skip("the etcd a power-cut test runs and kills")
	}
	var h etcdHelper
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureCerts(DataDir{Root: h.PKIRoot})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := EtcdConfig(EtcdOptions{Dir: h.DataDir, ClientPort: h.ClientPort, PeerPort: h.PeerPort, QuotaBytes: 1 << 30, Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	cfg.UnsafeNoFsync = h.NoFsync
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-e.Err() // until killed
}

// Killing a process keeps the page cache, so a kill -9 test passes with
// fsync off. This one cuts the power: etcd, with Myriad's configuration,
// runs on crashfs; after writes it acknowledged it is killed and every
// write it had not synced is forgotten; restarted, it must hold every
// acknowledged write. The same with etcd's fsync off must lose some: the
// test sees the difference.
func TestAcknowledgedWritesSurviveAPowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd through a power cut")
	}
	fs := crashfs.Mounted(t)
	pkiRoot := DataDir{Root: t.TempDir()}
	if err := pkiRoot.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	certs, err := EnsureCerts(pkiRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, noFsync := range []bool{false, true} {
		ports, err := FreePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		h := etcdHelper{DataDir: filepath.Join(fs.Mountpoint, fmt.Sprintf("etcd-nofsync-%v", noFsync)), PKIRoot: pkiRoot.Root,
			ClientPort: ports[0], PeerPort: ports[1], NoFsync: noFsync}
		member := startEtcdHelper(t, h)
		c, err := EtcdClient(certs, h.ClientPort)
		if err != nil {
			t.Fatal(err)
		}
		// Writers keep writing while the power goes: the member is killed
		// with writes in flight, some applied and not yet synced.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var mu sync.Mutex
		var ackedKeys []string
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					key := fmt.Sprintf("/acked/%d/%05d", w, i)
					if _, err := c.Put(ctx, key, "v"); err != nil {
						return
					}
					mu.Lock()
					ackedKeys = append(ackedKeys, key)
					mu.Unlock()
				}
			}()
		}
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(ackedKeys) >= 400 })
		_ = member.Process.Kill()
		_ = member.Wait()
		cancel()
		wg.Wait()
		c.Close()
		acked := len(ackedKeys)
		lost, err := fs.Crash()
		if err != nil {
			t.Fatal(err)
		}
		member, kept, err := restartAndCount(t, h, certs, ackedKeys)
		if member != nil {
			_ = member.Process.Kill()
			_ = member.Wait()
		}
		t.Logf("fsync off %v: %d acknowledged writes, %d unsynced file writes forgotten, %d keys after the restart (%v)", noFsync, acked, lost, kept, err)
		switch {
		case !noFsync && (err != nil || kept != acked):
			t.Errorf("with fsync on, %d of %d acknowledged writes are there after the power cut (%v)", kept, acked, err)
		case noFsync && err == nil && kept == acked:
			t.Errorf("with fsync off, all %d acknowledged writes survived: the power cut loses nothing, so the test proves nothing", acked)
		}
	}
}

// startEtcdHelper runs h in the test binary and waits until it serves.
func startEtcdHelper(t *testing.T, h etcdHelper) *exec.Cmd {
	t.Helper()
	raw, _ := json.Marshal(h)
	cmd := exec.Command(os.Args[0], "-test.run=^TestEtcdHelperProcess$")
	cmd.Env = append(os.Environ(), etcdHelperEnv+"="+string(raw))
	log, err := os.CreateTemp(t.TempDir(), "etcd-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("etcd's output:\n%s", lastLines(string(out), 60))
		}
	})
	return cmd
}

// waitFor polls cond every 10 ms for at most a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// restartAndCount starts h again and counts which of the acknowledged
// keys it holds; an error says the member did not come back (its data
// lost or torn).
func restartAndCount(t *testing.T, h etcdHelper, certs Certs, acked []string) (*exec.Cmd, int, error) {
	member := startEtcdHelper(t, h)
	c, err := EtcdClient(certs, h.ClientPort)
	if err != nil {
		return member, 0, err
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := c.Get(ctx, "/acked/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		cancel()
		if err == nil {
			have := map[string]bool{}
			for _, kv := range resp.Kvs {
				have[string(kv.Key)] = true
			}
			kept := 0
			for _, k := range acked {
				if have[k] {
					kept++
				}
			}
			return member, kept, nil
		}
		if time.Now().After(deadline) {
			return member, 0, fmt.Errorf("etcd did not serve after the power cut: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
