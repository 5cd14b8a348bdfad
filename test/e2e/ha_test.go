package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// TestHA runs `myriad up --ha` and takes out, one at a time, the etcd
// leader, an API server and the leader of each controller; after each
// the cluster keeps serving, and the component's standby does its work.
func TestHA(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a highly available cluster")
	}
	dataDir := t.TempDir()
	port, etcdPort := freePort(t), freePortRange(t, 6)
	args := []string{"--ha", "--nodes", "3", "--metrics-server=false"}
	up := startUp(t, dataDir, port, etcdPort, args...)
	stopped := false
	defer func() {
		if !stopped {
			up.stop(t)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("myriad up output:\n%s\n%s", up.out, tailLogs(dataDir))
		}
	})
	cs := up.client(t)
	ns := "ha"
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("three etcd members vote", func(t *testing.T) {
		members := etcdMemberList(t, dataDir)
		if len(members) != 3 {
			t.Fatalf("%d members:\n%v", len(members), members)
		}
		for _, m := range members {
			if m.role != "voter" {
				t.Errorf("member %s is a %s", m.name, m.role)
			}
		}
	})
	t.Run("each API server has an identity of its own", func(t *testing.T) {
		// Upstream derives it from the hostname; three API servers on one
		// host would share one Lease and overwrite it in turn.
		eventually(t, time.Minute, "three API server identity Leases", func() error {
			leases, err := cs.CoordinationV1().Leases("kube-system").List(context.Background(),
				metav1.ListOptions{LabelSelector: "apiserver.kubernetes.io/identity=kube-apiserver"})
			if err != nil {
				return err
			}
			if len(leases.Items) != 3 {
				return fmt.Errorf("%d identity Leases", len(leases.Items))
			}
			return nil
		})
	})
	t.Run("etcd leader killed", func(t *testing.T) {
		leader := ""
		for _, m := range etcdMemberList(t, dataDir) {
			if m.leader {
				leader = m.process
			}
		}
		if leader == "" {
			t.Fatal("no etcd member leads")
		}
		kill(t, up, leader, syscall.SIGKILL)
		writesKeepWorking(t, cs, ns, "after-etcd-leader", 20)
		eventually(t, time.Minute, leader+" back as a voter", func() error {
			for _, m := range etcdMemberListOnce(dataDir) {
				if m.process == leader && m.role == "voter" && m.applied != "unreachable" {
					return nil
				}
			}
			return fmt.Errorf("%s not back", leader)
		})
	})
	t.Run("an API server killed", func(t *testing.T) {
		kill(t, up, "kube-apiserver-1", syscall.SIGKILL)
		writesKeepWorking(t, cs, ns, "after-apiserver", 30)
	})
	t.Run("kube-controller-manager's leader killed", func(t *testing.T) {
		failover(t, up, "kube-controller-manager", syscall.SIGKILL)
		if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, "after-kcm", 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRunning(t, cs, ns, "app=after-kcm", 2, 90*time.Second)
	})
	t.Run("the scheduler's leader killed", func(t *testing.T) {
		failover(t, up, "myriad-scheduler", syscall.SIGKILL)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "after-scheduler", Namespace: ns, Labels: map[string]string{"app": "after-scheduler"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRunning(t, cs, ns, "app=after-scheduler", 1, 90*time.Second)
	})
	t.Run("myriad-manager's leader hung", func(t *testing.T) {
		// SIGSTOP: the hung leader still accepts webhook connections from
		// its kernel backlog. The webhook balancer skips it, so creating a
		// CloneSet (defaulted and validated by the webhook) works while it
		// hangs, and the standby reconciles it.
		hung := failover(t, up, "myriad-manager", syscall.SIGSTOP)
		defer func() { _ = syscall.Kill(hung, syscall.SIGCONT) }()
		e := newCSEnv(t, up, cs, ns)
		e.t = t
		e.create(newCloneSet(ns, "after-manager", 2, v1alpha1.RecreateCloneSetUpdateStrategyType))
		e.settled("after-manager", 2, 2, 90*time.Second)
	})
	// A member whose disk is lost: the next `up --ha` removes its old
	// entry, adds it again as a learner and promotes it once it has
	// caught up; nothing acknowledged is lost.
	up.stop(t)
	stopped = true
	if err := os.RemoveAll(filepath.Join(dataDir, "etcd-2")); err != nil {
		t.Fatal(err)
	}
	up = startUp(t, dataDir, port, etcdPort, args...)
	defer up.stop(t)
	if !strings.Contains(up.out.String(), "etcd-2 joined as a learner and votes") {
		t.Errorf("etcd-2 did not rejoin as a learner:\n%s", up.out)
	}
	for _, m := range etcdMemberList(t, dataDir) {
		if m.role != "voter" {
			t.Errorf("after the rejoin, member %s is a %s", m.name, m.role)
		}
	}
	cs = up.client(t)
	list, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.Items); n < 50 {
		t.Errorf("%d ConfigMaps after the rejoin, want the 50 written and kube-root-ca.crt", n)
	}
}

// freePortRange finds n free ports in a row (etcd's members under --ha).
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := freePort(t)
		ok := true
		for p := base; p < base+n; p++ {
			ok = ok && portFree(p)
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d free ports in a row", n)
	return 0
}

type etcdMemberRow struct {
	name, process, role, applied string
	leader                       bool
}

// etcdMemberListOnce parses `myriad etcd member list`.
func etcdMemberListOnce(dataDir string) []etcdMemberRow {
	out, err := myriad("etcd", "member", "list", "--data-dir", dataDir)
	if err != nil {
		return nil
	}
	var rows []etcdMemberRow
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] == "ID" {
			continue
		}
		r := etcdMemberRow{name: f[1], role: f[2]}
		rest := f[3:]
		if rest[0] == "*" {
			r.leader, rest = true, rest[1:]
		}
		r.applied = rest[0]
		r.process = "etcd-0"
		if n, ok := strings.CutPrefix(r.name, "myriad-"); ok {
			r.process = "etcd-" + n
		}
		rows = append(rows, r)
	}
	return rows
}

func etcdMemberList(t *testing.T, dataDir string) []etcdMemberRow {
	t.Helper()
	var rows []etcdMemberRow
	eventually(t, 30*time.Second, "etcd member list", func() error {
		if rows = etcdMemberListOnce(dataDir); len(rows) == 0 {
			return fmt.Errorf("no members listed")
		}
		return nil
	})
	return rows
}

// childPid finds the child of `myriad up` the supervisor calls name.
func childPid(up *upProcess, name string) (int, error) {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(up.cmd.Process.Pid) {
			continue
		}
		env, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == supervisor.ProcessNameEnv+"="+name {
				return strconv.Atoi(filepath.Base(dir))
			}
		}
	}
	return 0, fmt.Errorf("myriad up runs no process named %s", name)
}

func kill(t *testing.T, up *upProcess, name string, sig syscall.Signal) int {
	t.Helper()
	pid, err := childPid(up, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (pid %d): %s", name, pid, sig)
	return pid
}

// leaders are the instances `myriad up --ha` announced as leading
// component, in order.
func leaders(up *upProcess, component string) []string {
	re := regexp.MustCompile(`  (` + regexp.QuoteMeta(component) + `-\d+): leads \(Lease kube-system/` + regexp.QuoteMeta(component) + `,`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(up.out.String(), -1) {
		out = append(out, m[1])
	}
	return out
}

// failover signals the leading instance of component and waits until an
// instance announces it leads again: the standby, or (after SIGKILL) the
// restarted leader when it wins the race for the released Lease. It
// returns the signalled pid.
func failover(t *testing.T, up *upProcess, component string, sig syscall.Signal) int {
	t.Helper()
	var before []string
	eventually(t, time.Minute, component+" has a leader", func() error {
		if before = leaders(up, component); len(before) == 0 {
			return fmt.Errorf("no instance announced it leads")
		}
		return nil
	})
	leader := before[len(before)-1]
	pid := kill(t, up, leader, sig)
	began := time.Now()
	eventually(t, time.Minute, component+" leads again", func() error {
		if now := leaders(up, component); len(now) > len(before) && (sig == syscall.SIGKILL || now[len(now)-1] != leader) {
			return nil
		}
		return fmt.Errorf("no new leader announced after %s's", leader)
	})
	t.Logf("%s: %s took over %.1fs after %s", component, leaders(up, component)[len(leaders(up, component))-1], time.Since(began).Seconds(), sig)
	return pid
}

// writesKeepWorking writes n ConfigMaps over a few seconds; each must be
// acknowledged within 10 s, a failed attempt (a connection to the killed
// process) retried.
func writesKeepWorking(t *testing.T, cs kubernetes.Interface, ns, prefix string, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, configMap(ns, name), metav1.CreateOptions{})
			cancel()
			if err == nil || apierrors.IsAlreadyExists(err) { // a retry of a write whose answer was lost
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("write %s not acknowledged within 10s: %v", name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, c := range list.Items {
		if strings.HasPrefix(c.Name, prefix+"-") {
			got++
		}
	}
	if got != n {
		t.Errorf("%d of %d acknowledged writes are there", got, n)
	}
}
