package lab

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// WorkloadWatch says which pods and which workload object feed a
// WorkloadPods.
type WorkloadWatch struct {
	// Client and Namespace are the pods'; Selector, when not empty, the
	// label selector they are chosen by.
	Client              kubernetes.Interface
	Namespace, Selector string
	// Workload lists and watches the workload's kind; Object is an empty
	// object of it.
	Workload cache.ListerWatcher
	Object   runtime.Object
	// Status is the workload's status when obj is the workload the pods
	// follow, ok false for any other object.
	Status func(obj any) (s WorkloadStatus, ok bool)
	// Kind names the workload in errors ("CloneSet").
	Kind string
	// Pods, when not nil, is also given every pod event, after the
	// WorkloadPods (a scenario's own per-pod figures, e.g. per node).
	Pods cache.ResourceEventHandler
}

// Watch starts one pod informer and one informer of the workload that feed
// c, runs them until bgCtx ends (bg joins them), and returns once both
// have synced, or an error after 2 minutes. The informers only read.
func (c *WorkloadPods) Watch(ctx, bgCtx context.Context, bg *sync.WaitGroup, w WorkloadWatch) error {
	opts := []informers.SharedInformerOption{informers.WithNamespace(w.Namespace)}
	if w.Selector != "" {
		opts = append(opts, informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = w.Selector }))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, opts...)
	podInf := factory.Core().V1().Pods().Informer()
	// 10^4 pods: keep what the tracker reads, not every pod's managedFields.
	if err := podInf.SetTransform(func(obj any) (any, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			p.ManagedFields = nil
		}
		return obj, nil
	}); err != nil {
		return err
	}
	upsert := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			c.Upsert(p)
		}
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    upsert,
		UpdateFunc: func(_, obj any) { upsert(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				c.Delete(p.UID)
			}
		},
	}); err != nil {
		return err
	}
	if w.Pods != nil {
		if _, err := podInf.AddEventHandler(w.Pods); err != nil {
			return err
		}
	}
	wlInf := cache.NewSharedIndexInformer(w.Workload, w.Object, 0, cache.Indexers{})
	observe := func(obj any) {
		if s, ok := w.Status(obj); ok {
			c.ObserveStatus(s)
		}
	}
	if _, err := wlInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		return err
	}
	factory.Start(bgCtx.Done())
	bg.Go(func() {
		<-bgCtx.Done()
		factory.Shutdown()
	})
	bg.Go(func() { wlInf.RunWithContext(bgCtx) })
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), podInf.HasSynced, wlInf.HasSynced) {
		return fmt.Errorf("the pod and %s watches did not sync within 2m", w.Kind)
	}
	return nil
}
