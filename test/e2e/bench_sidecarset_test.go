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

// TestBenchSidecarSet runs `myriad bench sidecarset` at a small size and
// checks what its report promises: every pod of the three creation phases
// created with exactly its sidecars, the in-place upgrade keeping every
// pod within maxUnavailable, and the recreation replacing every pod. Speed
// is not checked: these machines are shared.
func TestBenchSidecarSet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "sidecarset", "--nodes", "20", "--pods", "200", "--sidecarsets", "10",
		"--phase-timeout", "90s", "--out", out)
	log, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("myriad bench sidecarset did not finish in 10 minutes:\n%s", tail(string(log)))
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
		t.Logf("exited with %v:\n%s", err, tail(string(log)))
	}
	creates := list(t, r, "create")
	if len(creates) != 3 {
		t.Fatalf("%d creation phases, want 3 (verdict: %v)", len(creates), r["verdict"])
	}
	for _, x := range creates {
		p := x.(map[string]any)
		lat, _ := p["createLatency"].(map[string]any)
		if p["done"] != true || p["created"] != 200.0 || p["errors"] != 0.0 || p["wrongSidecars"] != 0.0 || lat["p99Seconds"] == nil {
			t.Errorf("creation with %v SidecarSets: done %v, created %v, errors %v (%v), wrong sidecars %v (%v), p99 %v",
				p["sidecarSets"], p["done"], p["created"], p["errors"], p["errorExamples"], p["wrongSidecars"], p["wrongExamples"], lat["p99Seconds"])
		}
	}
	allowed, _ := r["maxUnavailablePods"].(float64)
	ups := list(t, r, "upgrades")
	if len(ups) != 3 {
		t.Fatalf("%d upgrade phases, want deploy, in-place and recreate (verdict: %v)", len(ups), r["verdict"])
	}
	for _, x := range ups {
		p := x.(map[string]any)
		if p["done"] != true {
			t.Errorf("%v did not finish: %v", p["kind"], p["error"])
			continue
		}
		recreated, _ := p["recreated"].(float64)
		unavailable, _ := p["maxUnavailable"].(float64)
		switch p["kind"] {
		case "in-place":
			if recreated != 0 || unavailable > allowed {
				t.Errorf("in place: %v pods recreated, %v unavailable at once (allowed %v)", recreated, unavailable, allowed)
			}
		case "recreate":
			if recreated != 200 || unavailable > allowed {
				t.Errorf("recreate: %v pods recreated, want 200; %v unavailable at once (allowed %v)", recreated, unavailable, allowed)
			}
		}
	}
}
