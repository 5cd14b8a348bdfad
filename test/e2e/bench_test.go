package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchScenarios runs each `myriad bench` scenario at a size that takes
// about a minute and checks that its report holds the figures it promises,
// not how fast they are: these machines are shared, so a latency SLO may be
// missed and the command then exits non-zero by design.
func TestBenchScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real control planes")
	}
	for _, sc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, r map[string]any)
	}{
		{"soak", []string{"soak", "--nodes", "20", "--duration", "20s"}, func(t *testing.T, r map[string]any) {
			rd, _ := r["readiness"].(map[string]any)
			if n, _ := rd["readyMin"].(float64); n != 20 {
				t.Errorf("fewest Ready nodes %v, want 20", rd["readyMin"])
			}
			need(t, r, "lease")
		}},
		{"heartbeat", []string{"heartbeat", "--nodes", "20", "--duration", "20s"}, func(t *testing.T, r map[string]any) {
			// The figures the published comparison rests on; a missing one
			// fails with the verdict's reason, not with a nil.
			ratio, _ := r["ratio"].(map[string]any)
			for _, k := range []string{"bytesPerHeartbeat", "apiserverCores", "etcdWALBytesPerMinute"} {
				if _, ok := ratio[k].(float64); !ok {
					t.Errorf("ratio.%s missing: %s", k, noDataReason(r))
				}
			}
			// A status-mode heartbeat is a patch of the conditions, about
			// a Lease's size; what it costs is etcd rewriting the whole Node.
			if b, ok := ratio["bytesPerHeartbeat"].(float64); ok && b <= 0 {
				t.Errorf("NodeStatus / Lease bytes per heartbeat = %v, want above 0", b)
			}
			if w, ok := ratio["etcdWALBytesPerMinute"].(float64); ok && w <= 1 {
				t.Errorf("NodeStatus / Lease etcd WAL bytes = %v, want above 1", w)
			}
		}},
		{"scheduler", []string{"scheduler", "--nodes", "20", "--pods", "200", "--idle-window", "3s"}, func(t *testing.T, r map[string]any) {
			for _, k := range []string{"kube", "myriad"} {
				s, _ := r[k].(map[string]any)
				if _, ok := s["idle_cpu_cores"].(float64); !ok {
					t.Errorf("%s: no idle_cpu_cores (verdict: %v)", k, r["verdict"])
				}
				if f, _ := s["feasible_fraction"].(float64); f != 1 {
					t.Errorf("%s placed %v of its pods feasibly, want all", k, s["feasible_fraction"])
				}
				if p, _ := s["pods_per_second"].(float64); p <= 0 {
					t.Errorf("%s: no pods_per_second", k)
				}
			}
			c, _ := r["ceiling"].(map[string]any)
			if b, _ := c["binds_per_second"].(float64); b <= 0 || c["events"] != true {
				t.Errorf("ceiling %v: want binds_per_second and events true (the default)", c)
			}
			// The ceiling writes as the schedulers do and waits where they
			// wait in API Priority and Fairness, and its phase counts the
			// event writes still out at its last binding.
			if c["identity"] != "system:kube-scheduler" {
				t.Errorf("the ceiling wrote as %v, want system:kube-scheduler", c["identity"])
			}
			level, _ := c["writes_priority_level"].(string)
			if level == "" {
				t.Errorf("the ceiling's writes' APF priority level was not measured (verdict: %v)", r["verdict"])
			}
			for _, k := range []string{"kube", "myriad"} {
				s, _ := r[k].(map[string]any)
				if l, _ := s["writes_priority_level"].(string); l != level {
					t.Errorf("%s's writes waited in priority level %q, the ceiling's in %q", k, l, level)
				}
			}
			if _, ok := c["events_pending_at_last_binding"].(float64); !ok {
				t.Errorf("ceiling %v: no events_pending_at_last_binding", c)
			}
		}},
		{"density", []string{"density", "--nodes", "20", "--pods", "200", "--objects", "2000", "--duration", "20s"}, func(t *testing.T, r map[string]any) {
			need(t, r, "reached")
			need(t, r, "podStartup")
			ps := list(t, r, "phases")
			if len(ps) < 4 {
				t.Errorf("%d phases, want nodes, pods, objects and hold", len(ps))
			}
			// Every phase after nodes is judged in API latency windows,
			// each with data; the run's SLOs name their worst window.
			for _, p := range ps {
				ph := p.(map[string]any)
				if ph["name"] == "nodes" {
					continue
				}
				ws, _ := ph["windows"].([]any)
				if len(ws) == 0 {
					t.Errorf("%v phase: no API latency windows", ph["name"])
				}
				for _, w := range ws {
					if why, _ := w.(map[string]any)["noData"].(string); why != "" {
						t.Errorf("%v phase: window without data: %s", ph["name"], why)
					}
				}
			}
			for _, v := range list(t, r, "slos") {
				slo := v.(map[string]any)
				if slo["class"] == "pod startup" {
					continue
				}
				if n, _ := slo["windows"].(float64); n < 3 || slo["noData"] == true {
					t.Errorf("SLO %v judged over %v windows (noData %v), want every window of pods, objects and hold with data", slo["class"], slo["windows"], slo["noData"])
				}
			}
		}},
		{"cloneset", []string{"cloneset", "--nodes", "20", "--pods", "200"}, func(t *testing.T, r map[string]any) {
			phases := list(t, r, "phases")
			if len(phases) < 3 {
				t.Fatalf("%d phases, want scale, in-place and recreate", len(phases))
			}
			for _, p := range phases {
				ph := p.(map[string]any)
				if ph["done"] != true {
					t.Errorf("phase %v did not finish: %v", ph["kind"], ph["error"])
				}
				recreated, _ := ph["recreated"].(float64)
				switch ph["kind"] {
				case "in-place":
					if recreated != 0 {
						t.Errorf("in-place phase recreated %v pods", recreated)
					}
				case "recreate":
					if recreated != 200 {
						t.Errorf("recreate phase recreated %v pods, want 200", recreated)
					}
				}
			}
		}},
		{"watch-restart", []string{"watch-restart", "--objects", "400", "--watchers", "20", "--settle", "15s", "--observe", "60s"}, func(t *testing.T, r map[string]any) {
			for _, half := range []string{"bookmarksOn", "bookmarksOff"} {
				h, ok := r[half].(map[string]any)
				if !ok {
					t.Errorf("result.json has no %q (verdict: %v)", half, r["verdict"])
					continue
				}
				d, _ := h["disrupted"].(float64)
				if d < 1 {
					t.Errorf("%s: %v watchers disrupted by the restart, want some (verdict: %v)", half, h["disrupted"], r["verdict"])
				}
				rec, _ := h["recovery"].(map[string]any)
				if n, _ := rec["count"].(float64); n != d {
					t.Errorf("%s: %v of %v disrupted watchers re-established their watch, want all (verdict: %v)", half, rec["count"], d, r["verdict"])
				}
			}
		}},
		{"long-read", []string{"long-read", "--objects", "1000", "--phase-duration", "10s"}, func(t *testing.T, r map[string]any) {
			phases := list(t, r, "phases")
			if len(phases) != 5 {
				t.Fatalf("%d phases, want 5 (verdict: %v)", len(phases), r["verdict"])
			}
			for _, p := range phases {
				ph := p.(map[string]any)
				w, _ := ph["writes"].(map[string]any)
				if n, _ := w["count"].(float64); n < 1 {
					t.Errorf("phase %v timed no writes (verdict: %v)", ph["name"], r["verdict"])
				}
				if rd, _ := ph["reads"].(map[string]any); ph["kind"] != "baseline" {
					if n, _ := rd["count"].(float64); n < 1 {
						t.Errorf("read phase %v finished no read (verdict: %v)", ph["name"], r["verdict"])
					}
				}
			}
		}},
		{"etcd-size", []string{"etcd-size", "--duration", "15s", "--db-size", "64Mi", "--min-free", "1Gi"}, func(t *testing.T, r map[string]any) {
			runs := list(t, r, "runs")
			if len(runs) != 2 {
				t.Fatalf("%d runs, want map and array (verdict: %v)", len(runs), r["verdict"])
			}
			for _, x := range runs {
				run := x.(map[string]any)
				put, _ := run["put"].(map[string]any)
				if puts, _ := run["puts"].(float64); puts < 1 || put["p99Seconds"] == nil {
					t.Errorf("freelist %v: %v puts, put p99 %v; want puts timed (verdict: %v)", run["freelist"], run["puts"], put["p99Seconds"], r["verdict"])
				}
			}
		}},
		{"failover", []string{"failover", "--rounds", "1", "--nodes", "5", "--replicas", "5"}, func(t *testing.T, r map[string]any) {
			// Every component is measured beside the others, each with its
			// standby taking over after the kill.
			seen := map[string]bool{}
			for _, x := range list(t, r, "components") {
				c := x.(map[string]any)
				name, _ := c["component"].(string)
				seen[name] = true
				if c["measured"] != true {
					t.Errorf("%s not measured: %v", name, c["notMeasured"])
					continue
				}
				// One round with the dead leader's Lease left to expire,
				// one with the supervisor handing it over; the handover
				// must make the takeover faster than the Lease's expiry.
				means := map[string]float64{}
				for _, mode := range []string{"leaseExpired", "handedOver"} {
					m, _ := c[mode].(map[string]any)
					for _, fig := range []string{"leaseTaken", "firstWork"} {
						l, _ := m[fig].(map[string]any)
						if n, _ := l["count"].(float64); n != 1 {
							t.Errorf("%s, %s: %s timed in %v rounds, want 1 (rounds: %v)", name, mode, fig, l["count"], c["rounds"])
						}
						if fig == "firstWork" {
							means[mode], _ = l["meanSeconds"].(float64)
						}
					}
				}
				if means["handedOver"] <= 0 || means["handedOver"] >= means["leaseExpired"] {
					t.Errorf("%s: first work %.1f s with the handover, %.1f s with the Lease left to expire; want the handover faster", name, means["handedOver"], means["leaseExpired"])
				}
				if d, _ := c["leaseDurationSeconds"].(float64); d <= 0 {
					t.Errorf("%s: no leaseDurationSeconds", name)
				}
			}
			for _, name := range []string{"kube-controller-manager", "myriad-scheduler", "myriad-manager"} {
				if !seen[name] {
					t.Errorf("component %s not in the result", name)
				}
			}
		}},
		{"chaos", []string{"chaos", "--ha", "--duration", "40s", "--every", "8s", "--pause", "3s", "--nodes", "3", "--replicas", "4",
			"--churn-every", "5s", "--rollout-every", "10s", "--seed", "1"}, func(t *testing.T, r map[string]any) {
			// The checks the issue asks to be 0 ran and found nothing;
			// availability on a loaded machine is left to the verdict.
			if r["checked"] != true {
				t.Fatalf("the checks did not run: %v", r["verdict"])
			}
			if n, _ := r["acknowledgedWrites"].(float64); n < 100 {
				t.Errorf("%v acknowledged writes, want the writer's (verdict %v)", r["acknowledgedWrites"], r["verdict"])
			}
			if lost := list(t, r, "lostAcknowledgedWrites"); len(lost) != 0 {
				t.Errorf("acknowledged writes lost: %v", lost)
			}
			for _, k := range []string{"podsDoubleCreated", "podsLost", "falseNotReady"} {
				if n, ok := r[k].(float64); !ok || n != 0 {
					t.Errorf("%s = %v, want 0", k, r[k])
				}
			}
			// The workloads changed under the faults: a scale and an
			// in-place update at least (a custom resource refuses some
			// patch types, which once left every update refused).
			pods, _ := r["pods"].(map[string]any)
			for _, k := range []string{"scales", "rollouts"} {
				if n, _ := pods[k].(float64); n < 1 {
					t.Errorf("pods.%s = %v, want at least 1 (%v)", k, pods[k], pods["lastRolloutError"])
				}
			}
			faults := list(t, r, "faults")
			if len(faults) < 2 {
				t.Fatalf("%d faults injected in 40s every 8s, want several", len(faults))
			}
			for _, x := range faults {
				f := x.(map[string]any)
				if f["error"] != nil || f["processBackSeconds"] == nil || f["serviceBackSeconds"] == nil {
					t.Errorf("fault %v %v: error %v, back %v, service %v", f["signal"], f["process"], f["error"], f["processBackSeconds"], f["serviceBackSeconds"])
				}
			}
		}},
		{"tenancy", []string{"tenancy", "--nodes", "5", "--tenants", "3", "--pods", "60", "--greedy", "1", "--burst", "60", "--regular-pods", "3", "--idle-window", "5s"}, func(t *testing.T, r map[string]any) {
			for phase, want := range map[string]float64{"direct": 60, "throughTenants": 60} {
				p, _ := r[phase].(map[string]any)
				if n, _ := p["running"].(float64); n != want {
					t.Errorf("%s: %v pods Running, want %v (verdict %v)", phase, p["running"], want, r["verdict"])
				}
			}
			f, _ := r["fairness"].(map[string]any)
			for group, want := range map[string]float64{"greedy": 60, "regular": 6} {
				g, _ := f[group].(map[string]any)
				if n, _ := g["running"].(float64); n != want {
					t.Errorf("fairness %s: %v pods Running, want %v", group, g["running"], want)
				}
			}
			for _, k := range []string{"addedP99", "throughputLoss", "idlePssBytesPerTenant", "idleCoresPerTenant", "syncerCpuSecondsPer1000Pods"} {
				if _, ok := r[k].(float64); !ok {
					t.Errorf("%s missing: %s", k, noDataReason(r))
				}
			}
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append(append([]string{"bench"}, sc.args...), "--out", out)...)
			log, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				// The start's own progress line says which step it waits
				// for; the logs of the components behind that step say why.
				t.Fatalf("myriad bench %s did not finish in 10 minutes:\n%s\n%s", sc.name, tail(string(log)),
					tailLogs(filepath.Join(out, "cluster"), "nodes", "kube-controller-manager-*", "myriad-scheduler-0"))
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
			need(t, r, "machine")
			if err != nil {
				t.Logf("myriad bench %s exited with %v (a missed SLO on a shared machine is allowed):\n%s", sc.name, err, tail(string(log)))
			}
			sc.check(t, r)
		})
	}
}

// noDataReason is the verdict's reasons that say a figure was not
// measured, or all its reasons when none does.
func noDataReason(r map[string]any) string {
	v, _ := r["verdict"].(map[string]any)
	reasons, _ := v["reasons"].([]any)
	var noData, all []string
	for _, x := range reasons {
		s, _ := x.(string)
		all = append(all, s)
		if strings.HasPrefix(s, "no data:") {
			noData = append(noData, s)
		}
	}
	if len(noData) > 0 {
		return strings.Join(noData, "; ")
	}
	if len(all) == 0 {
		return "the verdict gives no reason"
	}
	return strings.Join(all, "; ")
}

func need(t *testing.T, r map[string]any, key string) {
	t.Helper()
	if v, ok := r[key]; !ok || v == nil {
		t.Errorf("result.json has no %q", key)
	}
}

func list(t *testing.T, r map[string]any, key string) []any {
	t.Helper()
	l, _ := r[key].([]any)
	if l == nil {
		t.Errorf("result.json has no list %q", key)
	}
	return l
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
