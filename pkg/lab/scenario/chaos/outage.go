package chaos

import (
	"sort"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Outage is a stretch of time in which no probe of one kind (reads, or
// writes) succeeded.
type Outage struct {
	// Start is when the first failed probe was sent, End when the next
	// successful one answered (the last answer seen, when none did:
	// Open).
	Start, End time.Time
	Failed     int
	Open       bool
}

// Seconds is the outage's length.
func (o Outage) Seconds() float64 { return o.End.Sub(o.Start).Seconds() }

// Outages finds every stretch of failed probes in ops (in any order).
// Each failed probe opens an interval from when it was sent to the first
// answer to a successful probe sent after it (the last answer of any
// probe when none was: Open); overlapping intervals are one outage. A
// slow probe that was answered is not a failure here; Stalls finds it.
func Outages(ops []lab.TimedOp) []Outage {
	end := func(op lab.TimedOp) time.Time { return op.At.Add(time.Duration(op.Seconds * float64(time.Second))) }
	var ok, failed []lab.TimedOp
	last := time.Time{}
	for _, op := range ops {
		if end(op).After(last) {
			last = end(op)
		}
		if op.Err {
			failed = append(failed, op)
		} else {
			ok = append(ok, op)
		}
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i].At.Before(ok[j].At) })
	sort.Slice(failed, func(i, j int) bool { return failed[i].At.Before(failed[j].At) })
	// firstAnswer[i] is the earliest answer among ok[i:].
	firstAnswer := make([]time.Time, len(ok)+1)
	for i := len(ok) - 1; i >= 0; i-- {
		firstAnswer[i] = end(ok[i])
		if n := firstAnswer[i+1]; !n.IsZero() && n.Before(firstAnswer[i]) {
			firstAnswer[i] = n
		}
	}
	var out []Outage
	for _, f := range failed {
		i := sort.Search(len(ok), func(i int) bool { return ok[i].At.After(f.At) })
		o := Outage{Start: f.At, End: firstAnswer[i], Failed: 1}
		if o.End.IsZero() {
			o.End, o.Open = last, true
		}
		if n := len(out); n > 0 && !o.Start.After(out[n-1].End) {
			prev := &out[n-1]
			prev.Failed++
			if o.End.After(prev.End) {
				prev.End = o.End
			}
			prev.Open = prev.Open || o.Open
			continue
		}
		out = append(out, o)
	}
	return out
}

// Stalls are the probes, answered or not, that took longer than budget:
// while others were answered, the users of these waited past what the
// run allows (a request held by a paused member, a connection to a hung
// server).
func Stalls(ops []lab.TimedOp, budget time.Duration) []Outage {
	var out []Outage
	for _, op := range ops {
		d := time.Duration(op.Seconds * float64(time.Second))
		if d > budget {
			out = append(out, Outage{Start: op.At, End: op.At.Add(d), Failed: map[bool]int{true: 1}[op.Err]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Violations are the outages longer than budget: the availability the
// run judges.
func Violations(outages []Outage, budget time.Duration) []Outage {
	var v []Outage
	for _, o := range outages {
		if o.End.Sub(o.Start) > budget {
			v = append(v, o)
		}
	}
	return v
}
