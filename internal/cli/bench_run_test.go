package cli

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
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
		{[]string{"broadcastjob", "--out", out, "--parallelism", "0"}, "--parallelism"},
		{[]string{"cloneset", "--out", out, "--node-profile", "slow"}, "--node-profile"},
		{[]string{"broadcastjob", "--out", out, "--run-for", "1m", "--phase-timeout", "30s"}, "--phase-timeout"},
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
