package inplace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/apis/apps/pub"
	"github.com/myriad-dev/myriad/pkg/containermeta"
)

// ErrGateReopened means the InPlaceUpdateReady condition turned True again
// between closing it and changing the containers (another writer, or a
// Complete for a pod that still needed an update). Nothing was changed;
// calling Apply again closes the gate and starts the grace period anew.
var ErrGateReopened = errors.New("InPlaceUpdateReady turned True before the update was applied")

// Updater writes in-place updates. It is safe for concurrent use on
// different pods; callers must not run Apply and Complete on the same pod at
// once (a workload controller's per-object queue gives that).
type Updater struct {
	// Pods is where pods are read and written; kubernetes.Interface.CoreV1()
	// or a fake clientset's.
	Pods corev1client.PodsGetter
	// Clock supplies now for conditions, the grace period and the state.
	Clock clock.PassiveClock
	// Backoff for conflicts; retry.DefaultRetry when zero.
	Backoff wait.Backoff
}

// Request is one in-place update of one pod.
type Request struct {
	// Revision is the ControllerRevision name the pod is updated to; it is
	// written to the controller-revision-hash label and the state.
	Revision string
	// Plan is what to change, from Eligible.
	Plan Plan
	// GracePeriod is how long the pod stays out of endpoints
	// (InPlaceUpdateReady False) before containers change.
	GracePeriod time.Duration
}

// Result says how far Apply got.
type Result struct {
	// Pod is the pod as last written or read.
	Pod *corev1.Pod
	// Updated is true when the containers and metadata were changed.
	Updated bool
	// RequeueAfter, when positive, is the grace period left: call Apply
	// again then.
	RequeueAfter time.Duration
}

// Apply moves a pod toward req, one level-based step sequence that can be
// repeated after any failure or restart:
//
//  1. InPlaceUpdateReady goes False (pods/status) unless it already is;
//  2. if the grace period, counted from that transition, has not passed,
//     Apply returns RequeueAfter;
//  3. images, labels, annotations, the revision label and the state
//     annotation (the pre-update imageIDs) are written in one Update, retried
//     on conflict with a fresh read. Resource changes go first through the
//     pods/resize subresource.
//
// The first attempt of each write uses the pod given (usually from an
// informer cache) rather than a GET: at 10^5 pods a read per write doubles
// the API load, and a stale pod only costs a conflict and a fresh read.
// A plan without container changes skips the gate: metadata changes do not
// restart anything. So does a pod without the InPlaceUpdateReady readiness
// gate, for which there is no grace period either.
func (u *Updater) Apply(ctx context.Context, pod *corev1.Pod, req Request) (Result, error) {
	if pod.Labels[pub.ControllerRevisionHashLabelKey] == req.Revision {
		if st, ok, _ := ReadState(pod); ok && st.Revision == req.Revision {
			return Result{Pod: pod}, nil // applied already; Complete finishes it
		}
	}
	cur := pod
	// Pods created without the gate (by an older controller, or adopted)
	// cannot be taken out of endpoints this way; they are updated directly.
	gated := req.Plan.ChangesContainers() && HasReadinessGate(pod)
	if gated {
		var since time.Time
		var err error
		cur, since, err = u.closeGate(ctx, pod)
		if err != nil {
			return Result{Pod: cur}, err
		}
		if left := since.Add(req.GracePeriod).Sub(u.Clock.Now()); left > 0 {
			return Result{Pod: cur, RequeueAfter: left}, nil
		}
	}
	if err := u.resize(ctx, cur, req.Plan); err != nil {
		return Result{Pod: cur}, err
	}
	updated, err := u.update(ctx, cur, func(p *corev1.Pod) error {
		if gated {
			if c := GateCondition(p); c == nil || c.Status != corev1.ConditionFalse {
				return ErrGateReopened
			}
		}
		return mutate(p, req, u.Clock.Now())
	})
	if err != nil {
		return Result{Pod: cur}, err
	}
	return Result{Pod: updated, Updated: true}, nil
}

// Complete turns InPlaceUpdateReady True when Check says nothing is in
// flight, including on a pod just created with the gate and on one whose
// update was rolled back. It re-checks on every fresh read, so it never
// reopens a gate that a newer update closed; a pod just created, which no
// update has touched, gets the condition by a patch without a read
// (openNewGate). done reports Check's verdict.
//
// When the running batch is done and containers of lower launch priority
// wait (NextContainerImages), Complete starts their batch instead; the gate
// stays False until the last batch is done.
//
// Call it for pods that need no update (at the desired revision); for a pod
// that still needs one, call Apply, or the gate would reopen mid-grace.
func (u *Updater) Complete(ctx context.Context, pod *corev1.Pod) (done bool, err error) {
	if NextBatchDue(pod) {
		err := u.retry(ctx, pod, func(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
			if !NextBatchDue(p) {
				return p, nil // a fresh read shows it started, or superseded: no write
			}
			st, _, _ := ReadState(p)
			images, refs := st.NextContainerImages, st.NextContainerRefMetadata
			st.NextContainerImages, st.NextContainerRefMetadata = nil, nil
			startNext(p, &st, images, refs, nil, u.Clock.Now())
			if err := writeState(p, st); err != nil {
				return nil, err
			}
			return u.Pods.Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{})
		})
		if err != nil {
			return false, fmt.Errorf("start the next batch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		return false, nil
	}
	if !Check(pod) {
		return false, nil
	}
	c := GateCondition(pod)
	if (c == nil && !HasReadinessGate(pod)) || (c != nil && c.Status == corev1.ConditionTrue) {
		return true, nil
	}
	if _, updated, _ := ReadState(pod); c == nil && !updated {
		return true, u.openNewGate(ctx, pod)
	}
	done = true
	err = u.retry(ctx, pod, func(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
		if !Check(p) {
			done = false
			return p, nil
		}
		if !setGate(p, corev1.ConditionTrue, ReasonFinished, metav1.NewTime(u.Clock.Now())) {
			return p, nil
		}
		return u.Pods.Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	})
	if err != nil {
		return false, fmt.Errorf("mark pod %s/%s %s: %w", pod.Namespace, pod.Name, pub.InPlaceUpdateReady, err)
	}
	return done, nil
}

// openNewGate sets InPlaceUpdateReady True on a pod created with the gate
// and never updated in place, with a strategic-merge patch of its status
// carrying the pod's UID as precondition, as the kubelet writes status: no
// read and no conflict. An Update from the caller's cached copy of a pod
// just created nearly always conflicts, the scheduler's binding and the
// node's first status having changed it since: measured, 94% of them, each
// then costing a GET and a second PUT.
//
// No resourceVersion is needed: only an in-place update closes the gate,
// the caller runs Apply and Complete on one pod one at a time (the
// Updater's contract), and Apply re-reads the pod and refuses to change
// its containers while the gate is True (ErrGateReopened).
func (u *Updater) openNewGate(ctx context.Context, pod *corev1.Pod) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status": map[string]any{"conditions": []corev1.PodCondition{{
			Type: pub.InPlaceUpdateReady, Status: corev1.ConditionTrue, Reason: ReasonFinished,
			LastTransitionTime: metav1.NewTime(u.Clock.Now()),
		}}},
	})
	if err != nil {
		return err
	}
	if _, err := u.Pods.Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("mark pod %s/%s %s: %w", pod.Namespace, pod.Name, pub.InPlaceUpdateReady, err)
	}
	return nil
}

// NextBatchDue: containers wait for a later batch and every container of
// the batches started so far runs its new image and environment.
func NextBatchDue(pod *corev1.Pod) bool {
	st, ok, err := ReadState(pod)
	return ok && err == nil && (len(st.NextContainerImages) > 0 || len(st.NextContainerRefMetadata) > 0) &&
		len(batchPending(pod, st)) == 0
}

// closeGate makes InPlaceUpdateReady False and returns when it became so.
func (u *Updater) closeGate(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, time.Time, error) {
	var since time.Time
	var out *corev1.Pod
	err := u.retry(ctx, pod, func(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
		now := metav1.NewTime(u.Clock.Now())
		if !setGate(p, corev1.ConditionFalse, ReasonStarted, now) {
			since, out = GateCondition(p).LastTransitionTime.Time, p
			return p, nil
		}
		w, err := u.Pods.Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			// The server keeps the time we sent; use ours if it did not echo it.
			since, out = now.Time, w
			if c := GateCondition(w); c != nil && !c.LastTransitionTime.IsZero() {
				since = c.LastTransitionTime.Time
			}
		}
		return w, err
	})
	if err != nil {
		return pod, since, fmt.Errorf("set pod %s/%s %s False: %w", pod.Namespace, pod.Name, pub.InPlaceUpdateReady, err)
	}
	return out, since, nil
}

// resize applies resource changes through pods/resize, the only way the
// API server accepts them. A strategic merge patch keyed by container name
// is idempotent, so a retried Apply repeats it harmlessly.
func (u *Updater) resize(ctx context.Context, pod *corev1.Pod, plan Plan) error {
	type container struct {
		Name      string                      `json:"name"`
		Resources corev1.ResourceRequirements `json:"resources"`
	}
	var cs []container
	for _, c := range plan.Containers {
		if c.Resources != nil {
			cs = append(cs, container{Name: c.Name, Resources: *c.Resources})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": cs}})
	if err != nil {
		return fmt.Errorf("encode resize of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if _, err := u.Pods.Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize"); err != nil {
		return fmt.Errorf("resize pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// update applies mutate and Updates the pod, retrying conflicts.
func (u *Updater) update(ctx context.Context, pod *corev1.Pod, mutate func(*corev1.Pod) error) (*corev1.Pod, error) {
	var out *corev1.Pod
	err := u.retry(ctx, pod, func(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
		if err := mutate(p); err != nil {
			return nil, err
		}
		w, err := u.Pods.Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{})
		out = w
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("update pod %s/%s in place: %w", pod.Namespace, pod.Name, err)
	}
	return out, nil
}

// retry runs write on a copy of pod, then on fresh reads while it conflicts.
// A pod that was deleted and recreated under the same name is not ours.
func (u *Updater) retry(ctx context.Context, pod *corev1.Pod, write func(context.Context, *corev1.Pod) (*corev1.Pod, error)) error {
	backoff := u.Backoff
	if backoff.Steps == 0 {
		backoff = retry.DefaultRetry
	}
	first := true
	return retry.RetryOnConflict(backoff, func() error {
		p := pod.DeepCopy()
		if !first {
			fresh, err := u.Pods.Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if fresh.UID != pod.UID {
				return fmt.Errorf("pod %s/%s was replaced (uid %s, had %s)", pod.Namespace, pod.Name, fresh.UID, pod.UID)
			}
			p = fresh
		}
		first = false
		_, err := write(ctx, p)
		return err
	})
}

// mutate changes containers and metadata and records the state. The
// pre-update statuses come from the same read the Update is based on.
func mutate(p *corev1.Pod, req Request, now time.Time) error {
	old, hadState, _ := ReadState(p)
	st := pub.InPlaceUpdateState{
		Revision:              req.Revision,
		UpdateTimestamp:       metav1.NewTime(now),
		LastContainerStatuses: map[string]pub.InPlaceUpdateContainerStatus{},
	}
	// An update still in flight keeps its record for the containers this
	// one leaves alone; the containers it changes again are recorded afresh
	// from what the runtime reports now (see Pending for why).
	if hadState {
		for name, last := range old.LastContainerStatuses {
			if !imageUpdateDone(p, name, last) {
				st.LastContainerStatuses[name] = last
			}
		}
		for _, name := range old.ResizedContainers {
			if !resizeDone(p, name) {
				st.ResizedContainers = append(st.ResizedContainers, name)
			}
		}
	}
	// Image and environment changes left for later batches by an update
	// still in flight are still owed: the plan only names what differs
	// between revisions.
	images := map[string]string{}
	refs := map[string]metav1.ObjectMeta{}
	if hadState {
		maps.Copy(images, old.NextContainerImages)
		maps.Copy(refs, old.NextContainerRefMetadata)
		st.UpdateEnvFromMetadata = len(envPending(p, old)) > 0
	}
	var restarts []string
	for _, c := range req.Plan.Containers {
		if specContainer(p, c.Name) == nil {
			return fmt.Errorf("pod %s/%s has no container %q to update", p.Namespace, p.Name, c.Name)
		}
		if c.Image != "" {
			images[c.Name] = c.Image
		}
		if c.Resources != nil && !slices.Contains(st.ResizedContainers, c.Name) {
			st.ResizedContainers = append(st.ResizedContainers, c.Name)
		}
		if c.RestartForEnv {
			restarts = append(restarts, c.Name)
			st.UpdateEnvFromMetadata = true
		}
	}
	for name, image := range images {
		if spec := specContainer(p, name); spec == nil || spec.Image == image {
			delete(images, name)
		}
	}
	labels, annotations := req.Plan.Labels, req.Plan.Annotations
	if len(restarts) > 0 {
		// Labels and annotations that only containers of later batches
		// read change when their batch starts, or they would restart now.
		_, later := splitBatch(p, changing(images, refs, restarts))
		labels = deferRefs(p, containermeta.Labels, labels, later, refs)
		annotations = deferRefs(p, containermeta.Annotations, annotations, later, refs)
	}
	p.Labels = applyMetadata(p.Labels, labels)
	p.Annotations = applyMetadata(p.Annotations, annotations)
	startNext(p, &st, images, refs, restarts, now)
	if len(st.LastContainerStatuses) == 0 {
		st.LastContainerStatuses = nil
	}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[pub.ControllerRevisionHashLabelKey] = req.Revision
	return writeState(p, st)
}

// startNext starts the batch of highest launch priority among the
// containers still to change (images, metadata deferred in refs, and
// restarts for the environment) and leaves the others in st for later.
func startNext(p *corev1.Pod, st *pub.InPlaceUpdateState, images map[string]string, refs map[string]metav1.ObjectMeta, restarts []string, now time.Time) {
	batch, later := splitBatch(p, changing(images, refs, restarts))
	if len(batch) == 0 {
		return
	}
	for _, name := range batch {
		if m, ok := refs[name]; ok {
			p.Labels = applyMetadata(p.Labels, MetadataUpdate{Set: m.Labels})
			p.Annotations = applyMetadata(p.Annotations, MetadataUpdate{Set: m.Annotations})
		}
		image, ok := images[name]
		if !ok {
			continue
		}
		if st.LastContainerStatuses == nil {
			st.LastContainerStatuses = map[string]pub.InPlaceUpdateContainerStatus{}
		}
		var last pub.InPlaceUpdateContainerStatus
		if cs := containerStatus(p, name); cs != nil {
			last = pub.InPlaceUpdateContainerStatus{ImageID: cs.ImageID, Image: cs.Image, ContainerID: cs.ContainerID}
		}
		st.LastContainerStatuses[name] = last
		specContainer(p, name).Image = image
	}
	st.ContainerBatchesRecord = append(st.ContainerBatchesRecord, pub.InPlaceUpdateContainerBatch{Timestamp: metav1.NewTime(now), Containers: batch})
	st.NextContainerImages, st.NextContainerRefMetadata = nil, nil
	for _, name := range later {
		if image, ok := images[name]; ok {
			if st.NextContainerImages == nil {
				st.NextContainerImages = map[string]string{}
			}
			st.NextContainerImages[name] = image
		}
		if m, ok := refs[name]; ok {
			if st.NextContainerRefMetadata == nil {
				st.NextContainerRefMetadata = map[string]metav1.ObjectMeta{}
			}
			st.NextContainerRefMetadata[name] = m
		}
	}
}

// changing names, sorted, the containers with an image change, deferred
// metadata or a restart for the environment.
func changing(images map[string]string, refs map[string]metav1.ObjectMeta, restarts []string) []string {
	names := slices.Concat(slices.Collect(maps.Keys(images)), slices.Collect(maps.Keys(refs)), restarts)
	slices.Sort(names)
	return slices.Compact(names)
}

// deferRefs takes out of u the keys of field set for containers of later
// batches only, recording them in refs under each such container; keys a
// container of the first batch also reads, and removals, stay in u.
func deferRefs(p *corev1.Pod, field string, u MetadataUpdate, later []string, refs map[string]metav1.ObjectMeta) MetadataUpdate {
	out := MetadataUpdate{Remove: u.Remove}
	for k, v := range u.Set {
		var readers []string
		for i := range p.Spec.Containers {
			if containermeta.Reads(&p.Spec.Containers[i], field, k) {
				readers = append(readers, p.Spec.Containers[i].Name)
			}
		}
		if len(readers) == 0 || slices.ContainsFunc(readers, func(n string) bool { return !slices.Contains(later, n) }) {
			if out.Set == nil {
				out.Set = map[string]string{}
			}
			out.Set[k] = v
			continue
		}
		for _, name := range readers {
			m := refs[name]
			if field == containermeta.Labels {
				m.Labels = setKey(m.Labels, k, v)
			} else {
				m.Annotations = setKey(m.Annotations, k, v)
			}
			refs[name] = m
		}
	}
	return out
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func applyMetadata(m map[string]string, u MetadataUpdate) map[string]string {
	if u.Empty() {
		return m
	}
	if m == nil {
		m = map[string]string{}
	}
	for k, v := range u.Set {
		m[k] = v
	}
	for _, k := range u.Remove {
		delete(m, k)
	}
	return m
}
