package syncer

// kind is what a work key asks to sync, and in which direction.
type kind uint8

const (
	// Down: make the super copy match the tenant object (or go).
	kindNamespace kind = iota
	kindPod
	kindService
	kindConfigMap
	kindSecret
	kindPVC
	// Up: report the super side to the tenant.
	kindPodStatus // status, binding, loss of a tenant pod's super pod
	kindEvent     // a super pod event; Name is the super event's
	kindNode      // refresh a tenant's virtual node; Name is the node's
)

var kindNames = [...]string{"namespace", "pod", "service", "configmap", "secret", "persistentvolumeclaim", "pod", "event", "node"}

func (k kind) String() string { return kindNames[k] }

func (k kind) direction() string {
	if k >= kindPodStatus {
		return "up"
	}
	return "down"
}

// key is one unit of work, charged to Tenant in the fair queue. Namespace
// is the tenant's namespace (empty for cluster-scoped objects); Name the
// tenant object's, except as noted on kindEvent and kindNode.
type key struct {
	Tenant    string
	Kind      kind
	Namespace string
	Name      string
}

func tenantOf(k key) string { return k.Tenant }
