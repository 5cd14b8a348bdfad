package cli

import (
	"time"

	"github.com/spf13/pflag"
)

// leaseFlags binds the leader-election flags that Myriad's scheduler,
// manager and storage share, with one wording. Each package keeps its own
// LeaderElection type (none may import another's), so the fields come as
// pointers; their current values are the defaults.
type leaseFlags struct {
	Enabled                                   *bool
	Namespace                                 *string
	LeaseDuration, RenewDeadline, RetryPeriod *time.Duration
}

func (l leaseFlags) add(f *pflag.FlagSet) {
	f.BoolVar(l.Enabled, "leader-elect", *l.Enabled, "elect a leader through a Lease so standby instances can take over")
	f.StringVar(l.Namespace, "leader-elect-namespace", *l.Namespace, "namespace of the leader Lease")
	f.DurationVar(l.LeaseDuration, "leader-elect-lease-duration", *l.LeaseDuration, "how long a standby waits after the last renewal before taking over")
	f.DurationVar(l.RenewDeadline, "leader-elect-renew-deadline", *l.RenewDeadline, "how long the leader retries renewing before it gives up")
	f.DurationVar(l.RetryPeriod, "leader-elect-retry-period", *l.RetryPeriod, "interval between attempts to acquire or renew the Lease")
}
