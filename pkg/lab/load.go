package lab

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// How busy the machine was. A run's own processes saturate the cores by
// design (a 10,000-node cluster on 2 cores is the workload), so the load
// average during a run says nothing about other work. What does: the load
// before the run started, and the CPU the machine spent on processes that
// are not the run's (the machine's busy time from /proc/stat less what the
// sampled processes used).

// LoadPoint is one reading of the machine.
type LoadPoint struct {
	At time.Time `json:"at"`
	// Load1 is /proc/loadavg's 1-minute load average.
	Load1 float64 `json:"load1"`
	// BusyCPU is the CPU seconds all cores have been busy since boot.
	BusyCPU float64 `json:"-"`
	// OtherCores is the CPU used by processes outside the run since the
	// previous point, in cores; nil for the first point or when the run's
	// processes were not sampled.
	OtherCores *float64 `json:"otherCores,omitempty"`
}

// Reader reads the machine's 1-minute load average and busy CPU seconds.
type Reader func() (load1, busyCPU float64, err error)

// LoadSampler reads the machine every Interval (default 10s) until its
// context ends, and once at each end.
type LoadSampler struct {
	Clock    clock.WithTicker
	Interval time.Duration
	// Read reads the machine; nil reads /proc.
	Read   Reader
	points []LoadPoint
}

// Run samples until ctx ends. Points may be called once Run returned.
func (s *LoadSampler) Run(ctx context.Context) {
	read := s.Read
	if read == nil {
		read = readMachine
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	sample := func() {
		if l, b, err := read(); err == nil {
			s.points = append(s.points, LoadPoint{At: s.Clock.Now(), Load1: l, BusyCPU: b})
		}
	}
	sample()
	t := s.Clock.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sample()
			return
		case <-t.C():
			sample()
		}
	}
}

// Points are the readings taken.
func (s *LoadSampler) Points() []LoadPoint { return s.points }

func readMachine() (float64, float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 0, 0, fmt.Errorf("/proc/loadavg: %q", b)
	}
	l, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/loadavg: %w", err)
	}
	busy, err := ReadMachineCPU("")
	return l, busy, err
}

// MachineLoad is how busy the machine was around a run.
type MachineLoad struct {
	// Before is the 1-minute load average when the run started.
	Before *float64 `json:"load1BeforeRun,omitempty"`
	// OtherCoresMax is the most CPU that processes outside the run used
	// over any minute of it, in cores.
	OtherCoresMax *float64    `json:"otherCoresMax,omitempty"`
	Points        []LoadPoint `json:"points,omitempty"`
}

// OtherWorkLimit is the share of the machine's cores that other processes
// may use during a run before its figures are no longer the run's own.
const OtherWorkLimit = 0.25

// otherWindow is how long other work must last to count: a shell or an
// editor for a second is not a busy machine.
const otherWindow = time.Minute

// JudgeLoad fills OtherCores from the run's process samples and says
// whether the machine was busy: a load average above its core count
// before the run, or other processes using more than OtherWorkLimit of
// its cores over a minute of the run. why is empty when it was not.
func JudgeLoad(points []LoadPoint, procs map[string][]ProcSample, cores int) (MachineLoad, string) {
	ml := MachineLoad{Points: points}
	if len(points) == 0 || cores <= 0 {
		return ml, ""
	}
	ml.Before = Some(points[0].Load1)
	var why []string
	if points[0].Load1 > float64(cores) {
		why = append(why, fmt.Sprintf("load average %.1f on %d cores before the run started", points[0].Load1, cores))
	}
	if len(procs) == 0 {
		return ml, strings.Join(why, "; ")
	}
	// Other CPU over [from, to]: the machine's busy time less the run's.
	other := func(a, b LoadPoint) float64 {
		dt := b.At.Sub(a.At).Seconds()
		if dt <= 0 {
			return 0
		}
		own := 0.0
		for _, ss := range procs {
			own += cpuBetween(ss, a.At, b.At)
		}
		return max(0, (b.BusyCPU-a.BusyCPU-own)/dt)
	}
	for i := 1; i < len(points); i++ {
		points[i].OtherCores = Some(other(points[i-1], points[i]))
	}
	start := 0
	for i := 1; i < len(points); i++ {
		for start < i && points[i].At.Sub(points[start+1].At) >= otherWindow {
			start++
		}
		if points[i].At.Sub(points[start].At) < otherWindow {
			continue
		}
		c := other(points[start], points[i])
		if ml.OtherCoresMax == nil || c > *ml.OtherCoresMax {
			ml.OtherCoresMax = Some(c)
		}
	}
	if ml.OtherCoresMax != nil && *ml.OtherCoresMax > OtherWorkLimit*float64(cores) {
		why = append(why, fmt.Sprintf("other processes used %.2f of %d cores over a minute of the run", *ml.OtherCoresMax, cores))
	}
	return ml, strings.Join(why, "; ")
}

// cpuBetween is the CPU one process (restarts included) used between
// from and to, interpolated linearly between its samples so that samples
// taken at other moments than the load readings do not shift CPU from one
// window to the next.
func cpuBetween(ss []ProcSample, from, to time.Time) float64 {
	return cumulativeCPU(ss, to) - cumulativeCPU(ss, from)
}

// cumulativeCPU is the CPU used from the first sample to t.
func cumulativeCPU(ss []ProcSample, t time.Time) float64 {
	cum := 0.0
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		d := b.CPUSeconds // a new process: all its CPU is since a
		if a.PID == b.PID {
			d = max(0, b.CPUSeconds-a.CPUSeconds)
		}
		if !t.After(a.At) {
			break
		}
		if t.Before(b.At) {
			return cum + d*t.Sub(a.At).Seconds()/b.At.Sub(a.At).Seconds()
		}
		cum += d
	}
	return cum
}
