// Package sidecarset is `myriad bench sidecarset`: what SidecarSets cost
// at pod creation, and a sidecar image upgrade in place against the
// recreation users must do without it, in one run on one cluster.
//
// Phase 1 creates P bare pods three times, with no SidecarSet, with one
// selecting every pod, and with S (default 100) each selecting its own
// 1/S of the pods by a label bucket, so that each pod gets one sidecar but
// meets all S policies' bindings at admission. Creation is timed per
// request at a bounded concurrency; every created pod is checked to carry
// exactly the sidecars it should. Phase 2 rolls a SidecarSet's sidecar
// image across a Deployment of P pods: in place (updateStrategy
// RollingUpdate, the controller changing images on running pods), then by
// recreating every pod (NotUpdate, then a Deployment rollout), timed from
// the SidecarSet write until every pod runs the new image, spec and
// status, and is Ready, with the SidecarSet's status agreeing.
//
// It must never count a pod without its sidecar (or with another's) as
// injected, nor an in-place upgrade that recreated a pod as a pass. It
// writes only in its own namespace and SidecarSets it names and scopes to
// that namespace; on an attached cluster it deletes both at the end.
package sidecarset
