package tenancy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Labels and annotations the syncer puts on every super-cluster object it
// creates. A tenant cannot forge them: the syncer strips every key under
// Prefix from what a tenant writes before it sets its own.
const (
	Prefix = "tenancy.myriad.dev/"
	// LabelTenant names the tenant a super-cluster object belongs to.
	LabelTenant = Prefix + "tenant"
	// AnnotationNamespace is the tenant namespace a super namespace maps
	// (an annotation: it may not be a valid label value once hashed).
	AnnotationNamespace = Prefix + "namespace"
	// AnnotationName and AnnotationUID are the tenant object's name and
	// UID; a super object whose UID annotation differs from the tenant
	// object's was left by an earlier incarnation and is replaced.
	AnnotationName = Prefix + "name"
	AnnotationUID  = Prefix + "uid"
	// SystemNamespace holds each tenant's kubeconfig Secret on the super
	// cluster.
	SystemNamespace = "myriad-tenants"
	// AdminKubeconfigKey and SyncerKubeconfigKey are the keys of that
	// Secret.
	AdminKubeconfigKey  = "admin.kubeconfig"
	SyncerKubeconfigKey = "syncer.kubeconfig"
	// MaxNameLength bounds a tenant's name so that its namespaces stay
	// readable: "<tenant>-<namespace>" is hashed only for long namespaces.
	MaxNameLength = 20
)

var dnsLabel = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// ValidateName says what is wrong with a tenant name, or nil.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("tenant name must not be empty")
	case len(name) > MaxNameLength:
		return fmt.Errorf("tenant name %q is %d characters; at most %d", name, len(name), MaxNameLength)
	case !dnsLabel.MatchString(name):
		return fmt.Errorf("tenant name %q must be lower-case letters, digits and '-', start with a letter and end with a letter or digit", name)
	}
	return nil
}

var hostLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidateHostName says what is wrong with a tenant host's name (a
// Tenant's spec.host), or nil. The default host has no name; "default" is
// how it shows, so no other host may take it.
func ValidateHostName(name string) error {
	switch {
	case name == "default":
		return fmt.Errorf("host name %q is the default host's; leave the name empty for it", name)
	case len(name) > 63:
		return fmt.Errorf("host name %q is %d characters; at most 63", name, len(name))
	case !hostLabel.MatchString(name):
		return fmt.Errorf("host name %q must be lower-case letters, digits and '-', and start and end with a letter or digit", name)
	}
	return nil
}

// KubeconfigSecret is the name of the Secret in SystemNamespace holding the
// tenant's kubeconfigs.
func KubeconfigSecret(tenant string) string { return tenant + "-kubeconfig" }

// SuperNamespace is the super-cluster namespace that tenant's namespace ns
// maps to: "<tenant>-<ns>" when that is a valid namespace name (at most 63
// characters), else "<tenant>-" followed by the first 20 characters of ns
// and a hash of the whole of ns, so the mapping stays 1:1 and deterministic.
// Two tenants cannot collide: tenant names are DNS labels and the tenant
// name is followed by '-'; but "a" with namespace "b-c" and "a-b" with
// namespace "c" both give "a-b-c", so the syncer records the origin in the
// namespace's annotations and refuses a namespace whose origin differs
// (see OwnsNamespace).
func SuperNamespace(tenant, ns string) string {
	name := tenant + "-" + ns
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(ns))
	short := ns
	if len(short) > 20 {
		short = strings.TrimRight(short[:20], "-")
	}
	return tenant + "-" + short + "-" + hex.EncodeToString(sum[:])[:16]
}

// OwnsNamespace says whether a super namespace with these labels and
// annotations is the one tenant's namespace ns maps to. A namespace that
// exists without them (made by someone else) or with another origin is a
// collision: the syncer refuses to use it.
func OwnsNamespace(labels, annotations map[string]string, tenant, ns string) bool {
	return labels[LabelTenant] == tenant && annotations[AnnotationNamespace] == ns
}
