package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/nodesim"
)

// What every `myriad bench` scenario's command shares: the cluster flags,
// and one runner that prepares --out, runs the scenario, writes the
// report, prints its rows and turns the verdict into the exit code.

// addRigFlags binds the flags of the cluster a scenario runs against.
// attach adds --kubeconfig for scenarios that can run on any cluster.
func addRigFlags(f *pflag.FlagSet, o *rig.Options, nodes int, nodesHelp string, attach bool) {
	*o = rig.Defaults(nodes)
	f.IntVar(&o.Nodes, "nodes", nodes, nodesHelp)
	f.StringVar(&o.DataDir, "data-dir", "", "cluster data directory (default OUT/cluster, which must not exist yet)")
	f.IntVar(&o.APIServers, "apiservers", o.APIServers, "number of kube-apiserver processes")
	f.IntVar(&o.Port, "port", 0, "port of the Kubernetes API (0 picks a free one)")
	f.IntVar(&o.EtcdPort, "etcd-port", 0, "etcd client port; the next one is its peer port (0 picks free ones)")
	f.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", o.NodeMonitorGracePeriod, "how long a node may miss heartbeats before it is marked NotReady")
	f.IntVar(&o.MaxRequestsInflight, "max-requests-inflight", 0, "each API server's read-only requests in flight (0: myriad up's default, 1600)")
	f.IntVar(&o.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", 0, "each API server's mutating requests in flight (0: myriad up's default, 800)")
	bindAPIServerMemory(f, &o.APIServerMemory)
	f.StringVar(&o.Profile, "profile", "", profileUsage)
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", o.ReadyTimeout, "how long each component may take to start; node registration gets this plus 10ms per node")
	f.DurationVar(&o.SampleInterval, "sample-interval", o.SampleInterval, "how often process stats and the Ready count are sampled")
	f.DurationVar(&o.ScrapeInterval, "scrape-interval", o.ScrapeInterval, "how often metrics are scraped from the simulator, API server and etcd")
	f.StringVar(&o.NodeProfile, "node-profile", nodesim.ProfileFast, nodeProfileUsage)
	f.BoolVar(&o.MetricsServer, "metrics-server", false, "run metrics-server in the started cluster, scraping every node (myriad up's default; off in benches unless asked)")
	if attach {
		f.StringVar(&o.Kubeconfig, "kubeconfig", "", "run against this existing cluster instead of starting one")
	}
}

// runBench runs the scenario build makes (given the absolute --out
// directory; build validates and must not touch the file system) and
// reports it. A bad option is a usage error; a failed
// verdict is the command's error, so the exit code says pass or fail.
func runBench(cmd *cobra.Command, out string, build func(outDir string) (lab.Scenario, error)) error {
	if out == "" {
		return usageError{fmt.Errorf("--out is required: the directory for result.json and report.html")}
	}
	// Options are checked before anything is written: a refused command
	// leaves --out untouched.
	outDir, err := filepath.Abs(out)
	if err != nil {
		return usageError{fmt.Errorf("--out %s: %w", out, err)}
	}
	s, err := build(outDir)
	if err != nil {
		return usageError{err}
	}
	if _, closeLog, err := prepareOut(outDir); err != nil {
		return err
	} else {
		defer closeLog()
	}
	w := cmd.OutOrStdout()
	con := lab.NewConsole(w)
	res := lab.Run(cmd.Context(), s, lab.Env{Clock: clock.RealClock{}, Console: con})
	con.EndProgress()
	path, err := lab.Write(outDir, res)
	if err != nil {
		return fmt.Errorf("write report to %s: %w", outDir, err)
	}
	fmt.Fprintln(w)
	printRows(w, res.Rows())
	return verdictError(w, path, res.Head())
}

// verdictError prints where the report is and the verdict's notes, and
// turns a failed verdict into the command's error (a non-zero exit).
func verdictError(w io.Writer, path string, h *lab.RunInfo) error {
	fmt.Fprintf(w, "report: %s\n", path)
	for _, n := range h.Verdict.Warnings {
		fmt.Fprintf(w, "  note: %s\n", lab.OneLine(n, 300))
	}
	v := h.Verdict
	if !v.Pass {
		if len(v.Reasons) == 0 {
			return fmt.Errorf("FAIL (report: %s)", path)
		}
		for _, r := range v.Reasons[1:] {
			fmt.Fprintf(w, "  fail: %s\n", lab.OneLine(r, 300))
		}
		return fmt.Errorf("FAIL: %s (report: %s)", lab.OneLine(v.Reasons[0], 200), path)
	}
	took := ""
	if !h.FinishedAt.IsZero() {
		took = " in " + h.FinishedAt.Sub(h.StartedAt).Round(time.Second).String()
	}
	fmt.Fprintf(w, "PASS%s\n", took)
	return nil
}

// printRows prints a table whose first column names each row.
func printRows(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(w, err)
	}
}

// prepareOut makes the output directory and sends klog there: client-go
// logs watch restarts as components stop, which would garble the progress
// line. The returned func flushes and closes the log.
func prepareOut(out string) (string, func(), error) {
	outDir, err := filepath.Abs(out)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("--out %s: %w", out, err)
	}
	klogFile, err := os.OpenFile(filepath.Join(outDir, "bench.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("--out %s: %w", out, err)
	}
	klog.LogToStderr(false)
	klog.SetOutput(klogFile)
	return outDir, func() { klog.Flush(); klogFile.Close() }, nil
}
