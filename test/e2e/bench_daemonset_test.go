package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBenchDaemonSet runs `myriad bench daemonset` at a small size and
// checks what its report promises: an agent on every node, the in-place
// rollout keeping every agent's UID, the recreating and upstream ones
// replacing every agent, none of them leaving more nodes without a ready
// agent than maxUnavailable allows, and the count charted over time.
// Speed is not checked: these machines are shared.
func TestBenchDaemonSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	const nodes = 20
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "daemonset", "--nodes", "20", "--max-unavailable", "10%",
		"--phase-timeout", "2m", "--out", out)
	log, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("myriad bench daemonset did not finish in 10 minutes:\n%s", tail(string(log)))
	}
	raw, rerr := os.ReadFile(filepath.Join(out, "result.json"))
	if rerr != nil {
		t.Fatalf("no result.json (exit: %v):\n%s", err, tail(string(log)))
	}
	if _, herr := os.Stat(filepath.Join(out, "report.html")); herr != nil {
		t.Errorf("no report.html: %v", herr)
	}
	var r map[string]any
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("result.json: %v", err)
	}
	if err != nil {
		t.Errorf("exited with %v (verdict %v):\n%s", err, r["verdict"], tail(string(log)))
	}
	phases := list(t, r, "phases")
	if len(phases) != 5 {
		t.Fatalf("%d phases, want create, in-place, recreate, upstream create and upstream (verdict: %v)", len(phases), r["verdict"])
	}
	for _, x := range phases {
		p := x.(map[string]any)
		if p["done"] != true || p["nodes"] != float64(nodes) {
			t.Errorf("%v: done %v on %v nodes: %v", p["kind"], p["done"], p["nodes"], p["error"])
			continue
		}
		recreated, _ := p["recreated"].(float64)
		kept, _ := p["uidsKept"].(float64)
		without, _ := p["maxNodesWithoutReadyAgent"].(float64)
		series, _ := p["nodesWithoutReadyAgent"].([]any)
		if len(series) < 2 {
			t.Errorf("%v: %d points of nodes without a ready agent, want a series", p["kind"], len(series))
		}
		switch p["kind"] {
		case "create", "upstream create":
			if without != nodes {
				t.Errorf("%v: at most %v nodes without an agent, want all %d at the start", p["kind"], without, nodes)
			}
			continue
		case "in-place":
			if recreated != 0 || kept != nodes {
				t.Errorf("in place: %v agents recreated, %v UIDs kept; want 0 and %d", recreated, kept, nodes)
			}
		case "recreate", "upstream":
			if recreated != nodes {
				t.Errorf("%v: %v agents recreated, want %d", p["kind"], recreated, nodes)
			}
		}
		budget, _ := p["maxUnavailableNodes"].(float64)
		if budget != 2 || without > budget || without < 1 {
			t.Errorf("%v: at most %v nodes without a ready agent, allowed %v (10%% of %d rounded up is 2); a rollout takes at least one down", p["kind"], without, budget, nodes)
		}
	}
}
