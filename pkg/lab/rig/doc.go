// Package rig owns the cluster a `myriad bench` scenario runs against:
// started for the run (`myriad up` as supervised children, sampled from its
// first second so a run that never reaches its size still shows how far it
// got) or attached through a kubeconfig; extra components (schedulers,
// managers) started as supervised children of their own; namespaces that
// are ready for pods; paced, parallel, timed writes; and what the workload
// scenarios take at each phase boundary (API and manager counters through
// Meters, process samples) or check of an existing cluster (Ready nodes
// and room for the pods, a controller's Lease). Workload is the run
// skeleton every workload scenario shares (see Workload and pkg/lab's doc):
// a new workload scenario gives its phases as WorkloadSteps and keeps
// nothing of the skeleton itself.
//
// A rig never decides anything about a scenario's figures: it starts,
// samples and stops. Stop joins every goroutine and process it started.
package rig
