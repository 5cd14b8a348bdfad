package chaos

import (
	"fmt"
	"slices"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Input is everything the result is built from.
type Input struct {
	Info lab.RunInfo
	// FaultsFrom and FaultsTo bound the faults and the traffic.
	FaultsFrom, FaultsTo time.Time
	Faults               []FaultInput
	Reads, Writes        []lab.TimedOp
	// ReadErrors and WriteErrors are the failed probes by cause.
	ReadErrors, WriteErrors []ErrorCount
	MaxUnavailable          time.Duration
	MaxStall                time.Duration
	// Acked and Unknown count the writes; Lost are the acknowledged ones
	// missing at the end (Checked: the check ran).
	Acked, Unknown int
	Lost           []string
	Checked        bool
	Pods           PodCheck
	Readiness      lab.ReadinessSummary
}

// Result is the run's figures.
type Result struct {
	lab.RunInfo
	Faults []Fault `json:"faults"`
	// Kinds sum the faults up per component.
	Kinds        []Kind       `json:"components"`
	Reads        Availability `json:"reads"`
	Writes       Availability `json:"writes"`
	Acked        int          `json:"acknowledgedWrites"`
	Unknown      int          `json:"writesOfUnknownOutcome"`
	Lost         []string     `json:"lostAcknowledgedWrites"`
	Checked      bool         `json:"checked"`
	Pods         PodCheck     `json:"pods"`
	Doubled      int          `json:"podsDoubleCreated"`
	PodsLost     int          `json:"podsLost"`
	Violations   int          `json:"availabilityViolations"`
	FalseNotRdy  int          `json:"falseNotReady"`
	BudgetSecond float64      `json:"maxUnavailableSeconds"`
	StallSecond  float64      `json:"maxStallSeconds"`

	reads, writes []lab.TimedOp
	from          time.Time
}

// Fault is one fault's figures, in seconds after it was injected.
type Fault struct {
	Process string  `json:"process"`
	Kind    string  `json:"component"`
	Leader  bool    `json:"leader"`
	Signal  string  `json:"signal"`
	At      float64 `json:"atSeconds"` // since the faults began
	Pause   float64 `json:"pauseSeconds,omitempty"`
	// Back is the process serving again; Service the component's
	// function working again (the API answering for an API server or
	// etcd member, a live leader for a leader-elected component, node
	// heartbeats for the simulator): the time to recovery.
	Back    *float64 `json:"processBackSeconds,omitempty"`
	Service *float64 `json:"serviceBackSeconds,omitempty"`
	// Outage is the longest stretch without an answer through the API
	// that began while this fault healed; SinglePoint says the kind ran
	// one instance, so the outage is the design's, not a violation.
	Outage      float64 `json:"apiOutageSeconds"`
	Stalled     int     `json:"stalledRequests"`
	SinglePoint bool    `json:"singlePoint"`
	Err         string  `json:"error,omitempty"`
}

// Kind is one component's faults summed up.
type Kind struct {
	Kind    string        `json:"component"`
	Faults  int           `json:"faults"`
	Kills   int           `json:"kills"`
	Pauses  int           `json:"pauses"`
	Leaders int           `json:"leadersHit"`
	Service lab.Latencies `json:"serviceBack"`
	// KilledLeader is the time to recovery over the kills of a leader
	// (or of the only instance): the failover figure.
	KilledLeader lab.Latencies `json:"killedLeaderServiceBack"`
	Back         lab.Latencies `json:"processBack"`
	Outage       float64       `json:"longestApiOutageSeconds"`
	Stalled      int           `json:"stalledRequests"`
}

// Availability is one kind of probe over the faults.
type Availability struct {
	Probes  int          `json:"probes"`
	Failed  int          `json:"failed"`
	Errors  []ErrorCount `json:"errors"`
	Outages []Outaged    `json:"outages"`
	// Stalls are the probes that took longer than the budget.
	Stalls  []Outaged     `json:"stalls"`
	Latency lab.Latencies `json:"latency"`
}

// Outaged is an outage with the fault it followed.
type Outaged struct {
	At      float64 `json:"atSeconds"`
	Seconds float64 `json:"seconds"`
	Failed  int     `json:"failedProbes"`
	Open    bool    `json:"open,omitempty"`
	// Fault is the index of the fault it followed, -1 for none.
	Fault int `json:"fault"`
	// Violation: longer than the budget and not a single point of
	// failure's.
	Violation bool `json:"violation"`
}

// healing is how long after a fault's recovery an outage that began is
// still the fault's: a client's request sent just before the recovery
// may fail just after it.
const healing = 2 * time.Second

// Build turns the input into figures and the verdict.
func Build(in Input) *Result {
	r := &Result{RunInfo: in.Info, Acked: in.Acked, Unknown: in.Unknown, Lost: in.Lost, Checked: in.Checked, Pods: in.Pods,
		FalseNotRdy: in.Readiness.FalseNotReady, BudgetSecond: in.MaxUnavailable.Seconds(), StallSecond: in.MaxStall.Seconds(), reads: in.Reads, writes: in.Writes, from: in.FaultsFrom}
	if r.Lost == nil {
		r.Lost = []string{}
	}
	ends := make([]time.Time, len(in.Faults))
	for i, fi := range in.Faults {
		ends[i] = healed(fi)
	}
	readOut := attribute(Outages(in.Reads), in, ends)
	writeOut := attribute(Outages(in.Writes), in, ends)
	readStalls := attribute(Stalls(in.Reads, in.MaxUnavailable), in, ends)
	writeStalls := attribute(Stalls(in.Writes, in.MaxUnavailable), in, ends)
	r.Reads = availability(in.Reads, readOut, readStalls, in)
	r.Writes = availability(in.Writes, writeOut, writeStalls, in)
	r.Reads.Errors, r.Writes.Errors = orEmpty(in.ReadErrors), orEmpty(in.WriteErrors)
	for i, fi := range in.Faults {
		f := fault(fi, i, in, append(slices.Clone(readOut), writeOut...))
		for _, st := range append(slices.Clone(readStalls), writeStalls...) {
			if st.fault == i {
				f.Stalled++
			}
		}
		r.Faults = append(r.Faults, f)
	}
	r.Kinds = kinds(r.Faults)
	for _, o := range slices.Concat(r.Reads.Outages, r.Writes.Outages, r.Reads.Stalls, r.Writes.Stalls) {
		if o.Violation {
			r.Violations++
		}
	}
	r.Doubled, r.PodsLost = in.Pods.Doubled(), in.Pods.Lost()
	r.Judge(r.reasons(in))
	return r
}

// healed is when a fault's effects ended: the last of the process back,
// the service back and the resume.
func healed(fi FaultInput) time.Time {
	end := fi.At
	for _, t := range []*time.Time{fi.BackAt, fi.LeaderAt, fi.ResumedAt} {
		if t != nil && t.After(end) {
			end = *t
		}
	}
	return end
}

// outage is an Outage with the fault it is put down to.
type outage struct {
	Outage
	fault       int
	singlePoint bool
}

// attribute puts each outage down to the last fault injected before it
// began, if it began before that fault had healed (plus healing).
func attribute(os []Outage, in Input, ends []time.Time) []outage {
	out := make([]outage, 0, len(os))
	for _, o := range os {
		a := outage{Outage: o, fault: -1}
		for i, fi := range in.Faults {
			if !fi.At.After(o.Start) && !o.Start.After(ends[i].Add(healing)) {
				a.fault = i
				a.singlePoint = fi.Instances <= 1 && (fi.Kind == "etcd" || fi.Kind == "kube-apiserver")
			}
		}
		out = append(out, a)
	}
	return out
}

func availability(ops []lab.TimedOp, outs, stalls []outage, in Input) Availability {
	from := in.FaultsFrom
	a := Availability{Probes: len(ops), Outages: []Outaged{}, Stalls: []Outaged{}}
	var lat []float64
	for _, op := range ops {
		if op.Err {
			a.Failed++
		} else {
			lat = append(lat, op.Seconds)
		}
	}
	a.Latency = lab.SummarizeLatencies(lat)
	for _, o := range outs {
		a.Outages = append(a.Outages, Outaged{At: o.Start.Sub(from).Seconds(), Seconds: o.Seconds(), Failed: o.Failed, Open: o.Open,
			Fault: o.fault, Violation: len(Violations([]Outage{o.Outage}, in.MaxUnavailable)) > 0 && !o.singlePoint})
	}
	for _, o := range stalls {
		a.Stalls = append(a.Stalls, Outaged{At: o.Start.Sub(from).Seconds(), Seconds: o.Seconds(), Failed: o.Failed, Fault: o.fault,
			Violation: len(Violations([]Outage{o.Outage}, in.MaxStall)) > 0 && !o.singlePoint})
	}
	return a
}

func fault(fi FaultInput, i int, in Input, outs []outage) Fault {
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		return lab.Some(t.Sub(fi.At).Seconds())
	}
	f := Fault{Process: fi.Process, Kind: fi.Kind, Leader: fi.Leader, Signal: fi.Signal, At: fi.At.Sub(in.FaultsFrom).Seconds(),
		Pause: fi.Pause.Seconds(), Back: since(fi.BackAt), Err: fi.Err,
		SinglePoint: fi.Instances <= 1}
	for _, o := range outs {
		if o.fault == i {
			f.Outage = max(f.Outage, o.Seconds())
		}
	}
	if leads(fi.Kind) {
		f.Service = since(fi.LeaderAt)
		return f
	}
	// An API server's or etcd member's service is the API itself: back
	// once a read and a write sent after the fault have both been
	// answered. A request the API server held while etcd was away counts
	// when it was answered, so a delay shows even where nothing failed.
	r, rok := firstAnswer(in.Reads, fi.At)
	w, wok := firstAnswer(in.Writes, fi.At)
	if rok && wok {
		last := r
		if w.After(r) {
			last = w
		}
		f.Service = since(&last)
	}
	return f
}

// firstAnswer is the earliest answer to a successful op sent at or after
// t.
func firstAnswer(ops []lab.TimedOp, t time.Time) (time.Time, bool) {
	var first time.Time
	for _, op := range ops {
		if op.Err || op.At.Before(t) {
			continue
		}
		if end := op.At.Add(time.Duration(op.Seconds * float64(time.Second))); first.IsZero() || end.Before(first) {
			first = end
		}
	}
	return first, !first.IsZero()
}

func kinds(faults []Fault) []Kind {
	var out []Kind
	for _, k := range Kinds {
		kd := Kind{Kind: k}
		var service, killed, back []float64
		for _, f := range faults {
			if f.Kind != k {
				continue
			}
			kd.Faults++
			if f.Signal == "KILL" {
				kd.Kills++
			} else {
				kd.Pauses++
			}
			if f.Leader {
				kd.Leaders++
			}
			kd.Outage = max(kd.Outage, f.Outage)
			kd.Stalled += f.Stalled
			if f.Service != nil {
				service = append(service, *f.Service)
				if f.Signal == "KILL" && (f.Leader || f.SinglePoint) {
					killed = append(killed, *f.Service)
				}
			}
			if f.Back != nil {
				back = append(back, *f.Back)
			}
		}
		if kd.Faults == 0 {
			continue
		}
		kd.Service, kd.KilledLeader, kd.Back = lab.SummarizeLatencies(service), lab.SummarizeLatencies(killed), lab.SummarizeLatencies(back)
		out = append(out, kd)
	}
	return out
}

func (r *Result) reasons(in Input) (reasons, warnings []string) {
	if len(in.Faults) == 0 && r.StoppedEarly == "" {
		reasons = append(reasons, lab.NoData("faults", "none was injected: is --duration longer than --every?"))
	}
	if !in.Checked {
		if r.StoppedEarly == "" {
			reasons = append(reasons, lab.NoData("lost writes and pods", "the checks did not run"))
		}
		return reasons, warnings
	}
	if n := len(r.Lost); n > 0 {
		reasons = append(reasons, fmt.Sprintf("%d acknowledged writes lost (must be 0), first: %s", n, r.Lost[0]))
	}
	if r.Acked == 0 {
		reasons = append(reasons, lab.NoData("acknowledged writes", "no write was acknowledged"))
	}
	// The pods' checks mean something only if the workloads changed
	// under the faults.
	if r.Pods.Scales == 0 {
		reasons = append(reasons, lab.NoData("the Deployment's scaling", fmt.Sprintf("all %d scales were refused", r.Pods.ScaleFailures)))
	}
	if r.Pods.Rollouts == 0 {
		reasons = append(reasons, lab.NoData("the CloneSet's in-place updates", fmt.Sprintf("all %d were refused%s", r.Pods.RolloutFailures, errSuffix(r.Pods.LastRolloutErr))))
	}
	if !r.Pods.Settled {
		reasons = append(reasons, fmt.Sprintf("the pods did not settle: %d/%d Deployment pods Running, %d/%d CloneSet pods updated and Ready%s",
			r.Pods.DeploymentRunning, r.Pods.DeploymentReplicas, r.Pods.CloneSetUpdated, r.Pods.CloneSetReplicas, errSuffix(r.Pods.Err)))
	}
	if r.Doubled > 0 {
		reasons = append(reasons, fmt.Sprintf("%d pods created twice (must be 0)", r.Doubled))
	}
	if r.PodsLost > 0 {
		reasons = append(reasons, fmt.Sprintf("%d pods lost (must be 0)", r.PodsLost))
	}
	if r.Violations > 0 {
		reasons = append(reasons, fmt.Sprintf("%d availability violations: the API went unanswered for longer than %s, or one request for longer than %s (must be 0)", r.Violations, in.MaxUnavailable, in.MaxStall))
	}
	if r.FalseNotRdy > 0 {
		reasons = append(reasons, fmt.Sprintf("%d nodes went NotReady although their simulator was never stopped for a grace period (must be 0)", r.FalseNotRdy))
	}
	for _, o := range append(slices.Clone(r.Reads.Outages), r.Writes.Outages...) {
		if o.Fault >= 0 && r.Faults[o.Fault].SinglePoint && o.Seconds > r.BudgetSecond {
			f := r.Faults[o.Fault]
			warnings = append(warnings, fmt.Sprintf("a %.1f s API outage after SIG%s %s, the only %s: expected without --ha", o.Seconds, f.Signal, f.Process, f.Kind))
		}
	}
	return reasons, warnings
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (" + lab.OneLine(e, 200) + ")"
}

func orEmpty(e []ErrorCount) []ErrorCount {
	if e == nil {
		return []ErrorCount{}
	}
	return e
}
