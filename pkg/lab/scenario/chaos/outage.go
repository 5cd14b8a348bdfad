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

// Outages finds every stretch of failed probes in ops (in any order). A
// probe slower than timeout counts as failed: a user waiting that long
// does not have an API.
func Outages(ops []lab.TimedOp, timeout time.Duration) []Outage {
	ops = append([]lab.TimedOp(nil), ops...)
	sort.Slice(ops, func(i, j int) bool { return ops[i].At.Before(ops[j].At) })
	var out []Outage
	var cur *Outage
	for _, op := range ops {
		end := op.At.Add(time.Duration(op.Seconds * float64(time.Second)))
		failed := op.Err || time.Duration(op.Seconds*float64(time.Second)) > timeout
		switch {
		case failed && cur == nil:
			cur = &Outage{Start: op.At, End: end, Failed: 1, Open: true}
		case failed:
			cur.Failed++
			if end.After(cur.End) {
				cur.End = end
			}
		case cur != nil:
			// Probes overlap: a success sent before the outage began
			// but answered during it says nothing about the outage.
			if !op.At.After(cur.Start) {
				continue
			}
			cur.End, cur.Open = end, false
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
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
