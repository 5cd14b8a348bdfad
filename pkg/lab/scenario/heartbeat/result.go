package heartbeat

import (
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/soak"
)

// Run is one mode's run as the scenario hands it over.
type Run struct {
	Mode string
	// Run is the run's soak result.
	Run *soak.Result
	// NodeObjectBytes and LeaseObjectBytes are the protobuf sizes of one
	// stored Node and Lease after the run (what etcd keeps per object);
	// nil when unknown or (Lease, status mode) absent.
	NodeObjectBytes, LeaseObjectBytes *float64
}

// Input is everything a heartbeat result is built from.
type Input struct {
	Info  lab.RunInfo
	Nodes int
	Runs  []Run // in Modes order; a skipped run is absent
	// Skipped says why runs are missing, e.g. "status: interrupted".
	Skipped   []string
	StoppedAt time.Time
}

// Result is result.json of the heartbeat scenario. The figures the
// published comparison rests on are ratio.bytesPerHeartbeat,
// ratio.apiserverCores and ratio.etcdWALBytesPerMinute.
type Result struct {
	lab.RunInfo
	Nodes  int      `json:"nodes"`
	Lease  *Figures `json:"lease"`
	Status *Figures `json:"status"`
	// Ratio is status / lease; a nil figure could not be computed, and
	// the verdict then says why.
	Ratio   Ratio    `json:"ratio"`
	Skipped []string `json:"skipped,omitempty"`
}

// Figures are one mode's figures over its measured window.
type Figures struct {
	Mode            string  `json:"mode"`
	Nodes           int     `json:"nodes"`
	StartupSeconds  float64 `json:"startupSeconds"`
	MeasuredSeconds float64 `json:"measuredSeconds"`

	EtcdWALBytesPerMinute       *float64 `json:"etcdWALBytesPerMinute,omitempty"`
	EtcdProcWriteBytesPerMinute *float64 `json:"etcdProcWriteBytesPerMinute,omitempty"`
	APIServerCores              *float64 `json:"apiserverCores,omitempty"`
	APIServerRSSMaxBytes        *float64 `json:"apiserverRSSMaxBytes,omitempty"`
	EtcdCores                   *float64 `json:"etcdCores,omitempty"`
	EtcdRSSMaxBytes             *float64 `json:"etcdRSSMaxBytes,omitempty"`
	APIRequestsPerSecond        *float64 `json:"apiserverRequestsPerSecond,omitempty"`

	HeartbeatWritesPerSecond float64  `json:"heartbeatWritesPerSecond"`
	HeartbeatP50             *float64 `json:"heartbeatP50Seconds,omitempty"`
	HeartbeatP99             *float64 `json:"heartbeatP99Seconds,omitempty"`
	BytesPerHeartbeat        *float64 `json:"bytesPerHeartbeat,omitempty"`
	LeaseWrites              float64  `json:"leaseWrites"`
	StatusWrites             float64  `json:"statusWrites"`
	NodeObjectBytes          *float64 `json:"nodeObjectBytes,omitempty"`
	LeaseObjectBytes         *float64 `json:"leaseObjectBytes,omitempty"`

	FalseNotReady int `json:"falseNotReady"`
	ReadyMin      int `json:"readyMin"`
	// Missing says why a nil figure was not measured.
	Missing map[string]string `json:"missing,omitempty"`
	// Run is the whole soak result of this mode, with its time series.
	Run *soak.Result `json:"run"`
}

// Ratio is status mode over lease mode.
type Ratio struct {
	EtcdWALBytesPerMinute       *float64 `json:"etcdWALBytesPerMinute,omitempty"`
	EtcdProcWriteBytesPerMinute *float64 `json:"etcdProcWriteBytesPerMinute,omitempty"`
	BytesPerHeartbeat           *float64 `json:"bytesPerHeartbeat,omitempty"`
	APIServerCores              *float64 `json:"apiserverCores,omitempty"`
	EtcdCores                   *float64 `json:"etcdCores,omitempty"`
}

// Figures the verdict rests on, as the verdict names them.
const (
	figBytes = "status/lease bytes per heartbeat"
	figCPU   = "status/lease kube-apiserver CPU"
	figWAL   = "status/lease etcd WAL bytes"
)

// Build reduces the runs to figures and ratios and judges the whole: it
// passes only if both runs reached their size, were measured for the
// whole duration, kept every node Ready, and measured the three figures
// the comparison rests on.
func Build(in Input) *Result {
	res := &Result{RunInfo: in.Info, Nodes: in.Nodes, Skipped: in.Skipped}
	var reasons, warnings []string
	procs := map[string][]lab.ProcSample{}
	for _, r := range in.Runs {
		f := figures(r, in.Nodes)
		switch r.Mode {
		case "lease":
			res.Lease = f
		case "status":
			res.Status = f
		}
		if r.Run == nil {
			reasons = append(reasons, r.Mode+" run: never started")
			continue
		}
		for _, reason := range r.Run.Verdict.Reasons {
			reasons = append(reasons, r.Mode+" run: "+reason)
		}
		for _, w := range r.Run.Verdict.Warnings {
			warnings = append(warnings, r.Mode+" run: "+w)
		}
		// One head for both runs: each process under its run's name.
		for name, ss := range r.Run.ProcessSeries {
			procs[r.Mode+"/"+name] = ss
		}
	}
	for _, mode := range Modes {
		if (mode == "lease" && res.Lease == nil) || (mode == "status" && res.Status == nil) {
			reasons = append(reasons, mode+" run: not run")
		}
	}
	for _, s := range in.Skipped {
		warnings = append(warnings, "skipped: "+s)
	}
	if l, s := res.Lease, res.Status; l != nil && s != nil {
		res.Ratio = Ratio{
			EtcdWALBytesPerMinute:       lab.Ratio(s.EtcdWALBytesPerMinute, l.EtcdWALBytesPerMinute),
			EtcdProcWriteBytesPerMinute: lab.Ratio(s.EtcdProcWriteBytesPerMinute, l.EtcdProcWriteBytesPerMinute),
			BytesPerHeartbeat:           lab.Ratio(s.BytesPerHeartbeat, l.BytesPerHeartbeat),
			APIServerCores:              lab.Ratio(s.APIServerCores, l.APIServerCores),
			EtcdCores:                   lab.Ratio(s.EtcdCores, l.EtcdCores),
		}
		reasons = append(reasons, noData(figBytes, res.Ratio.BytesPerHeartbeat, l, s, "bytesPerHeartbeat")...)
		reasons = append(reasons, noData(figCPU, res.Ratio.APIServerCores, l, s, "apiserverCores")...)
		reasons = append(reasons, noData(figWAL, res.Ratio.EtcdWALBytesPerMinute, l, s, "etcdWALBytesPerMinute")...)
	}
	end := in.StoppedAt
	if end.IsZero() {
		end = in.Info.StartedAt
	}
	res.Finish(end, procs)
	res.Judge(reasons, warnings)
	return res
}

// noData is the verdict's reason when ratio could not be computed: which
// run lacks the figure and why.
func noData(figure string, ratio *float64, l, s *Figures, key string) []string {
	if ratio != nil {
		return nil
	}
	var why []string
	for _, f := range []*Figures{l, s} {
		if w, ok := f.Missing[key]; ok {
			why = append(why, f.Mode+" run: "+w)
		}
	}
	if len(why) == 0 {
		why = append(why, "the lease run's figure is zero")
	}
	return []string{lab.NoData(figure, strings.Join(why, "; "))}
}

func figures(r Run, nodes int) *Figures {
	f := &Figures{Mode: r.Mode, Nodes: nodes, Run: r.Run, Missing: map[string]string{},
		NodeObjectBytes: r.NodeObjectBytes, LeaseObjectBytes: r.LeaseObjectBytes}
	res := r.Run
	if res == nil {
		f.Missing["bytesPerHeartbeat"] = "the run never started"
		f.Missing["apiserverCores"] = "the run never started"
		f.Missing["etcdWALBytesPerMinute"] = "the run never started"
		return f
	}
	f.StartupSeconds, f.MeasuredSeconds = res.StartupSeconds, res.MeasuredSeconds
	f.EtcdWALBytesPerMinute = res.Etcd.WALBytesPerMinute
	f.EtcdProcWriteBytesPerMinute = res.Etcd.ProcWriteBytesPerMinute
	f.APIRequestsPerSecond = res.APIRequestsPerSecond
	// Several API servers add up; their largest RSS is the one to watch.
	for _, p := range res.MeasuredProcesses {
		switch {
		case p.Name == "kube-apiserver" || strings.HasPrefix(p.Name, "kube-apiserver-"):
			f.APIServerCores = lab.AddPtr(f.APIServerCores, p.Cores)
			f.APIServerRSSMaxBytes = lab.MaxPtr(f.APIServerRSSMaxBytes, float64(p.RSSMaxBytes))
		case p.Name == "etcd":
			f.EtcdCores = lab.AddPtr(f.EtcdCores, p.Cores)
			f.EtcdRSSMaxBytes = lab.MaxPtr(f.EtcdRSSMaxBytes, float64(p.RSSMaxBytes))
		}
	}
	if hb := res.Heartbeat; hb != nil {
		f.HeartbeatWritesPerSecond = hb.WritesPerSecond
		f.HeartbeatP50, f.HeartbeatP99 = hb.P50, hb.P99
		f.BytesPerHeartbeat = hb.BytesPerWrite
		f.LeaseWrites, f.StatusWrites = hb.LeaseWrites, hb.StatusWrites
	}
	if f.BytesPerHeartbeat == nil {
		f.Missing["bytesPerHeartbeat"] = orElse(res.Missing[soak.FigureBytesPerHeartbeat], "the simulator's heartbeat writes were not measured")
	}
	if f.EtcdWALBytesPerMinute == nil {
		f.Missing["etcdWALBytesPerMinute"] = orElse(res.Missing[soak.FigureWAL], "etcd's WAL bytes were not measured")
	}
	if f.APIServerCores == nil {
		f.Missing["apiserverCores"] = "no kube-apiserver process samples in the measured window"
	}
	f.FalseNotReady, f.ReadyMin = res.Readiness.FalseNotReady, res.Readiness.ReadyMin
	return f
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
