package chaos

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// Kinds are the components a fault may hit, as --targets names them. The
// simulator is "nodes". Storage, the syncer and metrics-server are left
// alone: none is on the path the run measures.
var Kinds = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "myriad-scheduler", "myriad-manager", "nodes"}

// elected are the kinds that lead through a Lease in kube-system of their
// own name.
var elected = []string{"kube-controller-manager", "kube-scheduler", "myriad-scheduler", "myriad-manager"}

var instanceSuffix = regexp.MustCompile(`-[0-9]+$`)

// KindOf is the kind of the supervisor's process name (etcd-2 is etcd,
// kube-apiserver is kube-apiserver), "" for a process no fault may hit.
func KindOf(process string) string {
	k := instanceSuffix.ReplaceAllString(process, "")
	if slices.Contains(Kinds, k) {
		return k
	}
	return ""
}

// etcdProcess is the process of the etcd member named member: "myriad" is
// member 0, "myriad-N" member N; a single member's process is "etcd".
func etcdProcess(member string, members int) string {
	if members <= 1 {
		return "etcd"
	}
	i := 0
	if n, ok := strings.CutPrefix(member, "myriad-"); ok {
		i, _ = strconv.Atoi(n)
	}
	return "etcd-" + strconv.Itoa(i)
}

// targets are the running processes of the kinds allowed, each marked
// when it leads: etcd's raft leader from the members' status, a
// controller instance when the identity its Lease handover learnt is the
// Lease's holder. What cannot be read leaves Leader false: a fault then
// still hits, only the report cannot say it hit a leader.
func (x *Run) targets(ctx context.Context) []Target {
	c := x.r.Cluster
	var out []Target
	for name := range c.Supervisor.Pids() {
		if k := KindOf(name); k != "" && slices.Contains(x.o.Kinds, k) {
			out = append(out, Target{Process: name, Kind: k})
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.Process, b.Process) })
	leaders := map[string]bool{}
	if x.etcd != nil && c.Plan.EtcdMembers > 1 {
		if members, err := controlplane.ReadEtcdMembers(ctx, x.etcd); err == nil {
			for _, m := range members {
				if m.Leader {
					leaders[etcdProcess(m.Name, c.Plan.EtcdMembers)] = true
				}
			}
		}
	}
	for _, kind := range elected {
		holder := x.holder(ctx, kind)
		if holder == "" {
			continue
		}
		for name, h := range c.Handovers {
			if KindOf(name) == kind && h.Identity() == holder {
				leaders[name] = true
			}
		}
	}
	for i := range out {
		out[i].Leader = leaders[out[i].Process]
	}
	return out
}

// holder is the identity holding the Lease of an elected kind, "" when
// none does or it cannot be read.
func (x *Run) holder(ctx context.Context, kind string) string {
	l, err := x.r.Client.CoordinationV1().Leases("kube-system").Get(ctx, kind, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}
