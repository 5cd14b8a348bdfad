package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every scale-lab scenario refuses bad flags with one line naming the
// flag, before it touches --out or starts anything.
func TestScenarioFlagsAreCheckedFirst(t *testing.T) {
	out := t.TempDir() + "/never-created"
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"watch-restart"}, "--out"},
		{[]string{"watch-restart", "--out", out, "--watchers", "3"}, "--watchers"},
		{[]string{"watch-restart", "--out", out, "--objects", "5", "--watchers", "20"}, "--objects"},
		{[]string{"watch-restart", "--out", out, "--signal", "HUP"}, "--signal"},
		{[]string{"watch-restart", "--out", out, "--restart", "2"}, "--restart"},
		{[]string{"watch-restart", "--out", out, "--observe", "1s"}, "--observe"},
		{[]string{"long-read", "--out", out, "--phases", "baseline,lists"}, "--phases"},
		{[]string{"long-read", "--out", out, "--write-rate", "0"}, "--write-rate"},
		{[]string{"long-read", "--out", out, "--readers", "0"}, "--readers"},
		{[]string{"long-read", "--out", out, "--namespaces", "0"}, "--namespaces"},
		{[]string{"etcd-size", "--out", out, "--freelists", "map,hash"}, "--freelists"},
		{[]string{"etcd-size", "--out", out, "--freelists", "map,map"}, "--freelists"},
		{[]string{"etcd-size", "--out", out, "--db-size", "1Mi"}, "--db-size"},
		{[]string{"etcd-size", "--out", out, "--create-share", "0.9", "--delete-share", "0.2"}, "--create-share"},
		{[]string{"failover", "--out", out, "--component", "etcd"}, "--component"},
		{[]string{"failover", "--out", out, "--nodes", "0"}, "--nodes"},
		{[]string{"failover", "--out", out, "--round-timeout", "1s"}, "--round-timeout"},
	} {
		root := NewRoot()
		root.SetArgs(append([]string{"bench"}, c.args...))
		root.SetOut(&bytes.Buffer{})
		_, err := root.ExecuteC()
		var usage usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), c.flag) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v; want one usage line naming %s", c.args, err, c.flag)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command touched --out: %v", err)
	}
}

func TestPhaseNamesAreDistinct(t *testing.T) {
	got := strings.Join(phaseNames([]string{"baseline", "list-cache", "baseline", "list-cache", "baseline"}), ",")
	if want := "baseline,list-cache,baseline-2,list-cache-2,baseline-3"; got != want {
		t.Errorf("phaseNames = %s; want %s", got, want)
	}
}

func TestBandBytesSplitsTheTargetInAboutEight(t *testing.T) {
	for _, c := range []struct{ target, want int64 }{{64 << 20, 16 << 20}, {4 << 30, 512 << 20}, {3 << 30, 512 << 20}} {
		if got := bandBytes(c.target); got != c.want {
			t.Errorf("bandBytes(%d) = %d; want %d", c.target, got, c.want)
		}
	}
}

// paced keeps its schedule while calls are slow, and counts a slot as
// skipped when every allowed call is still out.
func TestPacedIsOpenLoop(t *testing.T) {
	var calls atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	skipped := paced(ctx, 100, 1000, func(context.Context, int) {
		calls.Add(1)
		time.Sleep(100 * time.Millisecond) // ten times the interval
	})
	if n := calls.Load(); n < 25 || n > 55 || skipped != 0 {
		t.Errorf("%d calls, %d skipped in 0.5s at 100/s with slow calls; want ~50 and none skipped", n, skipped)
	}
	calls.Store(0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	skipped = paced(ctx2, 100, 2, func(context.Context, int) {
		calls.Add(1)
		time.Sleep(time.Second)
	})
	if calls.Load() != 2 || skipped < 20 {
		t.Errorf("%d calls, %d skipped with 2 in flight allowed; want 2 calls and the rest skipped", calls.Load(), skipped)
	}
}
