package rig

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// StartOrAttach attaches to the cluster of o.Kubeconfig, or starts one with
// a progress line counting Ready nodes.
func StartOrAttach(ctx context.Context, o Options, con *lab.Console) (*Rig, error) {
	if o.Attached() {
		return Attach(ctx, o, con)
	}
	return Start(ctx, o, con, func(p lab.ReadyPoint, el time.Duration) string {
		return fmt.Sprintf("starting: %d/%d nodes Ready | %s elapsed", p.Ready, o.Nodes, el.Round(time.Second))
	})
}

// JSONClient is a controller-runtime client of the rig's cluster for the
// types of scheme. It speaks JSON (custom resources have no protobuf) and
// logs where klog goes (bench.log), not to a warning on the terminal.
func (r *Rig) JSONClient(scheme *runtime.Scheme) (client.WithWatch, error) {
	rc := rest.CopyConfig(r.Config)
	rc.ContentType, rc.AcceptContentTypes = "application/json", "application/json"
	rc.Timeout = time.Minute
	ctrllog.SetLogger(klog.NewKlogr())
	c, err := client.NewWithWatch(rc, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for custom resources: %w", err)
	}
	return c, nil
}
