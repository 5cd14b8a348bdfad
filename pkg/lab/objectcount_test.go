package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

// preferredDiscovery answers ServerPreferredResources, which the fake
// discovery client leaves empty.
type preferredDiscovery struct {
	*fakediscovery.FakeDiscovery
	lists []*metav1.APIResourceList
}

func (d preferredDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.lists, nil
}

func partial(apiVersion, kind, ns, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestCountObjects(t *testing.T) {
	list := metav1.Verbs{"get", "list", "watch"}
	disco := preferredDiscovery{FakeDiscovery: &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}, lists: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: list},
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: list},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch"}},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: list},
			{Name: "componentstatuses", Kind: "ComponentStatus", Verbs: list},
			{Name: "secrets", Namespaced: true, Kind: "Secret", Verbs: list},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "events", Namespaced: true, Kind: "Event", Verbs: list}}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: list}}},
	}}
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for i := range 7 {
		objs = append(objs, partial("v1", "ConfigMap", fmt.Sprintf("ns%d", i%2), fmt.Sprintf("cm%d", i)))
	}
	for i := range 3 {
		objs = append(objs, partial("v1", "Pod", "ns0", fmt.Sprintf("p%d", i)))
		objs = append(objs, partial("v1", "Event", "ns0", fmt.Sprintf("e%d", i)))
	}
	objs = append(objs, partial("apps/v1", "Deployment", "ns0", "d"))
	md := metadatafake.NewSimpleMetadataClient(scheme, objs...)
	md.PrependReactor("list", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", fmt.Errorf("no"))
	})
	calls := &ClientTimings{}
	c, err := CountObjects(context.Background(), disco, md, calls)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"configmaps": 7, "pods": 3, "events": 3, "deployments.apps": 1}
	if c.Total != 14 || len(c.ByResource) != len(want) {
		t.Errorf("count = %d %v, want 14 %v (events once, no subresources, no componentstatuses)", c.Total, c.ByResource, want)
	}
	for k, v := range want {
		if c.ByResource[k] != v {
			t.Errorf("%s = %d, want %d", k, c.ByResource[k], v)
		}
	}
	if len(c.Uncounted) != 1 || !strings.HasPrefix(c.Uncounted[0], "secrets:") {
		t.Errorf("uncounted = %v, want secrets (forbidden)", c.Uncounted)
	}
	if rows := calls.Rows(); len(rows) != 1 || rows[0].Count != 4 || rows[0].Errors != 1 {
		t.Errorf("timed LISTs = %+v, want 4 answered and 1 failed", rows)
	}
}
