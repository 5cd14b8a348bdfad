package kubeplugins

import (
	"errors"
	"sync"

	v1 "k8s.io/api/core/v1"
	schedulingv1alpha3 "k8s.io/api/scheduling/v1alpha3"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/myriad-dev/myriad/pkg/scheduler/core"
)

// errNoList: the plugins run here never list every node (kube's framework
// hands PreFilter the list, and these plugins ignore it), and building kube's
// NodeInfo for 10^4 nodes per attempt is exactly the cost Myriad avoids.
var errNoList = errors.New("kubeplugins: nodes are evaluated one at a time, not listed")

// claimIndex names the pod informer index of bound pods by the claims they
// mount ("namespace/name").
const claimIndex = "myriad-kubeplugins-pvc"

// boundClaims indexes the pods a node runs by claim, for VolumeRestrictions'
// ReadWriteOncePod check. Terminal pods hold no claim.
func boundClaims(obj any) ([]string, error) {
	pod, ok := obj.(*v1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		return nil, nil
	}
	return claimKeys(pod), nil
}

func claimKeys(pod *v1.Pod) []string {
	var keys []string
	for i := range pod.Spec.Volumes {
		if c := pod.Spec.Volumes[i].PersistentVolumeClaim; c != nil {
			keys = append(keys, pod.Namespace+"/"+c.ClaimName)
		}
	}
	return keys
}

// lister is the framework's SharedLister. It holds no NodeInfos: the
// framework hands each Filter and Score the node's, built from the core's
// (Plugins.nodeInfo). The claims in use come from the pod informer plus the
// pods this scheduler has reserved and not yet seen bound.
type lister struct {
	pods cache.Indexer

	mu       sync.Mutex
	reserved map[types.UID][]string // pod -> claim keys, until the informer shows it bound
}

func newLister(pods cache.Indexer) *lister {
	return &lister{pods: pods, reserved: map[types.UID][]string{}}
}

func (l *lister) NodeInfos() fwk.NodeInfoLister           { return l }
func (l *lister) StorageInfos() fwk.StorageInfoLister     { return l }
func (l *lister) PodGroupStates() fwk.PodGroupStateLister { return noPodGroupStates{} }
func (l *lister) PodGroups() fwk.PodGroupLister           { return noPodGroups{} }
func (l *lister) CompositePodGroupStates() fwk.CompositePodGroupStateLister {
	return noCompositeStates{}
}
func (l *lister) CompositePodGroups() fwk.CompositePodGroupLister { return noComposites{} }

func (l *lister) List() ([]fwk.NodeInfo, error) { return nil, nil }
func (l *lister) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	return nil, errNoList
}
func (l *lister) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return nil, errNoList
}
func (l *lister) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return nil, errNoList
}

// Get: none of these plugins looks a node up (the framework hands each
// its NodeInfo); one that starts to will fail loudly here.
func (l *lister) Get(name string) (fwk.NodeInfo, error) {
	return nil, errors.New("kubeplugins: node " + name + " is not in a snapshot: nodes are evaluated one at a time")
}

// IsPVCUsedByPods is kube's snapshot's answer: a bound or assumed pod mounts
// the claim.
func (l *lister) IsPVCUsedByPods(key string) bool {
	l.mu.Lock()
	for _, keys := range l.reserved {
		for _, k := range keys {
			if k == key {
				l.mu.Unlock()
				return true
			}
		}
	}
	l.mu.Unlock()
	pods, err := l.pods.ByIndex(claimIndex, key)
	return err == nil && len(pods) > 0
}

func (l *lister) reserve(pod *v1.Pod) {
	if keys := claimKeys(pod); len(keys) > 0 {
		l.mu.Lock()
		l.reserved[pod.UID] = keys
		l.mu.Unlock()
	}
}

func (l *lister) release(uid types.UID) {
	l.mu.Lock()
	delete(l.reserved, uid)
	l.mu.Unlock()
}

// kubeNodeInfo is kube's NodeInfo of a core node: the node and every pod on it,
// assumed ones included, as kube's own snapshot would hold them.
func kubeNodeInfo(n *core.NodeInfo) *framework.NodeInfo {
	pods := make([]*v1.Pod, len(n.Pods))
	for i, p := range n.Pods {
		pods[i] = p.Pod
	}
	ni := framework.NewNodeInfo(pods...)
	ni.SetNode(n.Node)
	return ni
}

// Myriad schedules pods one at a time: gang scheduling's pod groups (alpha
// in v1.37) are not served, so the plugins find none.
type (
	noPodGroups       struct{}
	noPodGroupStates  struct{}
	noComposites      struct{}
	noCompositeStates struct{}
)

var errNoPodGroups = errors.New("kubeplugins: pod groups are not supported")

func (noPodGroups) Get(string, string) (*schedulingv1beta1.PodGroup, error) {
	return nil, errNoPodGroups
}
func (noPodGroupStates) Get(string, string) (fwk.PodGroupState, error) { return nil, errNoPodGroups }
func (noComposites) Get(string, string) (*schedulingv1alpha3.CompositePodGroup, error) {
	return nil, errNoPodGroups
}
func (noCompositeStates) Get(string, string) (fwk.CompositePodGroupState, error) {
	return nil, errNoPodGroups
}
