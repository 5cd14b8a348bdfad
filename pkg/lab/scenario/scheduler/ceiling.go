package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/controlplane"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// CeilingIdentity is who the ceiling writes as: the schedulers' own user,
// so its requests meet the same authorization and land in the same API
// Priority and Fairness priority level (workload-high, through the
// kube-scheduler flow schema) as theirs. The bench's own identity, the
// super-admin in system:masters, would be exempt from APF: a ceiling no
// scheduler could reach.
const CeilingIdentity = controlplane.SchedulerUser

// ceilingConfig is the client configuration of the ceiling: the scheduler
// identity of the cluster in dataDir, with kube-scheduler's client limits
// (QPS and burst 5000, protobuf) and a connection of its own, as a
// scheduler process has.
func ceilingConfig(dataDir string) (*rest.Config, error) {
	kc := controlplane.DataDir{Root: dataDir}.Kubeconfig("scheduler")
	rc, err := kubeclient.Config(kc, kubeclient.Options{QPS: 5000, Burst: 5000, Protobuf: true,
		UserAgent: ceilingSchedName, Timeout: 60 * time.Second, OwnConnection: true})
	if err != nil {
		return nil, fmt.Errorf("the ceiling's client (%s): %w", kc, err)
	}
	return rc, nil
}

// ceilingClient is a client with ceilingConfig whose requests' APF flows
// tally counts.
func ceilingClient(dataDir string, tally *flowTally) (kubernetes.Interface, error) {
	rc, err := ceilingConfig(dataDir)
	if err != nil {
		return nil, err
	}
	rc.Wrap(tally.wrap)
	return kubernetes.NewForConfig(rc)
}

// ceiling is the bench's own binder: pods to nodes round-robin, no
// decisions. With events, as many writers again record each bound pod's
// Scheduled event, off the binders' path as the schedulers' event
// recorders are.
type ceiling struct {
	client  kubernetes.Interface
	clk     clock.WithTicker
	binders int
	events  bool
}

// ceilingWrites is what the ceiling's writes did. The phase is over only
// when every binding and every event write has returned: an event write
// still in flight at the last binding is work the API server has yet to
// do, and leaving it out would flatter the ceiling.
type ceilingWrites struct {
	Binds int
	// BindsDone is when the last binding returned.
	BindsDone time.Time
	// PendingAtLastBind are event writes that had not returned when the
	// last binding did.
	PendingAtLastBind int
	// EventsDone is when the last event write returned; zero without
	// events.
	EventsDone  time.Time
	EventWrites int
	EventErrors int
	FirstErr    string

	mu        sync.Mutex
	returned  int
	recorders sync.WaitGroup
}

// Done is when the last of the ceiling's writes returned.
func (w *ceilingWrites) Done() time.Time {
	if w.EventsDone.After(w.BindsDone) {
		return w.EventsDone
	}
	return w.BindsDone
}

// bind binds pods and returns when the last binding has returned, with
// the event writes still going; drain waits for them. A binding that fails
// three times fails the phase.
func (c *ceiling) bind(ctx context.Context, pods []string, nodes []NodeAlloc) (*ceilingWrites, error) {
	w := &ceilingWrites{}
	queue := make(chan int, len(pods)) // never blocks a binder
	if c.events {
		for range c.binders {
			w.recorders.Go(func() {
				for i := range queue {
					err := c.recordScheduled(ctx, pods[i], nodes[i%len(nodes)].Name)
					w.mu.Lock()
					w.returned++
					if err != nil {
						w.EventErrors++
						if w.FirstErr == "" {
							w.FirstErr = err.Error()
						}
					} else {
						w.EventWrites++
					}
					w.mu.Unlock()
				}
			})
		}
	}
	var bindsMu sync.Mutex
	err := rig.ForEach(ctx, c.clk, len(pods), c.binders, nil, func(ctx context.Context, i int) error {
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pods[i], Namespace: Namespace},
			Target: corev1.ObjectReference{Kind: "Node", Name: nodes[i%len(nodes)].Name}}
		var err error
		for range 3 {
			if err = c.client.CoreV1().Pods(Namespace).Bind(ctx, b, metav1.CreateOptions{}); err == nil {
				bindsMu.Lock()
				w.Binds++
				bindsMu.Unlock()
				if c.events {
					queue <- i
				}
				return nil
			}
			if apierrors.IsConflict(err) {
				return nil // already bound
			}
		}
		return fmt.Errorf("bind %s as %s: %w", pods[i], CeilingIdentity, err)
	})
	close(queue)
	w.mu.Lock()
	w.BindsDone = c.clk.Now()
	if c.events {
		w.PendingAtLastBind = w.Binds - w.returned
	}
	w.mu.Unlock()
	return w, err
}

// drain waits until every event write has returned (or ctx ended, which
// makes them return).
func (c *ceiling) drain(w *ceilingWrites) {
	w.recorders.Wait()
	if c.events {
		w.mu.Lock()
		w.EventsDone = c.clk.Now()
		w.mu.Unlock()
	}
}

// recordScheduled writes the events.k8s.io Event kube-scheduler records
// for a binding, with the same fields, so the ceiling's writes weigh what
// the schedulers' do.
func (c *ceiling) recordScheduled(ctx context.Context, pod, node string) error {
	now := c.clk.Now()
	_, err := c.client.EventsV1().Events(Namespace).Create(ctx, &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod, now.UnixNano()), Namespace: Namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: ceilingSchedName,
		ReportingInstance:   ceilingSchedName,
		Action:              "Binding",
		Reason:              "Scheduled",
		Regarding:           corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: Namespace, Name: pod},
		Note:                fmt.Sprintf("Successfully assigned %s/%s to %s", Namespace, pod, node),
		Type:                corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("Scheduled event for %s as %s: %w", pod, CeilingIdentity, err)
	}
	return nil
}
