package controlplane

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	webhookadmissionv1 "k8s.io/apiserver/pkg/admission/plugin/webhook/config/apis/webhookadmission/v1"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/durable"
)

// WebhookClientUser is the name in the client certificate the API server
// presents to `myriad manager`'s admission webhook, which admits no other
// (upstream's "authenticate API servers to webhooks": an admission
// configuration whose kubeconfig names a client certificate per webhook
// host).
const WebhookClientUser = "kube-apiserver-webhook-client"

// admissionConfigFile is the API server's --admission-control-config-file;
// webhookKubeconfigFile the credentials it names.
func (d DataDir) admissionConfigFile() string {
	return filepath.Join(d.PKI(), "admission-config.yaml")
}

func (d DataDir) webhookKubeconfigFile() string {
	return filepath.Join(d.PKI(), "webhook-client.kubeconfig")
}

// writeWebhookClientConfig writes the admission configuration that makes
// the API server present its webhook client certificate to the manager's
// webhook at 127.0.0.1:port, and to no other webhook (a webhook the user
// installs gets no credentials, as before). It is rewritten at every
// start: the port is chosen per run. It returns the configuration's path.
func writeWebhookClientConfig(d DataDir, c Certs, port int) (string, error) {
	cert, err := os.ReadFile(c.WebhookClientCert)
	if err != nil {
		return "", err
	}
	key, err := os.ReadFile(c.WebhookClientKey)
	if err != nil {
		return "", err
	}
	kc := clientcmdapi.NewConfig()
	// The user's name is the webhook URL's host:port, which is how the
	// API server picks the credentials for a webhook call.
	kc.AuthInfos["127.0.0.1:"+strconv.Itoa(port)] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		return "", fmt.Errorf("webhook client kubeconfig: %w", err)
	}
	if err := durable.WriteFile(d.webhookKubeconfigFile(), raw, 0o600); err != nil {
		return "", err
	}
	plugin, err := json.Marshal(webhookadmissionv1.WebhookAdmission{
		TypeMeta:       metav1.TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "WebhookAdmissionConfiguration"},
		KubeConfigFile: d.webhookKubeconfigFile(),
	})
	if err != nil {
		return "", err
	}
	cfg := apiserverv1.AdmissionConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "AdmissionConfiguration"},
	}
	for _, name := range []string{"ValidatingAdmissionWebhook", "MutatingAdmissionWebhook"} {
		cfg.Plugins = append(cfg.Plugins, apiserverv1.AdmissionPluginConfiguration{Name: name,
			Configuration: &runtime.Unknown{Raw: plugin, ContentType: runtime.ContentTypeJSON}})
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	if err := durable.WriteFile(d.admissionConfigFile(), out, 0o600); err != nil {
		return "", err
	}
	return d.admissionConfigFile(), nil
}
