package controlplane

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"

	"github.com/myriad-dev/myriad/pkg/durable"
)

// EncryptionConfigFile is where the API server's encryption-at-rest
// configuration lives, beside the other keys (0600).
func (d DataDir) EncryptionConfigFile() string {
	return filepath.Join(d.PKI(), "encryption-config.yaml")
}

// EnsureEncryptionConfig makes Secrets encrypted at rest in etcd: it writes,
// once, an EncryptionConfiguration whose first provider is secretbox
// (XSalsa20-Poly1305, the strongest of the API server's local-key
// providers; aesgcm needs a rotation every 200,000 writes and aescbc is
// open to padding oracles) with a fresh 32-byte key, followed by identity
// so Secrets written before encryption was on stay readable.
//
// An existing file is never replaced: it holds the only copy of the key,
// and without it every Secret in etcd is lost. Rotation is the user's
// edit of that file (see the README), which the API server reloads.
func EnsureEncryptionConfig(d DataDir) (string, error) {
	path := d.EncryptionConfigFile()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("encryption configuration %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("encryption key: %w", err)
	}
	cfg := apiserverv1.EncryptionConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "EncryptionConfiguration"},
		Resources: []apiserverv1.ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []apiserverv1.ProviderConfiguration{
				{Secretbox: &apiserverv1.SecretboxConfiguration{Keys: []apiserverv1.Key{{Name: "key1", Secret: base64.StdEncoding.EncodeToString(key)}}}},
				{Identity: &apiserverv1.IdentityConfiguration{}},
			},
		}},
	}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	if err := durable.WriteFile(path, raw, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// DefaultAuditPolicy is the policy `myriad up --audit-policy default`
// gives the API server: who did what to which object, at a cost that a
// 10,000-node cluster can afford. Request bodies are kept for writes only;
// Secrets, ConfigMaps and token reviews are logged without bodies, so the
// log never holds a credential; the heartbeats of thousands of nodes
// (Leases in kube-node-lease), events and health probes are not logged.
func DefaultAuditPolicy() auditv1.Policy {
	writes := []string{"create", "update", "patch", "delete", "deletecollection"}
	return auditv1.Policy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "audit.k8s.io/v1", Kind: "Policy"},
		OmitStages: []auditv1.Stage{auditv1.StageRequestReceived},
		Rules: []auditv1.PolicyRule{
			{Level: auditv1.LevelNone, Resources: []auditv1.GroupResources{{Group: "coordination.k8s.io", Resources: []string{"leases"}}}, Namespaces: []string{"kube-node-lease"}},
			{Level: auditv1.LevelNone, Resources: []auditv1.GroupResources{{Group: "", Resources: []string{"events"}}, {Group: "events.k8s.io", Resources: []string{"events"}}}},
			{Level: auditv1.LevelNone, NonResourceURLs: []string{"/healthz*", "/livez*", "/readyz*", "/version", "/metrics"}},
			{Level: auditv1.LevelMetadata, Resources: []auditv1.GroupResources{
				{Group: "", Resources: []string{"secrets", "configmaps", "serviceaccounts/token"}},
				{Group: "authentication.k8s.io", Resources: []string{"tokenreviews"}},
			}},
			{Level: auditv1.LevelRequest, Verbs: writes},
			{Level: auditv1.LevelMetadata},
		},
	}
}

// auditArgs turns --audit-policy into the API server's flags: "" is off,
// "default" writes DefaultAuditPolicy under run/, anything else is the
// user's policy file. The log rotates at 100 MiB, three backups kept, in
// the logs directory.
func auditArgs(d DataDir, policy string) ([]string, error) {
	switch policy {
	case "":
		return nil, nil
	case "default":
		raw, err := yaml.Marshal(DefaultAuditPolicy())
		if err != nil {
			return nil, err
		}
		policy = filepath.Join(d.Run(), "audit-policy.yaml")
		if err := durable.WriteFile(policy, raw, 0o600); err != nil {
			return nil, err
		}
	default:
		if _, err := os.Stat(policy); err != nil {
			return nil, fmt.Errorf("--audit-policy %s: %w", policy, err)
		}
	}
	return []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + filepath.Join(d.Logs(), "audit.log"),
		"--audit-log-maxsize=100",
		"--audit-log-maxbackup=3",
	}, nil
}
