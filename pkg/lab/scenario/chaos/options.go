package chaos

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Options are `myriad bench chaos`'s flags.
type Options struct {
	Rig rig.Options
	// HA runs the cluster with `myriad up --ha`.
	HA bool
	// Duration is how long faults are injected; the checks follow.
	Duration time.Duration
	// Every is the mean time between faults (after the cluster is whole
	// again); KillShare the share that are SIGKILL, the rest SIGSTOP for
	// PauseMin..PauseMax.
	Every              time.Duration
	KillShare          float64
	PauseMin, PauseMax time.Duration
	// Kinds may be hit (see Kinds); Seed repeats a run's draws.
	Kinds []string
	Seed  uint64
	// WriteRate is ConfigMap writes per second; ReadRate read probes.
	WriteRate, ReadRate float64
	// Replicas is the CloneSet's size and the Deployment's largest; the
	// Deployment moves between half and all of it every ChurnEvery, the
	// CloneSet is updated in place every RolloutEvery.
	Replicas                 int
	ChurnEvery, RolloutEvery time.Duration
	// MaxUnavailable is the longest the API may not answer before it
	// counts as a violation; RecoveryTimeout the longest a fault may take
	// to heal before the run stops; SettleTimeout how long the pods get
	// to reach their final state after the last fault.
	MaxUnavailable, RecoveryTimeout, SettleTimeout time.Duration
	// MaxStall is the longest one request may go unanswered while others
	// are answered: etcd itself holds a write that was in flight when its
	// leader went away for its request timeout (7 s with Myriad's
	// settings) before it fails, so the default allows that and no more.
	MaxStall time.Duration
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	if o.Rig.Attached() {
		return fmt.Errorf("--kubeconfig: chaos kills the cluster's processes, so it runs only on a cluster it starts")
	}
	for i, k := range o.Kinds {
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("--targets must be among %s, got %q", strings.Join(Kinds, ", "), k)
		}
		if slices.Contains(o.Kinds[:i], k) {
			return fmt.Errorf("--targets names %s twice", k)
		}
	}
	switch {
	case len(o.Kinds) == 0:
		return fmt.Errorf("--targets must name at least one of %s", strings.Join(Kinds, ", "))
	case o.Duration < 30*time.Second:
		return fmt.Errorf("--duration must be at least 30s, got %s", o.Duration)
	case o.Every < time.Second:
		return fmt.Errorf("--every must be at least 1s, got %s", o.Every)
	case o.KillShare < 0 || o.KillShare > 1:
		return fmt.Errorf("--kill-share must be between 0 and 1, got %g", o.KillShare)
	case o.PauseMin < 100*time.Millisecond || o.PauseMax < o.PauseMin:
		return fmt.Errorf("--pause must be MIN-MAX with 100ms <= MIN <= MAX, got %s-%s", o.PauseMin, o.PauseMax)
	case o.WriteRate <= 0 || o.WriteRate > 2000:
		return fmt.Errorf("--write-rate must be above 0 and at most 2000 per second, got %g", o.WriteRate)
	case o.ReadRate <= 0 || o.ReadRate > 100:
		return fmt.Errorf("--read-rate must be above 0 and at most 100 per second, got %g", o.ReadRate)
	case o.Replicas < 2 || o.Replicas > 10000:
		return fmt.Errorf("--replicas must be between 2 and 10000, got %d", o.Replicas)
	case o.ChurnEvery < time.Second || o.RolloutEvery < time.Second:
		return fmt.Errorf("--churn-every and --rollout-every must be at least 1s, got %s and %s", o.ChurnEvery, o.RolloutEvery)
	case o.MaxUnavailable < 100*time.Millisecond:
		return fmt.Errorf("--max-unavailable must be at least 100ms, got %s", o.MaxUnavailable)
	case o.MaxStall < o.MaxUnavailable:
		return fmt.Errorf("--max-stall must be at least --max-unavailable (%s), got %s", o.MaxUnavailable, o.MaxStall)
	case o.RecoveryTimeout < 10*time.Second || o.SettleTimeout < 10*time.Second:
		return fmt.Errorf("--recovery-timeout and --settle-timeout must be at least 10s, got %s and %s", o.RecoveryTimeout, o.SettleTimeout)
	case o.Rig.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1: the pods need somewhere to run, got %d", o.Rig.Nodes)
	}
	return nil
}

// ParsePause reads --pause: "MIN-MAX" or one duration for both.
func ParsePause(s string) (lo, hi time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err == nil {
		hi, err = time.ParseDuration(strings.TrimSpace(b))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("--pause must be MIN-MAX (e.g. 5s-20s) or one duration, got %q", s)
	}
	return lo, hi, nil
}

func parameters(o Options) map[string]string {
	mode := "single (myriad up)"
	if o.HA {
		mode = "HA (myriad up --ha)"
	}
	return map[string]string{
		"mode":       mode,
		"duration":   o.Duration.String() + " of faults, then the checks",
		"faults":     fmt.Sprintf("one at a time, once the cluster is whole again, every %s on average (uniform in ±50%%)", o.Every),
		"signals":    fmt.Sprintf("SIGKILL %.0f%%, else SIGSTOP for %s–%s then SIGCONT", o.KillShare*100, o.PauseMin, o.PauseMax),
		"targets":    strings.Join(o.Kinds, ", ") + " (each kind as likely; a kind's leader half the time)",
		"seed":       strconv.FormatUint(o.Seed, 10),
		"writes":     fmt.Sprintf("%g ConfigMap writes/s (half creates, half conditional updates), each acknowledged one checked at the end", o.WriteRate),
		"reads":      fmt.Sprintf("%g quorum GETs/s through the API's front door", o.ReadRate),
		"pods":       fmt.Sprintf("a Deployment between %d and %d replicas every %s; a CloneSet of %d updated in place every %s", o.Replicas/2, o.Replicas, o.ChurnEvery, o.Replicas, o.RolloutEvery),
		"budget":     "an outage longer than " + o.MaxUnavailable.String() + " is an availability violation",
		"nodes":      strconv.Itoa(o.Rig.Nodes),
		"dataDir":    o.Rig.DataDir,
		"apiservers": strconv.Itoa(o.Rig.APIServers),
		"recovery":   "a fault not healed within " + o.RecoveryTimeout.String() + " stops the run",
		"settle":     o.SettleTimeout.String() + " for the pods to reach their final state",
		"command":    strings.Join(os.Args, " "),
	}
}
