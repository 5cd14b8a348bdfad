package density

import (
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// API latency is judged in windows, as SIG scalability judges it: every
// 5-minute window of a phase on its own, so a bad five minutes cannot hide
// in a long phase's average. A phase shorter than a window is one window;
// a phase's tail shorter than half a window joins the window before it,
// so no window is judged on a handful of requests.

// WindowResult is one API latency window of a phase.
type WindowResult struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// MeasuredFrom and MeasuredTo are the scrapes the window was measured
	// between: the last good scrape at or before each edge.
	MeasuredFrom time.Time `json:"measuredFrom"`
	MeasuredTo   time.Time `json:"measuredTo"`
	// SLOs are the window's verdicts per class; NoData says why there are
	// none.
	SLOs   []lab.SLOVerdict `json:"slos,omitempty"`
	NoData string           `json:"noData,omitempty"`
}

// windows splits a phase at its window edges and judges each window.
// The samples are the phase's start, its grid (one per edge passed) and
// its end.
func windows(p PhaseInput, width time.Duration) []WindowResult {
	edges := []time.Time{p.From}
	samples := []lab.APISnapshot{p.Start}
	for i, g := range p.Grid {
		edge := p.From.Add(time.Duration(i+1) * width)
		if width <= 0 || !edge.Before(p.To) {
			break
		}
		edges, samples = append(edges, edge), append(samples, g)
	}
	if n := len(edges); n > 1 && p.To.Sub(edges[n-1]) < width/2 {
		edges, samples = edges[:n-1], samples[:n-1]
	}
	edges, samples = append(edges, p.To), append(samples, p.End)
	out := make([]WindowResult, 0, len(edges)-1)
	for i := 1; i < len(edges); i++ {
		w := WindowResult{From: edges[i-1], To: edges[i], MeasuredFrom: samples[i-1].At, MeasuredTo: samples[i].At}
		switch {
		case samples[i-1].Latencies == nil:
			w.NoData = "the API server's metrics could not be scraped at or before the window's start"
		case samples[i].Latencies == nil:
			w.NoData = "the API server's metrics could not be scraped at or before the window's end"
		default:
			_, w.SLOs = lab.JudgeAPILatency(samples[i].Latencies.Sub(samples[i-1].Latencies))
		}
		out = append(out, w)
	}
	return out
}

// worstWindows is one verdict per API SLO class over windows: the worst
// window's figures, how many windows were judged, how many missed, and no
// data when any window had none.
func worstWindows(ws []WindowResult, label func(WindowResult) string) []lab.SLOVerdict {
	out := make([]lab.SLOVerdict, 0, len(lab.APISLOs))
	for _, slo := range lab.APISLOs {
		v := lab.SLOVerdict{SLO: slo, Pass: true, MeetsSeed: true}
		for _, w := range ws {
			if w.NoData != "" {
				v.NoData = true
				continue
			}
			for _, c := range w.SLOs {
				if c.Class != slo.Class {
					continue
				}
				if c.NoData {
					v.NoData = true
					continue
				}
				v.Windows++
				v.Requests += c.Requests
				if !c.Pass {
					v.WindowsMissed++
				}
				v.MeetsSeed = v.MeetsSeed && c.MeetsSeed
				if c.WorstP99 != nil && (v.WorstP99 == nil || *c.WorstP99 > *v.WorstP99) {
					v.WorstP99, v.Worst, v.Pairs, v.Window = c.WorstP99, c.Worst, c.Pairs, label(w)
				}
			}
		}
		v.Pass = v.WindowsMissed == 0 && !v.NoData && v.Windows > 0
		v.MeetsSeed = v.MeetsSeed && v.Pass
		if v.Windows == 0 {
			v.NoData = true
		}
		out = append(out, v)
	}
	return out
}
