package chaos

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestWriterRecordsWhatWasAcknowledgedAndReadsItBack(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	failNext := ""
	cs.PrependReactor("*", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch {
		case failNext == "timeout" && (a.GetVerb() == "create" || a.GetVerb() == "update"):
			failNext = ""
			return true, nil, errors.New("context deadline exceeded")
		case failNext == "conflict" && a.GetVerb() == "update":
			failNext = ""
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "seq-00", errors.New("changed"))
		}
		return false, nil, nil
	})
	l := NewLedger()
	w := &Writer{Client: cs, Clock: clocktesting.NewFakeClock(t0), Namespace: "ns", Keys: 2, Timeout: time.Second, Ledger: l}
	if err := w.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	w.Write(ctx, 0) // create ack-0000000
	w.Write(ctx, 1) // seq-00 → 1
	w.Write(ctx, 3) // seq-01 → 1
	failNext = "timeout"
	w.Write(ctx, 2) // create ack-0000001: unknown
	failNext = "conflict"
	w.Write(ctx, 5) // seq-00: the API answered, no ack
	w.Write(ctx, 9) // seq-00: read first (1), then → 2
	acked, unknown := l.Counts()
	if acked != 4 || unknown != 1 {
		t.Fatalf("acked %d, unknown %d; want 4 and 1", acked, unknown)
	}
	stored, err := w.Stored(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stored["seq-00"] != 2 || stored["seq-01"] != 1 {
		t.Fatalf("stored = %v, want seq-00 at 2 and seq-01 at 1", stored)
	}
	if _, ok := stored["ack-0000000"]; !ok {
		t.Fatalf("stored = %v, want ack-0000000", stored)
	}
	if lost := l.Check(stored); len(lost) != 0 {
		t.Fatalf("lost = %v, want none", lost)
	}
	ops := w.Ops()
	failed := 0
	for _, op := range ops {
		if op.Err {
			failed++
		}
	}
	if len(ops) != 6 || failed != 1 {
		t.Fatalf("%d ops with %d failed; want 6 with 1 (a conflict is an answer)", len(ops), failed)
	}
	// A store that rolled seq-00 back loses its acknowledged write.
	if err := cs.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
		&corev1.ConfigMap{ObjectMeta: metaNamed("ns", "seq-00"), Data: map[string]string{seqKey: "1"}}, "ns"); err != nil {
		t.Fatal(err)
	}
	stored, _ = w.Stored(ctx)
	if lost := l.Check(stored); len(lost) != 1 {
		t.Fatalf("lost = %v, want seq-00's", lost)
	}
}

func metaNamed(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
