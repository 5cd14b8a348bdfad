package kubeletapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Annotations that make a pod's logs data.
const (
	// LogPatternAnnotation is the text of every log line of the pod's
	// containers, with placeholders {namespace} {pod} {container} {node}
	// {n} (the line number, from 1 in each run of a container) and
	// {restart} (the container's restart count for that run).
	LogPatternAnnotation = "nodes.myriad.dev/log-pattern"
	// LogIntervalAnnotation is how often a container prints a line, a Go
	// duration of at least 10ms; default DefaultLogInterval.
	LogIntervalAnnotation = "nodes.myriad.dev/log-interval"

	DefaultLogPattern  = "{pod} {container} line {n}"
	DefaultLogInterval = time.Second
	MinLogInterval     = 10 * time.Millisecond
	// maxLogLines is how many of a run's latest lines are kept, as the
	// kubelet's log rotation (containerLogMaxSize 10Mi x 5 files) keeps
	// the last tens of megabytes: a pod that ran for a month does not
	// answer `kubectl logs` with gigabytes.
	maxLogLines = 100_000
)

// logStream is one run of one container, seen as the lines it printed: line
// n (from 1) is printed at start+(n-1)*interval, until end if the run ended.
// Nothing is stored: any line is computed from its number.
type logStream struct {
	pattern            string
	interval           time.Duration
	start, end         time.Time // end is zero while the run goes on
	ns, pod, ctr, node string
	restart            int32
	containerID        string
}

// logOptions are the kubelet's containerLogs query parameters.
type logOptions struct {
	follow, previous, timestamps bool
	stdout                       bool // false for stream=Stderr: everything here goes to stdout
	sinceTime                    time.Time
	tailLines                    int64 // -1: all
	limitBytes                   int64 // 0: no limit
}

// newLogStream describes the current run of container (or the previous,
// terminated one). The error is what the kubelet answers when there is no
// such run.
func newLogStream(pod *corev1.Pod, name string, previous bool) (*logStream, error) {
	_, cs := container(pod, name)
	if cs == nil {
		return nil, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", name, pod.Name)
	}
	ls := &logStream{pattern: DefaultLogPattern, interval: DefaultLogInterval,
		ns: pod.Namespace, pod: pod.Name, ctr: name, node: pod.Spec.NodeName, restart: cs.RestartCount, containerID: cs.ContainerID}
	if p, ok := pod.Annotations[LogPatternAnnotation]; ok && p != "" {
		ls.pattern = p
	}
	// A malformed interval falls back to the default: logs never fail
	// because of an annotation.
	if v, ok := pod.Annotations[LogIntervalAnnotation]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= MinLogInterval {
			ls.interval = d
		}
	}
	switch {
	case previous:
		t := cs.LastTerminationState.Terminated
		if t == nil {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		ls.start, ls.end, ls.restart, ls.containerID = t.StartedAt.Time, t.FinishedAt.Time, max(cs.RestartCount-1, 0), t.ContainerID
	case cs.State.Running != nil:
		ls.start = cs.State.Running.StartedAt.Time
	case cs.State.Terminated != nil:
		ls.start, ls.end = cs.State.Terminated.StartedAt.Time, cs.State.Terminated.FinishedAt.Time
	default:
		reason := "ContainerCreating"
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			reason = cs.State.Waiting.Reason
		}
		return nil, fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason)
	}
	return ls, nil
}

// count is how many lines the run has printed by t.
func (ls *logStream) count(t time.Time) int64 {
	if !ls.end.IsZero() && t.After(ls.end) {
		t = ls.end
	}
	if t.Before(ls.start) {
		return 0
	}
	return int64(t.Sub(ls.start)/ls.interval) + 1
}

func (ls *logStream) at(n int64) time.Time { return ls.start.Add(time.Duration(n-1) * ls.interval) }

// line is line n with its newline, timestamped as the kubelet does
// (RFC3339Nano, then a space) if asked.
func (ls *logStream) line(n int64, timestamps bool) string {
	r := strings.NewReplacer("{namespace}", ls.ns, "{pod}", ls.pod, "{container}", ls.ctr, "{node}", ls.node,
		"{n}", strconv.FormatInt(n, 10), "{restart}", strconv.Itoa(int(ls.restart)))
	text := r.Replace(ls.pattern)
	if timestamps {
		return ls.at(n).UTC().Format(time.RFC3339Nano) + " " + text + "\n"
	}
	return text + "\n"
}

// first is the first line to send at now: the oldest line still kept,
// then no older than sinceTime, then at most tailLines from the end.
func (ls *logStream) first(now time.Time, o logOptions) int64 {
	total := ls.count(now)
	first := max(total-maxLogLines+1, 1)
	if !o.sinceTime.IsZero() && o.sinceTime.After(ls.start) {
		// ceil((since-start)/interval)+1 is the first line at or after since.
		d := o.sinceTime.Sub(ls.start)
		k := int64(d / ls.interval)
		if d%ls.interval != 0 {
			k++
		}
		first = max(first, k+1)
	}
	if o.tailLines >= 0 {
		first = max(first, total-o.tailLines+1)
	}
	return first
}

// limitWriter stops after n bytes (n <= 0: no limit), cutting a line if
// need be, as the kubelet's limitBytes does.
type limitWriter struct {
	w    io.Writer
	left int64
	on   bool
}

var errLimit = errors.New("limitBytes reached")

func (l *limitWriter) WriteString(s string) error {
	if !l.on {
		_, err := io.WriteString(l.w, s)
		return err
	}
	if int64(len(s)) >= l.left {
		_, err := io.WriteString(l.w, s[:l.left])
		l.left = 0
		if err != nil {
			return err
		}
		return errLimit
	}
	l.left -= int64(len(s))
	_, err := io.WriteString(l.w, s)
	return err
}

// write sends the lines [from, to] and returns the next line number.
func (ls *logStream) write(w *limitWriter, from, to int64, timestamps bool) (int64, error) {
	for n := from; n <= to; n++ {
		if err := w.WriteString(ls.line(n, timestamps)); err != nil {
			return n, err
		}
	}
	return max(from, to+1), nil
}

// follow keeps writing lines as the run prints them until ctx ends, the
// run ends, or running reports that the container moved on (restarted,
// stopped, or the pod went away). One request, one goroutine: nothing runs
// for pods nobody follows.
func (ls *logStream) follow(ctx context.Context, clk clock.Clock, w *limitWriter, flush func(), next int64, timestamps bool, running func() bool) error {
	for {
		now := clk.Now()
		if !ls.end.IsZero() && !now.Before(ls.end) {
			return nil
		}
		var err error
		if next, err = ls.write(w, next, ls.count(now), timestamps); err != nil {
			return err
		}
		flush()
		wait := ls.at(next).Sub(now)
		select {
		case <-ctx.Done():
			return nil
		case <-clk.After(max(wait, time.Millisecond)):
		}
		if !running() {
			return nil
		}
	}
}

func parseLogOptions(r *http.Request, now time.Time) (logOptions, error) {
	q := r.URL.Query()
	o := logOptions{tailLines: -1, stdout: true}
	var err error
	boolean := func(name string) bool {
		if err != nil {
			return false
		}
		v := q.Get(name)
		if v == "" {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			err = fmt.Errorf("%s: %q is not a boolean", name, v)
		}
		return b
	}
	integer := func(name string) (int64, bool) {
		v := q.Get(name)
		if v == "" || err != nil {
			return 0, false
		}
		i, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || i < 0 {
			err = fmt.Errorf("%s: %q must be a non-negative integer", name, v)
			return 0, false
		}
		return i, true
	}
	o.follow, o.previous, o.timestamps = boolean("follow"), boolean("previous"), boolean("timestamps")
	if n, ok := integer("tailLines"); ok {
		o.tailLines = n
	}
	if n, ok := integer("limitBytes"); ok {
		if n == 0 {
			err = fmt.Errorf("limitBytes: must be greater than 0")
		}
		o.limitBytes = n
	}
	if n, ok := integer("sinceSeconds"); ok {
		if n == 0 {
			err = fmt.Errorf("sinceSeconds: must be greater than 0")
		}
		o.sinceTime = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" && err == nil {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			err = fmt.Errorf("sinceTime: %q is not RFC3339", v)
		}
		if o.sinceTime.IsZero() {
			o.sinceTime = t
		}
	}
	switch v := q.Get("stream"); v {
	case "", "All", "Stdout":
	case "Stderr":
		o.stdout = false
	default:
		err = fmt.Errorf("stream: %q must be All, Stdout or Stderr", v)
	}
	return o, err
}

// containerLogs is GET /containerLogs/{namespace}/{pod}/{container}.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	pod := s.pod(w, r)
	if pod == nil {
		return
	}
	now := s.cfg.Clock.Now()
	o, err := parseLogOptions(r, now)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.PathValue("container")
	if spec, _ := container(pod, name); spec == nil {
		http.Error(w, fmt.Sprintf("container %q is not valid for pod %q", name, pod.Name), http.StatusNotFound)
		return
	}
	ls, err := newLogStream(pod, name, o.previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	if !o.stdout {
		return // every simulated line goes to stdout
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	defer bw.Flush()
	flush := func() {
		_ = bw.Flush()
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	lw := &limitWriter{w: bw, left: o.limitBytes, on: o.limitBytes > 0}
	next, err := ls.write(lw, ls.first(now, o), ls.count(now), o.timestamps)
	if err != nil || !o.follow || o.previous {
		return
	}
	ns, podName, id := pod.Namespace, pod.Name, ls.containerID
	running := func() bool {
		p := s.cfg.Nodes.Pod(ns, podName)
		if p == nil || p.DeletionTimestamp != nil {
			return false
		}
		_, cs := container(p, name)
		return cs != nil && cs.ContainerID == id && cs.State.Running != nil
	}
	_ = ls.follow(r.Context(), s.cfg.Clock, lw, flush, next, o.timestamps, running)
}
