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

// TestBenchStatefulSet runs `myriad bench statefulset` at a small size and
// checks what its report promises: every pod created, the in-place
// rollout keeping every pod's UID and name, the recreating and upstream
// ones replacing every pod, the Advanced StatefulSet's rollouts never
// having more pods unavailable than maxUnavailable allows, the upstream
// budget stated, and unavailability charted over time. Speed is not
// checked: these machines are shared.
func TestBenchStatefulSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	const replicas = 20
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "statefulset", "--nodes", "5", "--replicas", "20", "--max-unavailable", "10%",
		"--phase-timeout", "2m", "--out", out)
	log, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("myriad bench statefulset did not finish in 10 minutes:\n%s", tail(string(log)))
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
	if r["upstreamMaxUnavailable"] == nil {
		t.Errorf("result.json does not say what maxUnavailable the upstream StatefulSet was rolled with")
	}
	phases := list(t, r, "phases")
	if len(phases) != 5 {
		t.Fatalf("%d phases, want create, in-place, recreate, upstream create and upstream (verdict: %v)", len(phases), r["verdict"])
	}
	for _, x := range phases {
		p := x.(map[string]any)
		if p["done"] != true || p["replicas"] != float64(replicas) {
			t.Errorf("%v: done %v with %v replicas: %v", p["kind"], p["done"], p["replicas"], p["error"])
			continue
		}
		recreated, _ := p["recreated"].(float64)
		kept, _ := p["uidsKept"].(float64)
		names, _ := p["namesKept"].(float64)
		most, _ := p["maxPodsUnavailable"].(float64)
		series, _ := p["podsUnavailable"].([]any)
		if len(series) < 2 {
			t.Errorf("%v: %d points of pods unavailable, want a series", p["kind"], len(series))
		}
		if names != replicas {
			t.Errorf("%v: %v ordinals with a ready pod at the end, want %d", p["kind"], names, replicas)
		}
		switch p["kind"] {
		case "create", "upstream create":
			if most != replicas {
				t.Errorf("%v: at most %v pods unavailable, want all %d at the start", p["kind"], most, replicas)
			}
			continue
		case "in-place":
			if recreated != 0 || kept != replicas {
				t.Errorf("in place: %v pods recreated, %v UIDs kept; want 0 and %d", recreated, kept, replicas)
			}
		case "recreate", "upstream":
			if recreated != replicas {
				t.Errorf("%v: %v pods recreated, want %d", p["kind"], recreated, replicas)
			}
		}
		budget, _ := p["maxUnavailablePods"].(float64)
		if most < 1 {
			t.Errorf("%v: no pod was ever unavailable; a rollout takes at least one down", p["kind"])
		}
		if p["kind"] != "upstream" && (budget != 2 || most > budget) {
			t.Errorf("%v: at most %v pods unavailable, allowed %v (10%% of %d rounded up is 2)", p["kind"], most, budget, replicas)
		}
	}
}
