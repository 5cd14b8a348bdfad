package chaos

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
	"github.com/myriad-dev/myriad/pkg/lab/rig"
)

// seqKey is the data key that holds an updated ConfigMap's sequence.
const seqKey = "seq"

// Writer makes the run's acknowledged writes: every other write creates a
// new ConfigMap (ack-NNNNNNN), the others update one of Keys ConfigMaps
// (seq-NN) to its next sequence number, so both the create path and the
// update path of the storage are proved. Each update is conditional on the
// resourceVersion last seen, so two writes never race on one key.
type Writer struct {
	Client    kubernetes.Interface
	Clock     clock.Clock
	Namespace string
	Keys      int
	// Timeout bounds one write: past it the outcome is unknown.
	Timeout time.Duration
	Ledger  *Ledger

	mu   sync.Mutex
	ops  []lab.TimedOp
	keys []keyState
	errs errorTally
}

// keyState is what the writer knows of one updated key; its mutex
// serialises the key's writes.
type keyState struct {
	mu    sync.Mutex
	seq   int64
	rv    string
	stale bool // the last write's outcome is unknown: read before writing
}

func updatedName(k int) string { return fmt.Sprintf("seq-%02d", k) }
func createdName(i int) string { return fmt.Sprintf("ack-%07d", i) }

// Prepare creates the updated keys at sequence 0, before any fault.
func (w *Writer) Prepare(ctx context.Context) error {
	w.keys = make([]keyState, w.Keys)
	for k := range w.keys {
		cm := rig.ConfigMap(w.Namespace, updatedName(k), 64)
		cm.Data[seqKey] = "0"
		got, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create configmap %s/%s: %w", w.Namespace, cm.Name, err)
		}
		w.keys[k].rv = got.ResourceVersion
	}
	return nil
}

// Write is write number i.
func (w *Writer) Write(ctx context.Context, i int) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	start := w.Clock.Now()
	var err error
	if i%2 == 0 {
		err = w.create(ctx, createdName(i/2))
	} else {
		err = w.update(ctx, (i/2)%len(w.keys))
	}
	w.errs.add(err)
	w.mu.Lock()
	w.ops = append(w.ops, lab.TimedOp{At: start, Seconds: w.Clock.Since(start).Seconds(), Err: err != nil})
	w.mu.Unlock()
}

// Errors are the failed writes by cause.
func (w *Writer) Errors() []ErrorCount { return w.errs.top() }

func (w *Writer) create(ctx context.Context, name string) error {
	_, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Create(ctx, rig.ConfigMap(w.Namespace, name, 64), metav1.CreateOptions{})
	switch {
	case err == nil:
		w.Ledger.Created(name)
	case apierrors.IsAlreadyExists(err):
		// An earlier attempt of this very create landed although its
		// answer was lost; this run makes each name once, so it is ours.
		w.Ledger.Created(name)
		err = nil
	default:
		w.Ledger.Unknown()
	}
	return err
}

func (w *Writer) update(ctx context.Context, k int) error {
	ks := &w.keys[k]
	ks.mu.Lock()
	defer ks.mu.Unlock()
	cms := w.Client.CoreV1().ConfigMaps(w.Namespace)
	name := updatedName(k)
	if ks.stale {
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := ks.learn(got); err != nil {
			return err
		}
	}
	cm := rig.ConfigMap(w.Namespace, name, 64)
	cm.ResourceVersion = ks.rv
	cm.Data[seqKey] = strconv.FormatInt(ks.seq+1, 10)
	got, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
	switch {
	case err == nil:
		ks.seq, ks.rv = ks.seq+1, got.ResourceVersion
		w.Ledger.Updated(name, ks.seq)
	case apierrors.IsConflict(err):
		// The API answered: the key moved on (an earlier write whose
		// answer was lost landed). Read it before the next write.
		ks.stale = true
		return nil
	default:
		ks.stale = true
		w.Ledger.Unknown()
	}
	return err
}

// learn takes the stored sequence and resourceVersion of the key.
func (ks *keyState) learn(cm *corev1.ConfigMap) error {
	seq, err := strconv.ParseInt(cm.Data[seqKey], 10, 64)
	if err != nil {
		return fmt.Errorf("configmap %s: %s %q is not a number", cm.Name, seqKey, cm.Data[seqKey])
	}
	ks.seq, ks.rv, ks.stale = seq, cm.ResourceVersion, false
	return nil
}

// Ops are the writes so far.
func (w *Writer) Ops() []lab.TimedOp {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]lab.TimedOp(nil), w.ops...)
}

// Stored reads every ConfigMap of the namespace back (a consistent list,
// from etcd, page by page) as the ledger's Check takes it.
func (w *Writer) Stored(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := w.Client.CoreV1().ConfigMaps(w.Namespace).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list configmaps in %s: %w", w.Namespace, err)
		}
		for _, cm := range list.Items {
			seq := int64(0)
			if v, ok := cm.Data[seqKey]; ok {
				if seq, err = strconv.ParseInt(v, 10, 64); err != nil {
					return nil, fmt.Errorf("configmap %s: %s %q is not a number", cm.Name, seqKey, v)
				}
			}
			out[cm.Name] = seq
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}
