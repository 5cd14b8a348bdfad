// Package cloneset is `myriad bench cloneset`: one CloneSet scaled from 0
// to P pods, then image rollouts on it, in place and by ReCreate, in one
// run on one cluster. Each phase is timed from the write that starts it to
// the pod-watch event after which every pod runs the phase's image and is
// available, with the CloneSet's status agreeing; per phase it records pods
// over time, per-pod latency, pods recreated or restarted in place, the
// most pods unavailable at once, API requests served, the manager's own
// counters, and CPU and RSS of every process.
//
// It must never judge an in-place rollout that recreated pods, or a
// ReCreate that kept some, as a pass, and it must never write outside its
// own namespace: on an attached cluster that namespace is deleted at the
// end, its CloneSet and pods with it.
package cloneset
