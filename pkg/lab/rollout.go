package lab

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// The workload scenarios (`myriad bench cloneset`, `sidecarset`, ...) time
// rollouts the same way (WorkloadPods) and judge them by the same rules;
// this file holds those rules once. A scenario keeps its own phase records
// and result.json layout, and fills them from these.

// Rollout kinds every workload scenario names the same way.
const (
	RolloutInPlace  = "in-place"
	RolloutRecreate = "recreate"
)

// SharedMachineCores is how much CPU other work may use during a phase,
// on average, before the result warns that the machine was shared.
const SharedMachineCores = 0.25

// Rollout is how a rollout phase went, from its pod figures.
type Rollout struct {
	// Seconds is start → done (pods and status); PodsSeconds start → every
	// pod updated as the pod watch saw it; StatusSeconds start → the
	// workload's status saying so. Nil when not reached.
	Seconds, PodsSeconds, StatusSeconds *float64
	// PodsPerSecond is want over Seconds.
	PodsPerSecond *float64
	// Done says the phase finished without error.
	Done bool
	// Reached says how far a phase that was not done got.
	Reached string
}

// RolloutOf reads a phase that ran from start to end for want pods and
// ended with err (empty when none); whose names the workload in Reached
// ("the CloneSet's").
func RolloutOf(f PodFigures, start, end time.Time, want int, err, whose string) Rollout {
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		return Some(t.Sub(start).Seconds())
	}
	r := Rollout{Seconds: since(f.DoneAt), PodsSeconds: since(f.PodsDoneAt), StatusSeconds: since(f.StatusDoneAt)}
	r.Done = f.DoneAt != nil && err == ""
	if r.Seconds != nil && *r.Seconds > 0 {
		r.PodsPerSecond = Some(float64(want) / *r.Seconds)
	}
	if !r.Done {
		r.Reached = fmt.Sprintf("%d of %d pods updated (%d available, %d live, %d terminating) after %s",
			f.Final.Updated, want, f.Final.Available, f.Final.Live, f.Final.Terminating, end.Sub(start).Round(time.Second))
		if f.PodsDoneAt != nil && f.StatusDoneAt == nil {
			r.Reached += "; every pod was updated but " + whose + " status never said so"
		}
	}
	return r
}

// RolloutLimits are what a finished rollout phase is judged against.
type RolloutLimits struct {
	// MaxUnavailable is the flag as given, MaxUnavailablePods resolved.
	MaxUnavailable     string
	MaxUnavailablePods int
	// InPlaceChange names what an in-place phase changed ("an image-only
	// change"): it must keep every pod.
	InPlaceChange string
}

// JudgeRollout says why a finished rollout phase, called name, fails the
// run: an in-place one that recreated pods, a recreating one that did not
// replace every one of want, or one that made more pods unavailable at
// once (maxUnavailable, nil when not measured) than the limit allows.
func JudgeRollout(name, kind string, want, recreated int, maxUnavailable *int, l RolloutLimits) []string {
	var reasons []string
	switch kind {
	case RolloutInPlace:
		if recreated > 0 {
			reasons = append(reasons, fmt.Sprintf("%s recreated %d pods; %s must keep every pod", name, recreated, l.InPlaceChange))
		}
	case RolloutRecreate:
		if recreated != want {
			reasons = append(reasons, fmt.Sprintf("%s recreated %d of %d pods", name, recreated, want))
		}
	}
	if maxUnavailable != nil && *maxUnavailable > l.MaxUnavailablePods {
		reasons = append(reasons, fmt.Sprintf("%s had %d pods unavailable at once; maxUnavailable %s allows %d", name, *maxUnavailable, l.MaxUnavailable, l.MaxUnavailablePods))
	}
	return reasons
}

// SharedMachine is the warning for a phase of secs seconds, called name,
// during which other work used otherCPU seconds (nil when unknown), when
// that is more than SharedMachineCores on average.
func SharedMachine(name string, otherCPU *float64, secs float64) (string, bool) {
	if otherCPU == nil || secs <= 0 || *otherCPU <= SharedMachineCores*secs {
		return "", false
	}
	return fmt.Sprintf("%s shared the machine: other work used %.1f cores on average, so its times are longer than on a quiet machine", name, *otherCPU/secs), true
}

// RunWarnings are the warnings a workload run ends with: the phases that
// never ran and why, and how many metrics scrapes failed.
func RunWarnings(skipped []string, scrapeErrors int) []string {
	var w []string
	for _, s := range skipped {
		w = append(w, "not run: "+s)
	}
	if scrapeErrors > 0 {
		w = append(w, fmt.Sprintf("%d metrics scrapes failed; API and manager figures of those phases are missing (see scrapeErrors)", scrapeErrors))
	}
	return w
}

// PositiveMaxUnavailable parses a maxUnavailable flag (flag names it in
// errors) that must be a positive number of units ("pods", "nodes") or a
// percentage from 1% to 100%.
func PositiveMaxUnavailable(flag, s, units string) (intstr.IntOrString, error) {
	t := strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(t, "%"); ok {
		if n, err := strconv.Atoi(pct); err == nil && n >= 1 && n <= 100 {
			return intstr.FromString(t), nil
		}
	} else if n, err := strconv.Atoi(t); err == nil && n >= 1 && n <= 1<<30 {
		return intstr.FromInt32(int32(n)), nil
	}
	return intstr.IntOrString{}, fmt.Errorf("%s must be a positive number of %s or a percentage from 1%% to 100%%, got %q", flag, units, s)
}

// RoundedUpBudget is how many of total may be unavailable at once under
// maxUnavailable v: a percentage rounded up, as the DaemonSet and
// StatefulSet controllers (upstream and Advanced) resolve it, and at
// least 1.
func RoundedUpBudget(v intstr.IntOrString, total int) (int, error) {
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, total, true)
	if err != nil {
		return 0, fmt.Errorf("--max-unavailable: %w", err)
	}
	return max(n, 1), nil
}
