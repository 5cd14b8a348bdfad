package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

func newBenchHeartbeatCommand() *cobra.Command {
	var (
		o      soakOptions
		images int
	)
	cmd := &cobra.Command{
		Use:   "heartbeat",
		Short: "Compare Lease heartbeats with NodeStatus-every-10s heartbeats at one cluster size",
		Long: `Start a cluster of --nodes simulated nodes twice, one after the other, each on
a fresh data directory under --out:

  lease   a Lease renewed every 10s, full NodeStatus every 5m (kubelets since NodeLease)
  status  no Lease, the full NodeStatus patched every 10s (kubelets before NodeLease)

Each run waits until every node is Ready, then measures for --duration: etcd
bytes written per minute (WAL and process), CPU and RSS of the API server and
etcd, API request rate, heartbeat write latency and request bytes per
heartbeat as the simulator sends them, and every false NotReady. Writes
result.json (keys lease, status, ratio = status/lease) and report.html to
--out, and exits non-zero unless both runs reached their size and kept every
node Ready.`,
		Example: `  myriad bench heartbeat --nodes 1000 --duration 3m --out /tmp/hb-1k`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			if images < 0 || images > nodesim.MaxImages {
				return usageError{fmt.Errorf("--images must be between 0 and %d, got %d", nodesim.MaxImages, images)}
			}
			return runHeartbeat(cmd, o, images)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 1000, "number of simulated nodes in each run")
	f.DurationVar(&o.duration, "duration", 5*time.Minute, "how long to measure each run once every node is Ready")
	f.StringVar(&o.out, "out", "", "directory for result.json, report.html and the two clusters' data (OUT/lease, OUT/status; required)")
	f.IntVar(&images, "images", 20, "container images each node reports in status.images (kubelets report up to 50)")
	addClusterFlags(cmd, &o)
	return cmd
}

func runHeartbeat(cmd *cobra.Command, o soakOptions, images int) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	outDir, closeLog, err := prepareOut(o.out)
	if err != nil {
		return err
	}
	defer closeLog()
	dataDirs := map[string]string{}
	for _, mode := range lab.HeartbeatModes {
		if dataDirs[mode], err = freshDataDir(filepath.Join(outDir, mode), true); err != nil {
			return err
		}
	}
	in := lab.HeartbeatInput{
		Machine: lab.ThisMachine(controlplane.KubernetesVersion),
		Parameters: map[string]string{
			"nodes":                  strconv.Itoa(o.nodes),
			"duration":               o.duration.String() + " per run",
			"images":                 strconv.Itoa(images) + " per node",
			"heartbeatInterval":      "10s (myriad nodes default)",
			"statusReportInterval":   "5m in lease mode (myriad nodes default)",
			"apiservers":             strconv.Itoa(o.apiservers),
			"nodeMonitorGracePeriod": o.grace.String(),
			"scrapeInterval":         o.scrapeInterval.String(),
			"sampleInterval":         o.sampleInterval.String(),
			"dataDirs":               dataDirs["lease"] + ", " + dataDirs["status"],
			"command":                strings.Join(os.Args, " "),
		},
		StartedAt: time.Now(),
		Nodes:     o.nodes,
	}
	con := lab.NewConsole(out)
	for i, mode := range lab.HeartbeatModes {
		if ctx.Err() != nil {
			in.Skipped = append(in.Skipped, mode+": interrupted")
			continue
		}
		// Without a measured lease run there is nothing to compare with.
		if i > 0 && in.Runs[i-1].Run.MeasuredFrom == nil {
			in.Skipped = append(in.Skipped, fmt.Sprintf("%s: the %s run did not reach %d Ready nodes", mode, in.Runs[i-1].Mode, o.nodes))
			continue
		}
		fmt.Fprintf(out, "== run %d/%d: %s heartbeats, %d nodes, data in %s\n", i+1, len(lab.HeartbeatModes), mode, o.nodes, dataDirs[mode])
		progress := func(p lab.Progress) string { return heartbeatProgressLine(mode, i, p, o.nodes) }
		run := measureCluster(ctx, o, dataDirs[mode], []string{"--heartbeat-mode", mode, "--images", strconv.Itoa(images)}, con, progress)
		hr := lab.HeartbeatRun{Mode: mode}
		if run.cluster != nil {
			hr.NodeObjectBytes, hr.LeaseObjectBytes = storedObjectSizes(dataDirs[mode])
		}
		run.in.Parameters["heartbeatMode"] = mode
		hr.Run = lab.BuildSoakResult(run.in)
		in.Runs = append(in.Runs, hr)
		if run.cluster != nil {
			fmt.Fprintf(out, "stopping the %s cluster ...\n", mode)
			run.cluster.Stop()
		}
		for _, reason := range hr.Run.Verdict.Reasons {
			fmt.Fprintf(out, "  %s run: %s\n", mode, lab.OneLine(reason, 300))
		}
	}
	res := lab.BuildHeartbeatResult(in)
	path, err := lab.WriteHeartbeatReport(outDir, res)
	if err != nil {
		return fmt.Errorf("write report to %s: %w", outDir, err)
	}
	printHeartbeatSummary(out, res)
	fmt.Fprintf(out, "report: %s\ncluster data and component logs kept in %s and %s\n", path, dataDirs["lease"], dataDirs["status"])
	if !res.Verdict.Pass {
		return fmt.Errorf("FAIL: %s (report: %s)", lab.OneLine(res.Verdict.Reasons[0], 200), path)
	}
	fmt.Fprintln(out, "PASS: both runs reached their size and every node stayed Ready")
	return nil
}

// storedObjectSizes reads back the first simulated Node and its Lease and
// returns their protobuf sizes: what etcd stores for each heartbeat write.
func storedObjectSizes(dataDir string) (node, lease *float64) {
	cs, err := readinessClient(controlplane.DataDir{Root: dataDir}.AdminKubeconfig())
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "myriad-node-0" // myriad up's nodes use the default name prefix
	if n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err == nil {
		v := float64(n.Size())
		node = &v
	}
	if l, err := cs.CoordinationV1().Leases(nodesim.LeaseNamespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
		v := float64(l.Size())
		lease = &v
	} else if !apierrors.IsNotFound(err) {
		return node, nil
	}
	return node, lease
}

func heartbeatProgressLine(mode string, i int, p lab.Progress, nodes int) string {
	p99 := "-"
	if !math.IsNaN(p.HeartbeatP99) {
		p99 = fmt.Sprintf("%.1fms", p.HeartbeatP99*1000)
	}
	return fmt.Sprintf("heartbeat %s (%d/%d) %s elapsed, ETA %s | Ready %d/%d | heartbeat write p99 %s",
		mode, i+1, len(lab.HeartbeatModes), p.Elapsed.Round(time.Second), p.Remaining.Round(time.Second), p.Ready.Ready, nodes, p99)
}

func printHeartbeatSummary(out io.Writer, r *lab.HeartbeatResult) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tlease\tstatus\tstatus/lease")
	for _, row := range lab.HeartbeatRows(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Name, row.Lease, row.Status, row.Ratio)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(out, err)
	}
	for _, reason := range r.Verdict.Reasons {
		fmt.Fprintf(out, "  fail: %s\n", lab.OneLine(reason, 600))
	}
	for _, w := range r.Verdict.Warnings {
		fmt.Fprintf(out, "  note: %s\n", w)
	}
}
