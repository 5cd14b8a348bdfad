package lab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
)

// ObjectCountMethod says how CountObjects counts, for the report.
const ObjectCountMethod = "one LIST per listable resource type (preferred version from discovery, metadata only, limit=1): " +
	"1 + remainingItemCount, or the items returned when there is no next page; " +
	"subresources, componentstatuses (not stored) and events.k8s.io (the same objects as core events) are skipped"

// ObjectCount is what the cluster held at one time.
type ObjectCount struct {
	At    time.Time `json:"t"`
	Phase string    `json:"phase"`
	Total int64     `json:"total"`
	// ByResource is resource[.group] → count, non-zero counts only.
	ByResource map[string]int64 `json:"byResource"`
	// Uncounted are resource types the LIST failed for, with why; Total
	// is then a lower bound.
	Uncounted []string `json:"uncounted,omitempty"`
}

// skippedResources are listable but are not stored objects of their own.
var skippedResources = map[string]bool{
	"componentstatuses":    true, // answered by probing components, not stored
	"events.events.k8s.io": true, // the same storage as core events
}

// CountObjects counts every object in the cluster through the API (see
// ObjectCountMethod), timing each LIST in calls (which may be nil). One
// resource failing makes it uncounted, not the count an error; only
// discovery failing is.
func CountObjects(ctx context.Context, disco discovery.DiscoveryInterface, md metadata.Interface, calls *ClientTimings) (ObjectCount, error) {
	lists, err := disco.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return ObjectCount{}, fmt.Errorf("discover resource types: %w", err)
	}
	c := ObjectCount{ByResource: map[string]int64{}}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			name := r.Name
			if gv.Group != "" {
				name += "." + gv.Group
			}
			if strings.Contains(r.Name, "/") || skippedResources[name] || !hasVerb(r.Verbs, "list") {
				continue
			}
			var n int64
			list := func() (err error) {
				n, err = countResource(ctx, md, gv.WithResource(r.Name))
				return err
			}
			if calls != nil {
				err = calls.Time("LIST for the object count (limit 1)", list)
			} else {
				err = list()
			}
			if err != nil {
				c.Uncounted = append(c.Uncounted, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			if n > 0 {
				c.ByResource[name] = n
				c.Total += n
			}
		}
	}
	sort.Strings(c.Uncounted)
	return c, nil
}

// countResource asks for one item: the API server says how many remain.
// If it does not (some storage cannot), the pages are walked, metadata
// only.
func countResource(ctx context.Context, md metadata.Interface, gvr schema.GroupVersionResource) (int64, error) {
	opts := metav1.ListOptions{Limit: 1}
	var n int64
	for {
		l, err := md.Resource(gvr).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		n += int64(len(l.Items))
		if l.Continue == "" {
			return n, nil
		}
		if l.RemainingItemCount != nil {
			return n + *l.RemainingItemCount, nil
		}
		opts = metav1.ListOptions{Limit: 5000, Continue: l.Continue}
	}
}

func hasVerb(verbs metav1.Verbs, verb string) bool {
	for _, v := range verbs {
		if v == verb {
			return true
		}
	}
	return false
}
