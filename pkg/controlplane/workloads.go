package controlplane

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/config"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	"github.com/myriad-dev/myriad/pkg/supervisor"
	"github.com/myriad-dev/myriad/pkg/webhook"
)

// ManagerUser is the identity of `myriad manager`, the workload controllers.
const ManagerUser = "myriad:manager"

// fieldManager owns what `myriad up` server-side applies.
const fieldManager = "myriad-up"

// managerRules are what the workload controllers need: their CRs and their
// status, the pods, PVCs, ControllerRevisions and Jobs they own, events. It reads
// no Secrets and cannot touch other workloads.
var managerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"clonesets"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"clonesets/status", "clonesets/finalizers"}, Verbs: []string{"get", "update", "patch"}},
	// Advanced DaemonSet: its CRs, and nodes (read only) to place one pod
	// on each; BroadcastJob reads them too.
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"daemonsets"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"daemonsets/status", "daemonsets/finalizers"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"statefulsets"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"statefulsets/status", "statefulsets/finalizers"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/status", "pods/resize"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
	// Storage classes (read only): whether a class lets a StatefulSet's
	// claims grow with their templates.
	{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"controllerrevisions"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
	// BroadcastJob and AdvancedCronJob: their CRs, the BroadcastJobs and
	// Jobs an AdvancedCronJob creates and deletes, and the nodes a
	// BroadcastJob runs on (read only).
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"broadcastjobs"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"advancedcronjobs"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"broadcastjobs/status", "broadcastjobs/finalizers", "advancedcronjobs/status", "advancedcronjobs/finalizers"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
	// SidecarSet: its CR and status, the namespaces its namespaceSelector
	// reads, and the MutatingAdmissionPolicies and bindings it compiles
	// into. Writing those lets the manager mutate any pod a policy it
	// writes selects; the manager only writes ones named sidecarset-<name>,
	// owned by their SidecarSet and bound by its selectors (RBAC cannot
	// limit create by name). Admitting a SidecarSet writes its policy
	// before the SidecarSet exists and checks it with dry-run pod creates
	// (pods create, above).
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"sidecarsets"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps.kruise.io"}, Resources: []string{"sidecarsets/status"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
}

// delegatorRules let a component's /metrics ask the API server who a
// caller is and whether it may read them (system:auth-delegator's two
// rules), as every component with an endpoint of its own does.
var delegatorRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
}

// managerLeaseRules apply only in kube-system, where its leader Lease is,
// and reach only that Lease (pkg/manager's LeaderElectionID): the
// leader Leases of kube-controller-manager and the schedulers live in the
// same namespace, and a manager that could renew them could stall their
// failover. Create cannot be limited by name in RBAC; a Lease it creates
// under another name is no one's.
var managerLeaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update", "patch"}, ResourceNames: []string{"myriad-manager"}},
}

// managerFlowSchema puts the manager at workload-high, the level the
// built-in schemas give kube-controller-manager: its pod writes are
// controller work, not a tenant's requests.
func managerFlowSchema() *flowcontrolv1.FlowSchema {
	return &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "myriad-manager", Labels: managedLabels},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-high"},
			MatchingPrecedence:         800,
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByNamespaceType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: ManagerUser}}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"},
					ClusterScope: true, Namespaces: []string{flowcontrolv1.NamespaceEvery}}},
			}},
		},
	}
}

// managerLeaderElectionFlowSchema sends the manager's Lease renewals to the
// leader-election priority level, as the built-in schemas do for
// kube-controller-manager and kube-scheduler. In workload-high they queued
// behind the manager's own flood of pod writes during a 10,000-pod rollout
// and missed the renew deadline, and the manager restarted.
func managerLeaderElectionFlowSchema() *flowcontrolv1.FlowSchema {
	return &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "myriad-manager-leader-election", Labels: managedLabels},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "leader-election"},
			MatchingPrecedence:         150,
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: ManagerUser}}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"get", "create", "update"},
					APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Namespaces: []string{metav1.NamespaceSystem}}},
			}},
		},
	}
}

// bootstrapManager grants the manager its RBAC and API priority.
func bootstrapManager(ctx context.Context, cs kubernetes.Interface) error {
	if err := grant(ctx, cs, ManagerUser, append(managerRules, delegatorRules...), metav1.NamespaceSystem, managerLeaseRules); err != nil {
		return err
	}
	for _, fs := range []*flowcontrolv1.FlowSchema{managerLeaderElectionFlowSchema(), managerFlowSchema()} {
		if err := apply(ctx, fs, cs.FlowcontrolV1().FlowSchemas().Create, cs.FlowcontrolV1().FlowSchemas().Update, cs.FlowcontrolV1().FlowSchemas().Get); err != nil {
			return fmt.Errorf("FlowSchema %s: %w", fs.Name, err)
		}
	}
	return nil
}

// ensureNamespace creates the namespace unless it exists.
func ensureNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// InstallCRDs server-side applies the embedded CRDs and waits until the
// API server serves them. Server-side, because the CloneSet CRD (the full
// pod template schema) is larger than the last-applied annotation a
// client-side apply would write allows.
func InstallCRDs(ctx context.Context, dir DataDir, timeout time.Duration) error {
	cfg, err := kubeclient.Config(dir.SuperAdminKubeconfig(), kubeclient.Options{UserAgent: "myriad-up"})
	if err != nil {
		return err
	}
	ext, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	files, err := fs.Glob(config.CRDs, "crd/*.yaml")
	if err != nil {
		return err
	}
	force := true
	for _, f := range files {
		raw, err := fs.ReadFile(config.CRDs, f)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		body, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
			return fmt.Errorf("apply CRD %s: %w", crd.Name, err)
		}
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", crd.Name, err)
		}
	}
	return nil
}

// managerProcess runs `myriad manager` with its own identity; metrics,
// probes and the webhook listen on loopback ports chosen for this run. extra
// are the user's flags (--manager-feature-gates).
func managerProcess(plan Plan, extra []string) supervisor.Process {
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	p := supervisor.Process{Name: "myriad-manager", Ready: httpProbe("http://" + addr(plan.ManagerProbePort) + "/readyz"),
		Args: []string{"manager", "--kubeconfig", plan.Dir.Kubeconfig("manager"),
			"--metrics-bind-address", addr(plan.ManagerMetricsPort),
			"--health-probe-bind-address", addr(plan.ManagerProbePort),
			"--webhook-bind-address", addr(plan.WebhookPort),
			"--tls-cert-file", plan.Certs.WebhookCert, "--tls-private-key-file", plan.Certs.WebhookKey,
			"--webhook-client-ca", plan.Certs.CA, "--webhook-allowed-clients", WebhookClientUser,
			"--client-ca-file", plan.Certs.CA, handoverRetryPeriod}}
	p.Args = append(p.Args, extra...)
	return p
}

// WebhookConfigurationName names the Validating- and the
// MutatingWebhookConfiguration `myriad up` owns.
const WebhookConfigurationName = "myriad-workloads"

// applyWebhookConfiguration points the API server at this run's webhook
// port for the workloads' defaulting and validation (pkg/webhook lists
// them), trusting the cluster CA that signed its certificate.
func applyWebhookConfiguration(ctx context.Context, cs kubernetes.Interface, plan Plan) error {
	ca, err := os.ReadFile(plan.Certs.CA)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", plan.WebhookPort)
	mutateURL, validateURL := base+webhook.DefaultCloneSetPath, base+webhook.ValidateCloneSetPath
	mcfg := webhook.MutatingWebhookConfiguration(WebhookConfigurationName, admissionregistrationv1.WebhookClientConfig{URL: &mutateURL, CABundle: ca})
	mcfg.Labels = managedLabels
	mapi := cs.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if err := apply(ctx, mcfg, mapi.Create, mapi.Update, mapi.Get); err != nil {
		return fmt.Errorf("MutatingWebhookConfiguration %s: %w", mcfg.Name, err)
	}
	vcfg := webhook.ValidatingWebhookConfiguration(WebhookConfigurationName, admissionregistrationv1.WebhookClientConfig{URL: &validateURL, CABundle: ca})
	vcfg.Labels = managedLabels
	vapi := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if err := apply(ctx, vcfg, vapi.Create, vapi.Update, vapi.Get); err != nil {
		return fmt.Errorf("ValidatingWebhookConfiguration %s: %w", vcfg.Name, err)
	}
	return nil
}
