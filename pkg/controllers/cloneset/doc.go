// Package cloneset is Myriad's CloneSet controller: OpenKruise's
// apps.kruise.io/v1alpha1 CloneSet, reconciled level-based from a shared
// informer cache.
//
// One reconcile of a CloneSet runs these steps, each from the cache and
// each stopping the pass when it writes something whose effect the next
// step depends on:
//
//  1. expectations: if creates, deletes or pod writes of an earlier pass
//     are not yet visible in the cache, wait (the cache would under-count
//     and the pass would act twice);
//  2. claim pods: adopt orphans the selector matches, release pods that no
//     longer match;
//  3. revisions: find or create the ControllerRevision of the template
//     (updateRevision) and trim history;
//  4. lifecycle: advance pods whose hooks were released (PreparingDelete →
//     deleted, PreparingNormal → Normal once scheduled or armed, Updated →
//     Normal) and finish in-place updates the runtime has completed;
//  5. scale: create or delete pods toward replicas (plus surge during a
//     recreating rollout), in the order documented on Plan;
//  6. update: move pods to updateRevision, in place when only images or
//     metadata changed, never making more than maxUnavailable pods
//     unavailable;
//  7. status, with the Progressing condition of progressDeadlineSeconds;
//     a CloneSet still on its way is requeued for the moment its deadline
//     passes.
//
// The decisions of steps 5 and 6 are made by Plan, a pure function of the
// CloneSet and its pods, so they are tested without an API server.
package cloneset
