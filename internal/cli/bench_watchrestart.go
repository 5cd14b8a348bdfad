package cli

import (
	"github.com/spf13/cobra"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
	"github.com/myriad-dev/myriad/pkg/lab/scenario/watchrestart"
)

func newBenchWatchRestartCommand() *cobra.Command {
	o := watchrestart.Defaults()
	var out string
	cmd := &cobra.Command{
		Use:   "watch-restart",
		Short: "Restart an API server under K watchers and count what is re-sent, with watch bookmarks on vs off",
		Long: `Start a cluster (by default two API servers behind the balancer, no nodes),
create --objects ConfigMaps spread over --watchers/2 namespaces, restart the
API servers once so their watch caches hold steady-state history, then start
--watchers client-go reflectors: for every namespace a pair sharing one
HTTP/2 connection, one asking for watch bookmarks and one not. While other
ConfigMaps change at --churn-rate, wait --settle, then restart one API
server (--signal KILL: a crash, TERM: graceful; the supervisor starts it
again) and watch for up to --observe what every watcher whose stream broke
is sent: a watch resumed from its resource version, or 410 Gone and a full
relist. Writes result.json and report.html to --out and exits non-zero if
the run did not complete (no restart, a half with no watcher disrupted, or a
watcher that never re-established its watch).`,
		Example: `  myriad bench watch-restart --objects 20000 --watchers 200 --out /tmp/wr
  myriad bench watch-restart --apiservers 1 --out /tmp/wr-single
  myriad bench watch-restart --objects 200 --watchers 10 --settle 10s --out /tmp/wr-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, out, func(outDir string) (lab.Scenario, error) {
				if err := o.Validate(); err != nil {
					return nil, err
				}
				dir, err := rig.DataDirUnder(outDir, o.Rig.DataDir)
				if err != nil {
					return nil, err
				}
				o.Rig.DataDir = dir
				return watchrestart.New(o), nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory for result.json, report.html and the cluster's data (required)")
	f.IntVar(&o.Objects, "objects", o.Objects, "ConfigMaps the watchers hold, spread evenly over their namespaces")
	f.IntVar(&o.Watchers, "watchers", o.Watchers, "client-go reflectors, half with bookmarks (an even number)")
	f.IntVar(&o.ObjectBytes, "object-bytes", o.ObjectBytes, "data bytes per ConfigMap")
	f.IntVar(&o.CreateWorkers, "create-workers", o.CreateWorkers, "concurrent creates while loading the objects")
	f.Float64Var(&o.ChurnRate, "churn-rate", o.ChurnRate, "writes per second to other ConfigMaps while watching (what moves the watch cache on)")
	f.DurationVar(&o.Settle, "settle", o.Settle, "how long the watchers run before the restart (bookmarks come about once a minute)")
	f.DurationVar(&o.Observe, "observe", o.Observe, "longest wait after the restart for every disrupted watcher to re-establish its watch")
	f.StringVar(&o.Signal, "signal", o.Signal, "how the API server is stopped: KILL (a crash: streams break at once) or TERM (graceful: upstream keeps watches open up to 60s)")
	f.IntVar(&o.RestartIndex, "restart", o.RestartIndex, "which API server to restart (0-based)")
	addRigFlags(f, &o.Rig, 0, "simulated nodes (none are needed: the objects are ConfigMaps)", false)
	// Two API servers by default: bookmarks matter when a broken watch
	// reconnects to a server whose watch cache has been running.
	o.Rig.APIServers = 2
	f.Lookup("apiservers").DefValue = "2"
	return cmd
}
