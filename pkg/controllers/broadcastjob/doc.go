// Package broadcastjob is Myriad's BroadcastJob controller: OpenKruise's
// apps.kruise.io BroadcastJob (stored as v1beta1), one pod of the template on
// every node the template may run on, run to completion.
//
// One reconcile of a BroadcastJob:
//
//  1. expectations: if pods created by an earlier pass are not yet in the
//     cache, wait (the pass would see their nodes as empty);
//  2. Plan, a pure function of the job, the nodes, the job's pods and the
//     clock, decides which nodes are eligible, which get a pod now (within
//     parallelism), which pods to delete, whether the job has completed,
//     failed or must pause, and when to look again (deadline, TTL);
//  3. the pass carries that out and writes the status Plan computed.
//
// The package owns the job's pods and its status. It never counts
// incrementally: every count in the status is recomputed from the pods the
// cache holds, so a missed event or a restart cannot make them drift. It
// never schedules: a pod is pinned to its node by a required node affinity
// on metadata.name and the scheduler binds it, so resources already used on
// the node are the scheduler's to judge. It never starts a goroutine or a
// timer per job: deadlines and TTLs are requeues.
package broadcastjob
