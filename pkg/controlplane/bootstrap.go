package controlplane

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// nodeSimRules is what the node simulator needs and no more: it acts for
// thousands of kubelets, so it manages Nodes, their Leases and the status of
// pods bound to them, and the capacity of claims those pods mount. It
// cannot create pods or read Secrets.
var nodeSimRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"nodes/status"}, Verbs: []string{"patch", "update"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/status"}, Verbs: []string{"patch", "update"}},
	{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get", "list", "watch"}},
	// The kubelet's part of growing a volume: the claim's new capacity.
	{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims/status"}, Verbs: []string{"patch"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
}

// nodeLeaseRules apply only in kube-node-lease: the simulator renews node
// heartbeats and must not touch leader-election Leases elsewhere.
var nodeLeaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
}

// Bootstrap creates the cluster objects Myriad's own components need. It is
// idempotent: every start runs it and existing objects are updated.
func Bootstrap(ctx context.Context, cs kubernetes.Interface) error {
	if err := grant(ctx, cs, NodeSimUser, append(nodeSimRules, delegatorRules...), corev1.NamespaceNodeLease, nodeLeaseRules); err != nil {
		return err
	}
	if err := applyNodeSimPolicy(ctx, cs); err != nil {
		return err
	}
	// The level first: a FlowSchema naming a level that does not exist
	// sends its requests to catch-all until the level appears.
	plcs := cs.FlowcontrolV1().PriorityLevelConfigurations()
	if err := apply(ctx, nodeSimHeartbeatLevel(), plcs.Create, plcs.Update, plcs.Get); err != nil {
		return fmt.Errorf("PriorityLevelConfiguration %s: %w", NodeSimHeartbeatLevel, err)
	}
	for _, fs := range append(nodeSimFlowSchemas(), leaderElectionFlowSchema()) {
		if err := apply(ctx, fs, cs.FlowcontrolV1().FlowSchemas().Create, cs.FlowcontrolV1().FlowSchemas().Update, cs.FlowcontrolV1().FlowSchemas().Get); err != nil {
			return fmt.Errorf("FlowSchema %s: %w", fs.Name, err)
		}
	}
	if err := bootstrapMetricsServer(ctx, cs); err != nil {
		return err
	}
	if err := bootstrapStorage(ctx, cs); err != nil {
		return err
	}
	if err := bootstrapTenancy(ctx, cs); err != nil {
		return err
	}
	return bootstrapManager(ctx, cs)
}

// grant gives user clusterRules everywhere and nsRules in namespace ns,
// through a ClusterRole and a Role both named after the user; an empty ns
// makes no Role.
// Grant gives user clusterRules through a ClusterRole and binding of its
// name, replacing the rules of an earlier grant.
func Grant(ctx context.Context, cs kubernetes.Interface, user string, clusterRules []rbacv1.PolicyRule) error {
	return grant(ctx, cs, user, clusterRules, "", nil)
}

func grant(ctx context.Context, cs kubernetes.Interface, user string, clusterRules []rbacv1.PolicyRule, ns string, nsRules []rbacv1.PolicyRule) error {
	subjects := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user, Labels: managedLabels}, Rules: clusterRules}
	if err := apply(ctx, role, cs.RbacV1().ClusterRoles().Create, cs.RbacV1().ClusterRoles().Update, cs.RbacV1().ClusterRoles().Get); err != nil {
		return fmt.Errorf("ClusterRole %s: %w", user, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user, Labels: managedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects:   subjects,
	}
	if err := apply(ctx, binding, cs.RbacV1().ClusterRoleBindings().Create, cs.RbacV1().ClusterRoleBindings().Update, cs.RbacV1().ClusterRoleBindings().Get); err != nil {
		return fmt.Errorf("ClusterRoleBinding %s: %w", user, err)
	}
	if ns == "" {
		return nil
	}
	nsRole := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns, Labels: managedLabels}, Rules: nsRules}
	roles := cs.RbacV1().Roles(ns)
	if err := apply(ctx, nsRole, roles.Create, roles.Update, roles.Get); err != nil {
		return fmt.Errorf("Role %s/%s: %w", ns, user, err)
	}
	nsBinding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns, Labels: managedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   subjects,
	}
	bindings := cs.RbacV1().RoleBindings(ns)
	if err := apply(ctx, nsBinding, bindings.Create, bindings.Update, bindings.Get); err != nil {
		return fmt.Errorf("RoleBinding %s/%s: %w", ns, user, err)
	}
	return nil
}

var managedLabels = map[string]string{"app.kubernetes.io/managed-by": "myriad"}

// NodeSimHeartbeatLevel is the API Priority and Fairness priority level of
// the simulator's heartbeats: node-high's share of the API server, with
// queues deep enough for one flow that carries every node.
//
// 10,000 kubelets are 10,000 flows (node-high distinguishes by user), and
// APF bounds each flow's queued requests by handSize × queueLengthLimit
// (6 × 50 in node-high) so that one flow cannot crowd out the rest. The
// simulator is one user, so all its heartbeats are one flow: in node-high
// that bound is 300 queued requests against up to Count/20 heartbeats in
// flight (500 at 10,000 nodes), and once the API server's seats are fewer
// than the heartbeats the rest are refused with 429 and nodes go falsely
// NotReady (measured at 150 seats: 1,741 of 10,000; see inflight.go). This
// level keeps node-high's share and lending, and lets the one flow queue
// 6 × 256 = 1,536 requests: every heartbeat of ~30,000 nodes. Fairness
// between the simulated nodes is lost, which costs nothing: one process
// sends them all, at a pace of its own. Real kubelets keep node-high.
const NodeSimHeartbeatLevel = "myriad-node-high"

func nodeSimHeartbeatLevel() *flowcontrolv1.PriorityLevelConfiguration {
	shares, lendable := int32(40), int32(25) // node-high's, as v1.37 ships it
	return &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: NodeSimHeartbeatLevel, Labels: managedLabels},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
				NominalConcurrencyShares: &shares,
				LendablePercent:          &lendable,
				LimitResponse: flowcontrolv1.LimitResponse{
					Type:    flowcontrolv1.LimitResponseTypeQueue,
					Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 64, HandSize: 6, QueueLengthLimit: 256},
				},
			},
		},
	}
}

// nodeSimFlowSchemas give the simulator the API priority that kubelets get
// from the built-in system-node-high and system-nodes schemas: heartbeats
// at node-high's share (in NodeSimHeartbeatLevel), the rest at system.
// Without them its requests fall into global-default and 10k nodes'
// heartbeats are throttled behind ordinary clients, which real kubelets
// never are.
func nodeSimFlowSchemas() []*flowcontrolv1.FlowSchema {
	subject := []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: NodeSimUser}}}
	all := []string{flowcontrolv1.NamespaceEvery}
	schema := func(name, level string, precedence int32, rules []flowcontrolv1.ResourcePolicyRule) *flowcontrolv1.FlowSchema {
		return &flowcontrolv1.FlowSchema{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: managedLabels},
			Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: level},
				MatchingPrecedence:         precedence,
				DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
				Rules:                      []flowcontrolv1.PolicyRulesWithSubjects{{Subjects: subject, ResourceRules: rules}},
			},
		}
	}
	return []*flowcontrolv1.FlowSchema{
		schema("myriad-nodesim-heartbeat", NodeSimHeartbeatLevel, 410, []flowcontrolv1.ResourcePolicyRule{
			{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status"}, ClusterScope: true, Namespaces: all},
			{Verbs: []string{"*"}, APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Namespaces: all},
		}),
		schema("myriad-nodesim", "system", 510, []flowcontrolv1.ResourcePolicyRule{
			{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}, ClusterScope: true, Namespaces: all},
		}),
	}
}

// leaderElectionFlowSchema puts the Lease renewals of Myriad's own
// leader-elected components where kube-controller-manager's and
// kube-scheduler's go: the built-in system-leader-election schema matches
// only those and kube-system's service accounts. In global-default a
// renewal waited behind a scheduler's start-up lists at 10,000 nodes until
// it timed out and myriad-manager gave up its leadership.
func leaderElectionFlowSchema() *flowcontrolv1.FlowSchema {
	var subjects []flowcontrolv1.Subject
	for _, u := range []string{ManagerUser, StorageUser, SyncerUser} {
		subjects = append(subjects, flowcontrolv1.Subject{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: u}})
	}
	return &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "myriad-leader-election", Labels: managedLabels},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "leader-election"},
			MatchingPrecedence:         150,
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{Subjects: subjects, ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
				Verbs: []string{"get", "create", "update"}, APIGroups: []string{"coordination.k8s.io"},
				Resources: []string{"leases"}, Namespaces: []string{flowcontrolv1.NamespaceEvery},
			}}}},
		},
	}
}

type object interface {
	metav1.Object
}

// apply creates obj or, if it exists, overwrites its spec keeping the
// server's resourceVersion. Generic over the typed clients' method values.
func apply[T object](ctx context.Context, obj T,
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
	get func(context.Context, string, metav1.GetOptions) (T, error),
) error {
	_, err := create(ctx, obj, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	cur, err := get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	obj.SetResourceVersion(cur.GetResourceVersion())
	_, err = update(ctx, obj, metav1.UpdateOptions{})
	return err
}
