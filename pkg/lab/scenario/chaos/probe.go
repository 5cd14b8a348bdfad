package chaos

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// Reader probes reads through the API's front door: a GET of one of the
// writer's ConfigMaps, which without a resourceVersion is a quorum read
// (etcd must answer, not only the API server's cache).
type Reader struct {
	Client    kubernetes.Interface
	Clock     clock.Clock
	Namespace string
	Timeout   time.Duration

	mu   sync.Mutex
	ops  []lab.TimedOp
	errs errorTally
}

// Read is probe i.
func (r *Reader) Read(ctx context.Context, _ int) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	start := r.Clock.Now()
	_, err := r.Client.CoreV1().ConfigMaps(r.Namespace).Get(ctx, updatedName(0), metav1.GetOptions{})
	r.errs.add(err)
	r.mu.Lock()
	r.ops = append(r.ops, lab.TimedOp{At: start, Seconds: r.Clock.Since(start).Seconds(), Err: err != nil})
	r.mu.Unlock()
}

// Errors are the failed reads by cause.
func (r *Reader) Errors() []ErrorCount { return r.errs.top() }

// Ops are the probes so far.
func (r *Reader) Ops() []lab.TimedOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]lab.TimedOp(nil), r.ops...)
}
