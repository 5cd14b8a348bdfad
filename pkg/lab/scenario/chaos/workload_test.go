package chaos

import (
	"context"
	"testing"

	kfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/manager"
)

func TestRolloutChangesOnlyTheImageAndAlternates(t *testing.T) {
	ctx := context.Background()
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	crds := crfake.NewClientBuilder().WithScheme(scheme).Build()
	w := &Workload{Client: kfake.NewClientset(), CloneSets: crds, Namespace: "ns", Replicas: 4}
	if err := w.Create(ctx); err != nil {
		t.Fatal(err)
	}
	image := func() string {
		var cs v1alpha1.CloneSet
		if err := crds.Get(ctx, client.ObjectKey{Namespace: "ns", Name: steadyName}, &cs); err != nil {
			t.Fatal(err)
		}
		if n := len(cs.Spec.Template.Spec.Containers); n != 1 || cs.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().IsZero() {
			t.Fatalf("the patch changed more than the image: %+v", cs.Spec.Template.Spec.Containers)
		}
		return cs.Spec.Template.Spec.Containers[0].Image
	}
	w.Rollout(ctx)
	if got := image(); got != images[1] {
		t.Fatalf("image after one rollout = %s, want %s (last error %q)", got, images[1], w.lastRolloutErr)
	}
	w.Rollout(ctx)
	if got := image(); got != images[0] {
		t.Fatalf("image after two rollouts = %s, want %s", got, images[0])
	}
	if c := w.check(ctx); c.Rollouts != 2 || c.RolloutFailures != 0 {
		t.Fatalf("rollouts %d, failures %d; want 2 and 0", c.Rollouts, c.RolloutFailures)
	}
}
