// Package usage is the simulated containers' resource usage as data: what
// share of a CPU and how many bytes of memory a container uses at a given
// time since it started, from a one-line model a pod annotation carries.
//
// The grammar (one model per resource; amounts are Kubernetes quantities,
// "250m" or "1.5" cores, "256Mi" bytes, or a percentage of the container's
// request):
//
//	250m                       constant
//	40%                        constant, 40% of the request
//	ramp 100m 900m 5m          from, to, over (then holds at to)
//	sine 100m 900m 10m         low, high, period (starts at the midpoint, rising)
//	steps 0s=100m 2m=800m 5m=100m
//	                           a schedule since the container started;
//	                           each amount holds until the next step
//
// The package is pure: no clock, no I/O, no Kubernetes objects. It must
// never allocate per evaluation (At is called for every container at every
// scrape of 10,000 nodes).
package usage

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// maxAmount bounds amounts, so that no model computes an infinity.
const maxAmount = 1e18

// Amount is a quantity, or a fraction of the container's request.
type Amount struct {
	Value     float64 // cores or bytes; or a fraction (0.4 for 40%) when OfRequest
	OfRequest bool
}

// resolve is the amount for a container that requests request.
func (a Amount) resolve(request float64) float64 {
	if a.OfRequest {
		return a.Value * request
	}
	return a.Value
}

// Kind names a model's shape.
type Kind int

const (
	Constant Kind = iota
	Ramp
	Sine
	Steps
)

// Step is one entry of a schedule: Amount from After on.
type Step struct {
	After  time.Duration
	Amount Amount
}

// Model is a container's usage of one resource as a function of the time
// since it started.
type Model struct {
	Kind Kind
	// Constant: A. Ramp: A to B over Period. Sine: between A and B with
	// Period.
	A, B   Amount
	Period time.Duration
	Steps  []Step // Steps, sorted by After, the first at 0
}

// At is the usage after the container has run for since, for a container
// that requests request (cores or bytes; the base of percentages).
// Never negative.
func (m Model) At(since time.Duration, request float64) float64 {
	since = max(since, 0)
	var v float64
	switch m.Kind {
	case Constant:
		v = m.A.resolve(request)
	case Ramp:
		a, b := m.A.resolve(request), m.B.resolve(request)
		f := 1.0
		if since < m.Period {
			f = float64(since) / float64(m.Period)
		}
		v = a + (b-a)*f
	case Sine:
		lo, hi := m.A.resolve(request), m.B.resolve(request)
		phase := 2 * math.Pi * float64(since%m.Period) / float64(m.Period)
		v = (lo+hi)/2 + (hi-lo)/2*math.Sin(phase)
	case Steps:
		// The last step at or before since; the first step is at 0.
		i, found := slices.BinarySearchFunc(m.Steps, since, func(s Step, t time.Duration) int { return cmp.Compare(s.After, t) })
		if !found {
			i--
		}
		v = m.Steps[max(i, 0)].Amount.resolve(request)
	}
	return max(v, 0)
}

// Parse reads a model. Errors say what is wrong in one line, naming the
// word at fault.
func Parse(s string) (Model, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Model{}, fmt.Errorf("empty usage model")
	}
	switch f[0] {
	case "ramp", "sine":
		if len(f) != 4 {
			return Model{}, fmt.Errorf("%s takes three words (%s LOW HIGH DURATION), got %d", f[0], f[0], len(f)-1)
		}
		a, err := parseAmount(f[1])
		if err != nil {
			return Model{}, err
		}
		b, err := parseAmount(f[2])
		if err != nil {
			return Model{}, err
		}
		d, err := time.ParseDuration(f[3])
		if err != nil || d <= 0 {
			return Model{}, fmt.Errorf("%s: the duration %q must be positive, like 5m", f[0], f[3])
		}
		k := Ramp
		if f[0] == "sine" {
			k = Sine
		}
		return Model{Kind: k, A: a, B: b, Period: d}, nil
	case "steps":
		if len(f) < 2 {
			return Model{}, fmt.Errorf("steps needs at least one AFTER=AMOUNT, like 0s=100m")
		}
		m := Model{Kind: Steps}
		for _, w := range f[1:] {
			at, amt, ok := strings.Cut(w, "=")
			if !ok {
				return Model{}, fmt.Errorf("steps: %q is not AFTER=AMOUNT, like 2m=800m", w)
			}
			d, err := time.ParseDuration(at)
			if err != nil || d < 0 {
				return Model{}, fmt.Errorf("steps: %q is not a duration since the container started, like 2m", at)
			}
			a, err := parseAmount(amt)
			if err != nil {
				return Model{}, err
			}
			m.Steps = append(m.Steps, Step{After: d, Amount: a})
		}
		slices.SortStableFunc(m.Steps, func(x, y Step) int { return cmp.Compare(x.After, y.After) })
		if m.Steps[0].After != 0 {
			return Model{}, fmt.Errorf("steps: the first step must be at 0s, got %s", m.Steps[0].After)
		}
		return m, nil
	}
	if len(f) != 1 {
		return Model{}, fmt.Errorf("unknown usage model %q: want an amount, ramp, sine or steps", f[0])
	}
	a, err := parseAmount(f[0])
	if err != nil {
		return Model{}, err
	}
	return Model{Kind: Constant, A: a}, nil
}

func parseAmount(s string) (Amount, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || !(v >= 0 && v <= 1e6) {
			return Amount{}, fmt.Errorf("%q is not a percentage of the request between 0%% and 1000000%%, like 40%%", s)
		}
		return Amount{Value: v / 100, OfRequest: true}, nil
	}
	if hugeExponent(s) {
		return Amount{}, fmt.Errorf("%q is more than any machine has (at most 1E (bytes or cores))", s)
	}
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() < 0 {
		return Amount{}, fmt.Errorf("%q is not an amount, like 250m (cores), 256Mi (bytes) or 40%% (of the request)", s)
	}
	v := q.AsApproximateFloat64()
	if v > maxAmount || math.IsNaN(v) {
		return Amount{}, fmt.Errorf("%q is more than any machine has (at most 1E (bytes or cores))", s)
	}
	return Amount{Value: v}, nil
}

// crossingSlack puts FirstAbove's answer a millisecond past a computed
// crossing, so float rounding never lands it just before.
const crossingSlack = time.Millisecond

// Never is FirstAbove's answer for a model that never exceeds the level.
const Never = time.Duration(-1)

// FirstAbove is how long after since the model first exceeds level (0:
// it already does), or Never. It is what a kubelet's OOM killer acts on:
// a container whose memory model passes its limit is killed at that
// moment, and the simulator looks again exactly then rather than polling.
func (m Model) FirstAbove(level float64, since time.Duration, request float64) time.Duration {
	since = max(since, 0)
	if m.At(since, request) > level {
		return 0
	}
	switch m.Kind {
	case Ramp:
		a, b := m.A.resolve(request), m.B.resolve(request)
		if b <= level || since >= m.Period {
			return Never
		}
		// a + (b-a)·t/P > level for t > P·(level-a)/(b-a); a moment past
		// the crossing, where At is surely above level.
		t := time.Duration(float64(m.Period)*(level-a)/(b-a)) + crossingSlack
		return max(t-since, 0)
	case Sine:
		lo, hi := m.A.resolve(request), m.B.resolve(request)
		if hi <= level {
			return Never
		}
		// The model is above level while sin(θ) > s, θ in (θ0, π-θ0).
		mid, amp := (lo+hi)/2, (hi-lo)/2
		theta0 := math.Asin(min(max((level-mid)/amp, -1), 1))
		period := float64(m.Period)
		cycle := math.Floor(float64(since) / period)
		for _, c := range []float64{cycle, cycle + 1} {
			t := time.Duration(period*(c+theta0/(2*math.Pi))) + crossingSlack
			if theta0 < 0 && c == cycle {
				// Below the midpoint the crossing is late in the cycle.
				t = time.Duration(period*(c+1+theta0/(2*math.Pi))) + crossingSlack
			}
			if t > since {
				return t - since
			}
		}
		return Never
	case Steps:
		for _, s := range m.Steps {
			if s.After > since && s.Amount.resolve(request) > level {
				return s.After - since
			}
		}
	}
	return Never
}

// Select is the model text for container among a pod's annotations: the
// container's own key (key.CONTAINER) wins over the pod's (key).
func Select(annotations map[string]string, key, container string) (string, bool) {
	if len(annotations) == 0 {
		return "", false // most pods: no key to build
	}
	if v, ok := annotations[key+"."+container]; ok {
		return v, true
	}
	v, ok := annotations[key]
	return v, ok
}

// hugeExponent: s has a decimal exponent of three digits or more
// ("1e400"), which is no usage a machine has and which the quantity
// parser would expand digit by digit (a long one takes minutes).
func hugeExponent(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != 'e' && s[i] != 'E' {
			continue
		}
		rest := strings.TrimLeft(s[i+1:], "+-")
		digits := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
		if digits > 2 {
			return true
		}
	}
	return false
}
