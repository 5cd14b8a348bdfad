// Package manager runs Myriad's workload controllers (`myriad manager`): one
// controller-runtime manager with leader election and a hot standby, the
// CloneSet, Advanced StatefulSet, Advanced DaemonSet, SidecarSet,
// BroadcastJob and AdvancedCronJob controllers, their admission
// webhook, Prometheus metrics and health endpoints.
package manager

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/featuregate"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
	"github.com/myriad-dev/myriad/pkg/controllers/advancedcronjob"
	"github.com/myriad-dev/myriad/pkg/controllers/broadcastjob"
	"github.com/myriad-dev/myriad/pkg/controllers/cloneset"
	"github.com/myriad-dev/myriad/pkg/controllers/daemonset"
	"github.com/myriad-dev/myriad/pkg/controllers/sidecarset"
	"github.com/myriad-dev/myriad/pkg/controllers/statefulset"
	"github.com/myriad-dev/myriad/pkg/inplace"
	"github.com/myriad-dev/myriad/pkg/kubeclient"
	cswebhook "github.com/myriad-dev/myriad/pkg/webhook"
)

// LeaderElectionID is the Lease the manager instances compete for.
const LeaderElectionID = "myriad-manager"

// DefaultLeaderElection is upstream's timing (15s lease, 10s renew
// deadline, 2s retry). A standby takes over at most the lease duration after
// a leader dies without releasing the Lease (kill -9, node loss); a leader
// that stops cleanly releases it and the standby takes over within the retry
// period. Shorter leases fail over faster but depose a leader whose renewals
// are merely slow, which on a saturated API server restarts the controllers
// for nothing.
func DefaultLeaderElection() LeaderElection {
	return LeaderElection{Enabled: true, Namespace: "kube-system",
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
}

// LeaderElection configures the Lease the instances compete for.
type LeaderElection struct {
	Enabled                                   bool
	Namespace                                 string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Options configure a manager.
type Options struct {
	// Config reaches the API server; its QPS and Burst are used as given.
	Config         *rest.Config
	LeaderElection LeaderElection
	// MetricsAddr and ProbeAddr are host:port listeners; "0" disables.
	MetricsAddr, ProbeAddr string
	// MetricsSecure serves /metrics over HTTPS to callers the API server
	// authenticates and authorizes (metricsauth.go); ClientCA is the CA
	// whose client certificates authenticate there (tokens always do).
	MetricsSecure bool
	ClientCA      string
	// WebhookAddr is the admission webhook's host:port ("" disables it),
	// serving the certificate CertFile with key KeyFile (one directory).
	WebhookAddr, CertFile, KeyFile string
	// WebhookClientCA, when set, makes the webhook require a client
	// certificate signed by it, with a common name in
	// WebhookAllowedClients when that is not empty.
	WebhookClientCA       string
	WebhookAllowedClients []string
	// Features are the feature gates (NewFeatureGate); defaults when nil.
	Features featuregate.FeatureGate
	// Workers is how many CloneSets are reconciled at once.
	Workers int
	// TemplateDefaults are the pod and claim defaults the CloneSet
	// defaulting webhook applies to templates; unset parts are skipped.
	TemplateDefaults cswebhook.TemplateDefaults
	// StatefulSetStuckAfter is how long a terminating pod may overstay its
	// deletion deadline before an Advanced StatefulSet passes it over
	// (statefulset.DefaultStuckAfter when zero).
	StatefulSetStuckAfter time.Duration
	// SidecarSetRevisionNamespace holds SidecarSets' ControllerRevisions
	// (kube-system when empty).
	SidecarSetRevisionNamespace string
}

// Scheme holds the built-in types and apps.kruise.io's v1alpha1 and v1beta1.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs the manager until ctx is done.
func Run(ctx context.Context, o Options) error {
	ctrl.SetLogger(klog.NewKlogr())
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	kubeCfg := kubeclient.Apply(o.Config, kubeclient.Options{Protobuf: true})
	kube, err := kubernetes.NewForConfig(kubeCfg)
	if err != nil {
		return err
	}
	resize, err := hasPodResize(kube)
	if err != nil {
		return fmt.Errorf("discover the pods/resize subresource: %w", err)
	}
	var hookServer webhook.Server
	if o.WebhookAddr != "" {
		host, port, err := splitHostPort(o.WebhookAddr)
		if err != nil {
			return fmt.Errorf("webhook address: %w", err)
		}
		if filepath.Dir(o.CertFile) != filepath.Dir(o.KeyFile) {
			return fmt.Errorf("the webhook certificate %s and key %s must be in one directory", o.CertFile, o.KeyFile)
		}
		opts := webhook.Options{Host: host, Port: port,
			CertDir: filepath.Dir(o.CertFile), CertName: filepath.Base(o.CertFile), KeyName: filepath.Base(o.KeyFile)}
		if o.WebhookClientCA != "" {
			auth, err := webhookClientAuth(o.WebhookClientCA, o.WebhookAllowedClients)
			if err != nil {
				return err
			}
			opts.TLSOpts = append(opts.TLSOpts, auth)
		}
		hookServer = webhook.NewServer(opts)
	}
	le := o.LeaderElection
	mgr, err := ctrl.NewManager(o.Config, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOptions(),
		Metrics:                       metricsOptions(o.MetricsAddr, o.MetricsSecure, o.CertFile, o.KeyFile, o.ClientCA),
		HealthProbeBindAddress:        o.ProbeAddr,
		WebhookServer:                 hookServer,
		LeaderElection:                le.Enabled,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       le.Namespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &le.LeaseDuration,
		RenewDeadline:                 &le.RenewDeadline,
		RetryPeriod:                   &le.RetryPeriod,
	})
	if err != nil {
		return err
	}
	features := o.Features
	if features == nil {
		features = NewFeatureGate()
	}
	if err := cloneset.Setup(mgr, kube, cloneset.Options{Workers: o.Workers, InPlaceResize: resize,
		RecreateOnClaimTemplateChange: features.Enabled(RecreatePodWhenChangeVCTInCloneSet)}); err != nil {
		return err
	}
	if err := broadcastjob.Setup(mgr, kube, broadcastjob.Options{Workers: o.Workers}); err != nil {
		return err
	}
	if err := advancedcronjob.Setup(mgr, advancedcronjob.Options{Workers: o.Workers}); err != nil {
		return err
	}
	if err := daemonset.Setup(mgr, kube, daemonset.Options{Workers: o.Workers, InPlaceResize: resize}); err != nil {
		return err
	}
	if err := statefulset.Setup(mgr, kube, statefulset.Options{Workers: o.Workers, InPlaceResize: resize, StuckAfter: o.StatefulSetStuckAfter,
		ResizeClaims: features.Enabled(StatefulSetAutoResizePVC)}); err != nil {
		return err
	}
	if err := sidecarset.Setup(mgr, kube, sidecarset.Options{Workers: o.Workers, RevisionNamespace: o.SidecarSetRevisionNamespace}); err != nil {
		return err
	}
	if hookServer != nil {
		if err := cswebhook.Register(mgr, inplace.EligibilityOptions{InPlaceResize: resize}, o.TemplateDefaults); err != nil {
			return err
		}
		if err := cswebhook.RegisterJobs(mgr, o.TemplateDefaults); err != nil {
			return err
		}
		if err := cswebhook.RegisterDaemonSet(mgr, o.TemplateDefaults); err != nil {
			return err
		}
		if err := cswebhook.RegisterStatefulSet(mgr, inplace.EligibilityOptions{InPlaceResize: resize}, o.TemplateDefaults,
			features.Enabled(StatefulSetAutoResizePVC)); err != nil {
			return err
		}
		enforcer := sidecarset.Enforcer{Kube: kube, Wait: cswebhook.SidecarSetEnforceWait, Poll: 50 * time.Millisecond}
		if err := cswebhook.RegisterSidecarSet(mgr, enforcer.Enforce); err != nil {
			return err
		}
		if err := cswebhook.RegisterSidecarSetDefaults(mgr, o.TemplateDefaults); err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("webhook", hookServer.StartedChecker()); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// cacheOptions keep the cache to what the controllers need at 10^5 pods:
// only pods and PVCs that carry a CloneSet instance id (every pod and PVC a
// CloneSet creates, and the only ones it adopts), and no managedFields,
// which are often half of a pod's size.
func cacheOptions() cache.Options {
	instance, err := labels.NewRequirement(v1alpha1.CloneSetInstanceID, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key; cannot fail
	}
	owned := labels.NewSelector().Add(*instance)
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:                   {Label: owned},
			&corev1.PersistentVolumeClaim{}: {Label: owned},
		},
	}
}

// hasPodResize reports whether the API server serves pods/resize, i.e. can
// change container resources in place.
func hasPodResize(kube kubernetes.Interface) (bool, error) {
	list, err := kube.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == "pods/resize" {
			return true, nil
		}
	}
	return false, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q of %q is not a TCP port", p, addr)
	}
	return host, port, nil
}
