package controlplane

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// SimulatedNodePrefix is the name prefix of the nodes `myriad up`'s
// simulator registers (pkg/nodesim's default), and SimulatedNodeLabel the
// label every simulated Node carries.
const (
	SimulatedNodePrefix = "myriad-node-"
	SimulatedNodeLabel  = "nodes.myriad.dev/simulated"
)

// nodeSimPolicyName names the ValidatingAdmissionPolicy and its binding.
const nodeSimPolicyName = "myriad-nodesim-scope"

// nodeSimPolicy narrows what RBAC grants the simulator, as the
// NodeRestriction admission plugin narrows a kubelet's: RBAC can only say
// "any Node, any pod status", while the simulator acts for its own nodes
// alone. Its Node writes must keep the simulated label (so it can never
// take over a real node, nor relabel one to make it simulated), and its
// pod writes (status, deletion) only reach pods bound to a simulated node,
// recognised by the simulator's name prefix because a pod does not carry
// its node's labels. The policy is evaluated in the API server (CEL), so
// it costs no extra round trip; Lease renewals, the simulator's highest
// rate by far, are already confined to kube-node-lease by its Role and are
// not matched.
//
// A simulator started by hand with another --name-prefix against this
// cluster gets a 403 naming this policy for its pods; add its prefix to
// the expression or run it under its own identity.
func nodeSimPolicy() (*admissionv1.ValidatingAdmissionPolicy, *admissionv1.ValidatingAdmissionPolicyBinding) {
	fail := admissionv1.Fail
	label := fmt.Sprintf("%q", SimulatedNodeLabel)
	simulated := func(obj string) string {
		return fmt.Sprintf("(has(%[1]s.metadata.labels) && %[2]s in %[1]s.metadata.labels && %[1]s.metadata.labels[%[2]s] == 'true')", obj, label)
	}
	boundToSimulated := func(obj string) string {
		return fmt.Sprintf("(has(%[1]s.spec.nodeName) && %[1]s.spec.nodeName.startsWith(%[2]q))", obj, SimulatedNodePrefix)
	}
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: nodeSimPolicyName, Labels: managedLabels},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
				{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"nodes", "nodes/status"}},
				}},
				{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update, admissionv1.Delete},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods", "pods/status"}},
				}},
			}},
			MatchConditions: []admissionv1.MatchCondition{{
				Name:       "is-the-simulator",
				Expression: fmt.Sprintf("request.userInfo.username == %q", NodeSimUser),
			}},
			Validations: []admissionv1.Validation{
				{
					Expression: fmt.Sprintf("request.resource.resource != 'nodes' || (%s && (request.operation == 'CREATE' || %s))",
						simulated("object"), simulated("oldObject")),
					Message: "the node simulator may only write simulated Nodes (label " + SimulatedNodeLabel + "=true, before and after)",
				},
				{
					Expression: fmt.Sprintf("request.resource.resource != 'pods' || (request.operation == 'DELETE' ? %s : %s)",
						boundToSimulated("oldObject"), boundToSimulated("object")),
					Message: "the node simulator may only write pods bound to simulated nodes (" + SimulatedNodePrefix + "*)",
				},
			},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: nodeSimPolicyName, Labels: managedLabels},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        nodeSimPolicyName,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	return policy, binding
}

func applyNodeSimPolicy(ctx context.Context, cs kubernetes.Interface) error {
	policy, binding := nodeSimPolicy()
	policies := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	if err := apply(ctx, policy, policies.Create, policies.Update, policies.Get); err != nil {
		return fmt.Errorf("ValidatingAdmissionPolicy %s: %w", policy.Name, err)
	}
	bindings := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	if err := apply(ctx, binding, bindings.Create, bindings.Update, bindings.Get); err != nil {
		return fmt.Errorf("ValidatingAdmissionPolicyBinding %s: %w", binding.Name, err)
	}
	return nil
}
