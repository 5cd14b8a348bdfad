package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
)

// The run's two workloads: a Deployment scaled up and down (the
// controller-manager, the scheduler and the simulator create and delete
// its pods) and a CloneSet updated in place (Myriad's manager changes
// its pods' images without recreating them, so none may be created
// beyond its replicas or deleted).
const (
	churnName  = "churn"
	steadyName = "steady"
)

// images the CloneSet's in-place updates alternate between.
var images = [2]string{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.9"}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			AutomountServiceAccountToken:  ptr.To(false),
			Containers: []corev1.Container{{Name: "app", Image: images[0],
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
		},
	}
}

func churnDeployment(ns string, replicas int) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: churnName, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": churnName}},
			Template: podTemplate(churnName)},
	}
}

func steadyCloneSet(ns string, replicas int) *v1alpha1.CloneSet {
	return &v1alpha1.CloneSet{
		ObjectMeta: metav1.ObjectMeta{Name: steadyName, Namespace: ns},
		Spec: v1alpha1.CloneSetSpec{Replicas: ptr.To(int32(replicas)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": steadyName}},
			Template:       podTemplate(steadyName),
			UpdateStrategy: v1alpha1.CloneSetUpdateStrategy{Type: v1alpha1.InPlaceIfPossibleCloneSetUpdateStrategyType}},
	}
}

// Workload drives and checks the two workloads.
type Workload struct {
	Client    kubernetes.Interface
	CloneSets client.Client
	Namespace string
	Replicas  int

	mu sync.Mutex
	// steadyCreated and steadyDeleted are the CloneSet's pods by UID as
	// the watch saw them come and go.
	steadyCreated, steadyDeleted map[types.UID]bool
	scales, scaleFailures        int
	rollouts, rolloutFailures    int
	lastRolloutErr               string
	image                        int // the index of the image last applied
}

// Create makes both workloads: the Deployment at its smaller size.
func (w *Workload) Create(ctx context.Context) error {
	if _, err := w.Client.AppsV1().Deployments(w.Namespace).Create(ctx, churnDeployment(w.Namespace, w.Replicas/2), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s/%s: %w", w.Namespace, churnName, err)
	}
	if err := w.CloneSets.Create(ctx, steadyCloneSet(w.Namespace, w.Replicas)); err != nil {
		return fmt.Errorf("create CloneSet %s/%s: %w", w.Namespace, steadyName, err)
	}
	return nil
}

// Watch follows the CloneSet's pods until ctx ends; it returns once the
// informer has synced.
func (w *Workload) Watch(ctx context.Context) error {
	w.mu.Lock()
	w.steadyCreated, w.steadyDeleted = map[types.UID]bool{}, map[types.UID]bool{}
	w.mu.Unlock()
	factory := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, informers.WithNamespace(w.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=" + steadyName }))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				w.mu.Lock()
				w.steadyCreated[p.UID] = true
				w.mu.Unlock()
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				w.mu.Lock()
				w.steadyDeleted[p.UID] = true
				w.mu.Unlock()
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("pod watch in %s did not sync", w.Namespace)
	}
	return nil
}

// Scale sets the Deployment's replicas; a refusal (the API down) is
// counted and tried at the next turn.
func (w *Workload) Scale(ctx context.Context, replicas int) {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := w.Client.AppsV1().Deployments(w.Namespace).Patch(ctx, churnName, types.MergePatchType, patch, metav1.PatchOptions{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.scaleFailures++
		return
	}
	w.scales++
}

// Rollout updates the CloneSet's image in place to the other image.
func (w *Workload) Rollout(ctx context.Context) {
	w.mu.Lock()
	next := 1 - w.image
	w.mu.Unlock()
	// A JSON patch of the one image: custom resources take no strategic
	// merge patch, and a merge patch would replace the container list.
	patch := fmt.Appendf(nil, `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, images[next])
	cs := &v1alpha1.CloneSet{ObjectMeta: metav1.ObjectMeta{Name: steadyName, Namespace: w.Namespace}}
	err := w.CloneSets.Patch(ctx, cs, client.RawPatch(types.JSONPatchType, patch))
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.rolloutFailures++
		w.lastRolloutErr = err.Error()
		return
	}
	w.image = next
	w.rollouts++
}

// PodCheck is the workloads' state once the faults ended and the pods had
// time to settle.
type PodCheck struct {
	// Settled says both workloads reached their final state (all pods
	// Running, the CloneSet at its last image) within the time allowed.
	Settled        bool    `json:"settled"`
	SettledSeconds float64 `json:"settledSeconds"`
	// DeploymentPods is how many pods of the Deployment were not
	// terminating at the end, of DeploymentReplicas asked for; Running how
	// many of them ran.
	DeploymentReplicas int `json:"deploymentReplicas"`
	DeploymentPods     int `json:"deploymentPods"`
	DeploymentRunning  int `json:"deploymentRunning"`
	// CloneSetCreated counts the CloneSet's pods ever seen: beyond its
	// replicas, pods were created twice (or a lost one replaced);
	// CloneSetDeleted its pods that went away although nothing asked for
	// it.
	CloneSetReplicas int `json:"cloneSetReplicas"`
	CloneSetCreated  int `json:"cloneSetPodsCreated"`
	CloneSetDeleted  int `json:"cloneSetPodsDeleted"`
	CloneSetUpdated  int `json:"cloneSetUpdatedReady"`
	// Scales and Rollouts are the changes the API took during the run;
	// the failures are those it refused or never answered.
	Scales          int    `json:"scales"`
	ScaleFailures   int    `json:"scaleFailures"`
	Rollouts        int    `json:"rollouts"`
	RolloutFailures int    `json:"rolloutFailures"`
	LastRolloutErr  string `json:"lastRolloutError,omitempty"`
	// Err is the last error reading the state, when it never settled.
	Err string `json:"error,omitempty"`
}

// Doubled is how many pods were created beyond what was asked.
func (c PodCheck) Doubled() int {
	return max(0, c.DeploymentPods-c.DeploymentReplicas) + max(0, c.CloneSetCreated-c.CloneSetReplicas)
}

// Lost is how many pods are missing or went away unasked.
func (c PodCheck) Lost() int {
	return max(0, c.DeploymentReplicas-c.DeploymentPods) + c.CloneSetDeleted
}

// Settle scales the Deployment to its full size and waits until both
// workloads are in their final state or timeout passes, then reports.
func (w *Workload) Settle(ctx context.Context, since time.Time, timeout time.Duration, clk clock.Clock) PodCheck {
	w.Scale(ctx, w.Replicas) // retried below until it took
	deadline := since.Add(timeout)
	var c PodCheck
	for {
		c = w.check(ctx)
		if c.Err == "" && c.DeploymentPods == w.Replicas && c.DeploymentRunning == w.Replicas && c.CloneSetUpdated == w.Replicas {
			c.Settled, c.SettledSeconds = true, clk.Since(since).Seconds()
			return c
		}
		if clk.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		select {
		case <-ctx.Done():
		case <-clk.After(time.Second):
		}
	}
}

func (w *Workload) check(ctx context.Context) PodCheck {
	w.mu.Lock()
	c := PodCheck{DeploymentReplicas: w.Replicas, CloneSetReplicas: w.Replicas, CloneSetCreated: len(w.steadyCreated),
		CloneSetDeleted: len(w.steadyDeleted), Scales: w.scales, ScaleFailures: w.scaleFailures, Rollouts: w.rollouts, RolloutFailures: w.rolloutFailures,
		LastRolloutErr: w.lastRolloutErr}
	w.mu.Unlock()
	d, err := w.Client.AppsV1().Deployments(w.Namespace).Get(ctx, churnName, metav1.GetOptions{})
	if err == nil && ptr.Deref(d.Spec.Replicas, 0) != int32(w.Replicas) {
		w.Scale(ctx, w.Replicas)
	}
	pods, err := w.Client.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + churnName})
	if err != nil {
		c.Err = err.Error()
		return c
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		c.DeploymentPods++
		if p.Status.Phase == corev1.PodRunning {
			c.DeploymentRunning++
		}
	}
	var cs v1alpha1.CloneSet
	if err := w.CloneSets.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: steadyName}, &cs); err != nil {
		c.Err = err.Error()
		return c
	}
	if cs.Status.ObservedGeneration == cs.Generation {
		c.CloneSetUpdated = int(cs.Status.UpdatedReadyReplicas)
	}
	return c
}
