// Package inplace owns in-place pod update, shared by CloneSet and the
// workloads after it: deciding whether a template change can be made without
// recreating the pod (Eligible), the InPlaceUpdateReady readiness gate
// (InjectReadinessGate), applying an update in OpenKruise's order
// (Updater.Apply), and telling when the runtime has finished it (Check,
// Updater.Complete).
//
// The discipline, and why:
//   - the gate goes False before any container changes, so the pod leaves
//     Service endpoints before it restarts;
//   - containers and metadata are changed with an Update under
//     retry-on-conflict, re-reading the pod on each retry, so a concurrent
//     kubelet or user write is never overwritten;
//   - the same Update records what the runtime reported before (imageIDs)
//     in the apps.kruise.io/inplace-update-state annotation, so completion
//     is judged from the pod alone, after a controller restart too;
//   - completion is level-based: Complete re-derives it from the pod every
//     time and turns the gate True whenever nothing is in flight, so the gate
//     never stays False after an update finished, was rolled back, or lost
//     a write to a conflict.
//
// The package decides and writes pods; it never lists, watches or schedules
// work. Time comes from an injected clock.
package inplace
