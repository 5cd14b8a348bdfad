package watchrestart

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// Options are `myriad bench watch-restart`'s flags.
type Options struct {
	// Rig is the cluster started for the run; it needs no nodes and no
	// scheduler, and by default two API servers: bookmarks matter when a
	// broken watch reconnects to a server whose watch cache has been
	// running.
	Rig rig.Options
	// Objects are the ConfigMaps the watchers hold, spread evenly over
	// Watchers/2 namespaces of ObjectBytes each.
	Objects, ObjectBytes int
	// Watchers are client-go reflectors, half with bookmarks.
	Watchers      int
	CreateWorkers int
	// ChurnRate is writes per second to other ConfigMaps while watching.
	ChurnRate float64
	// Settle is how long the watchers run before the restart; Observe
	// the longest wait after it.
	Settle, Observe time.Duration
	// Signal is TERM or KILL; RestartIndex the API server to restart.
	Signal       string
	RestartIndex int
}

// Defaults are the command's defaults.
func Defaults() Options {
	o := Options{Rig: rig.Defaults(0), Objects: 20000, Watchers: 200, ObjectBytes: 1024, CreateWorkers: 32, ChurnRate: 20,
		Settle: 2 * time.Minute, Observe: 2 * time.Minute, Signal: "KILL"}
	o.Rig.APIServers = 2
	return o
}

// Validate rejects bad options with one line naming the flag.
func (o Options) Validate() error {
	if err := o.Rig.Validate(); err != nil {
		return err
	}
	if o.Rig.Attached() {
		return fmt.Errorf("--kubeconfig: watch-restart restarts an API server, so it needs a cluster of its own")
	}
	switch {
	case o.Watchers < 2 || o.Watchers%2 != 0 || o.Watchers > 2000:
		return fmt.Errorf("--watchers must be an even number between 2 and 2000, got %d", o.Watchers)
	case o.Objects < o.Watchers/2:
		return fmt.Errorf("--objects must be at least one per watcher pair (%d), got %d", o.Watchers/2, o.Objects)
	case o.ObjectBytes < 0 || o.ObjectBytes > 512<<10:
		return fmt.Errorf("--object-bytes must be between 0 and 524288, got %d", o.ObjectBytes)
	case o.ChurnRate < 0 || o.ChurnRate > 5000:
		return fmt.Errorf("--churn-rate must be between 0 and 5000 writes/s, got %g", o.ChurnRate)
	case o.Settle <= 0:
		return fmt.Errorf("--settle must be positive, got %s", o.Settle)
	case o.Observe < 10*time.Second:
		return fmt.Errorf("--observe must be at least 10s, got %s", o.Observe)
	case o.RestartIndex < 0 || o.RestartIndex >= o.Rig.APIServers:
		return fmt.Errorf("--restart must name one of the %d API servers (0 to %d), got %d", o.Rig.APIServers, o.Rig.APIServers-1, o.RestartIndex)
	case o.CreateWorkers < 1 || o.CreateWorkers > 1024:
		return fmt.Errorf("--create-workers must be between 1 and 1024, got %d", o.CreateWorkers)
	case o.Rig.Nodes > 100000:
		return fmt.Errorf("--nodes must be between 0 and 100000, got %d", o.Rig.Nodes)
	}
	_, err := o.signal()
	return err
}

func (o Options) signal() (syscall.Signal, error) {
	switch strings.TrimPrefix(strings.ToUpper(o.Signal), "SIG") {
	case "TERM":
		return syscall.SIGTERM, nil
	case "KILL":
		return syscall.SIGKILL, nil
	}
	return 0, fmt.Errorf("--signal must be TERM (a graceful restart) or KILL (a crash), got %q", o.Signal)
}

// perNamespace is the objects in each watched namespace.
func (o Options) perNamespace() int { return o.Objects / (o.Watchers / 2) }

func (o Options) parameters() map[string]string {
	perNS := o.perNamespace()
	return map[string]string{
		"objects":     fmt.Sprintf("%d ConfigMaps (%d per namespace, %d namespaces)", perNS*o.Watchers/2, perNS, o.Watchers/2),
		"objectBytes": strconv.Itoa(o.ObjectBytes),
		"watchers":    fmt.Sprintf("%d client-go reflectors: per namespace one with allowWatchBookmarks and one without, sharing one connection", o.Watchers),
		"watchMode":   "LIST then WATCH (WatchList streaming off for both halves), watch timeout 1h",
		"churn":       fmt.Sprintf("%.0f merge patches/s over %d ConfigMaps in %s", o.ChurnRate, churnPool, churnNamespace),
		"settle":      o.Settle.String(),
		"observe":     o.Observe.String() + " at most",
		"restart":     fmt.Sprintf("API server %d of %d, %s; the supervisor starts it again after 1s", o.RestartIndex, o.Rig.APIServers, strings.ToUpper(o.Signal)),
		"warmRestart": "every API server killed and restarted once after loading the objects (watch caches from steady state)",
		"apiservers":  strconv.Itoa(o.Rig.APIServers),
		"nodes":       strconv.Itoa(o.Rig.Nodes),
		"dataDir":     o.Rig.DataDir,
		"command":     strings.Join(os.Args, " "),
	}
}
