package chaos

import (
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Target is a process a fault may hit.
type Target struct {
	// Process is the supervisor's name (kube-apiserver-1, etcd-0, ...).
	Process string
	// Kind is the component (kube-apiserver, etcd, ...): faults and
	// figures are per kind.
	Kind string
	// Leader: the instance the others follow (etcd's raft leader, the
	// holder of a controller's Lease).
	Leader bool
}

// Injection is one fault as drawn.
type Injection struct {
	Target Target
	Signal syscall.Signal
	// Pause is how long a SIGSTOP lasts before SIGCONT; 0 for SIGKILL.
	Pause time.Duration
}

// Planner draws faults. Every draw comes from Rand, so a run is repeated
// by giving --seed again.
type Planner struct {
	Rand *rand.Rand
	// KillShare is the share of faults that are SIGKILL; the rest pause.
	KillShare float64
	// PauseMin and PauseMax bound a pause.
	PauseMin, PauseMax time.Duration
	// Every is the mean time between faults: each gap is drawn from
	// [Every/2, 3*Every/2].
	Every time.Duration
	// LeaderShare is the chance that a kind with a leader has its leader
	// hit rather than a follower: leaders are where failover happens.
	LeaderShare float64
}

// Next draws a fault among targets: a kind first (each kind as likely,
// however many instances it has), then an instance of it. ok is false
// when there is nothing to hit.
func (p Planner) Next(targets []Target) (f Injection, ok bool) {
	var kinds []string
	for _, t := range targets {
		if !slices.Contains(kinds, t.Kind) {
			kinds = append(kinds, t.Kind)
		}
	}
	if len(kinds) == 0 {
		return Injection{}, false
	}
	slices.Sort(kinds) // the draw must not depend on the order targets came in
	kind := kinds[p.Rand.IntN(len(kinds))]
	var leaders, others []Target
	for _, t := range targets {
		switch {
		case t.Kind != kind:
		case t.Leader:
			leaders = append(leaders, t)
		default:
			others = append(others, t)
		}
	}
	byName := func(a, b Target) int { return strings.Compare(a.Process, b.Process) }
	slices.SortFunc(leaders, byName)
	slices.SortFunc(others, byName)
	pool := append(leaders, others...)
	if len(leaders) > 0 && len(others) > 0 {
		pool = others
		if p.Rand.Float64() < p.LeaderShare {
			pool = leaders
		}
	}
	f.Target = pool[p.Rand.IntN(len(pool))]
	f.Signal = syscall.SIGKILL
	if p.Rand.Float64() >= p.KillShare {
		f.Signal = syscall.SIGSTOP
		f.Pause = p.PauseMin
		if span := p.PauseMax - p.PauseMin; span > 0 {
			f.Pause += time.Duration(p.Rand.Int64N(int64(span)))
		}
	}
	return f, true
}

// Gap is the wait before the next fault, once the cluster is whole.
func (p Planner) Gap() time.Duration {
	if p.Every <= 0 {
		return 0
	}
	return p.Every/2 + time.Duration(p.Rand.Int64N(int64(p.Every)))
}
