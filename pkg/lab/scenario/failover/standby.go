package failover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/supervisor"
)

// standbyTarget starts the component's second instance beside the one
// `myriad up` runs, with that one's arguments (read from its process) and
// its own listen ports, and returns once the standby is warm. Attached,
// the cluster's processes are not the bench's to start or kill.
func standbyTarget(ctx context.Context, x *Run, sp spec) (*Target, error) {
	r := x.r
	if r.Cluster == nil {
		return nil, errors.New("the cluster is attached (--kubeconfig): its processes are not the bench's to start a standby beside or to kill")
	}
	pid := r.Cluster.Supervisor.Pids()[sp.name]
	if pid <= 0 {
		return nil, fmt.Errorf("the cluster runs no %s (myriad up --scheduler %s)", sp.name, x.o.scheduler())
	}
	args, err := cmdline(pid)
	if err != nil {
		return nil, fmt.Errorf("read %s's arguments: %w", sp.name, err)
	}
	sargs, err := standbyArgs(sp, args, controlplane.FreePort)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if sp.secure || sp.secureMetrics {
		plan := r.Cluster.Plan
		cert, key := plan.Certs.Client(controlplane.SuperAdminUser)
		s, err := lab.NewScraper(sp.name, "", plan.Certs.CA, cert, key)
		if err != nil {
			return nil, err
		}
		hc = s.Client
	}
	var insts [2]instance
	for i, a := range [][]string{args, sargs} {
		ep, err := endpointOf(sp, a)
		if err != nil {
			return nil, err
		}
		insts[i] = instance{process: sp.name, ep: ep, http: hc}
	}
	insts[1].process = standbyName(sp.name)
	x.con.Printf("%s: starting a standby (%s) ...", sp.name, insts[1].process)
	// The standby is supervised as `myriad up` supervises the first
	// instance: with a Lease handover of its own.
	own, ok := r.Cluster.Handovers[sp.name]
	var obs supervisor.Observer
	standbyHandover := r.Cluster.NewHandover(r.Client.CoordinationV1(), sp.name, standbyName(sp.name))
	if ok && standbyHandover != nil {
		obs = standbyHandover
	}
	comp, err := r.StartComponent(ctx, insts[1].process, sargs, nil, insts[1].readyz, obs)
	if err != nil {
		return nil, fmt.Errorf("the standby did not start: %w", err)
	}
	return &Target{
		Standby: insts[1].process,
		SetHandover: func(on bool) bool {
			if !ok || standbyHandover == nil {
				return false
			}
			own.SetEnabled(on)
			standbyHandover.SetEnabled(on)
			return true
		},
		Leader: func(ctx context.Context) (string, error) { return x.leader(ctx, sp, insts) },
		Kill:   func(p string) (int, error) { return r.Signal(p, x.o.Signal) },
		Restarted: func(ctx context.Context, p string, pid int) (time.Time, error) {
			return r.WaitRestarted(ctx, p, pid, nil)
		},
		Stop: func() {
			r.StopComponent(comp)
			x.settle(ctx, sp, insts[0])
		},
	}, nil
}

// settle waits (at most two minutes) until the instance `myriad up` runs
// leads again: when the stopped standby led, its Lease must expire first,
// and the next component's rounds must not pay for that.
func (x *Run) settle(ctx context.Context, sp spec, in instance) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t := x.env.Clock.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if ok, _ := in.leads(ctx, sp); ok {
			x.con.EndProgress()
			return
		}
		x.con.Progress(fmt.Sprintf("%s: standby stopped, waiting for %s to lead again", sp.name, in.process))
		select {
		case <-ctx.Done():
			x.con.EndProgress()
			x.con.Printf("%s: %s did not lead again within 2m; the next component's rounds may pay for it", sp.name, in.process)
			return
		case <-t.C():
		}
	}
}

// leader waits until the Lease was renewed lately, exactly one instance
// says it leads and the other is warm, and returns the leader.
func (x *Run) leader(ctx context.Context, sp spec, insts [2]instance) (string, error) {
	clk := x.env.Clock
	t := clk.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	why := ""
	for {
		why = x.leaderOnce(ctx, sp, insts)
		if why == "" {
			for i, in := range insts {
				if ok, _ := in.leads(ctx, sp); ok {
					return insts[i].process, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s: %w", why, ctx.Err())
		case <-t.C():
		}
	}
}

// leaderOnce says what keeps the component from a round now; "" when
// nothing does.
func (x *Run) leaderOnce(ctx context.Context, sp spec, insts [2]instance) string {
	holder, renewed, d := x.w.holder(sp.lease)
	fresh := 5 * time.Second
	if d != nil {
		fresh = time.Duration(*d*float64(time.Second)) / 2
	}
	if holder == "" || x.env.Clock.Since(renewed) > fresh {
		return fmt.Sprintf("Lease kube-system/%s: holder %q last renewed %s ago", sp.lease, holder, x.env.Clock.Since(renewed).Round(time.Second))
	}
	leaders := 0
	for _, in := range insts {
		if ok, _ := in.leads(ctx, sp); ok {
			leaders++
		} else if err := in.readyz(ctx); err != nil {
			return fmt.Sprintf("%s is not warm: %v", in.process, err)
		}
	}
	if leaders != 1 {
		return fmt.Sprintf("%d of the 2 instances say they lead", leaders)
	}
	return ""
}
