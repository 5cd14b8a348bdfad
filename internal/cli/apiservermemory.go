package cli

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/myriad-dev/myriad/pkg/controlplane"
)

// bindAPIServerMemory binds controlplane.APIServerMemory's flags, for
// `myriad up` and for every bench that starts its own cluster. The values
// are checked by the options' Validate.
func bindAPIServerMemory(f *pflag.FlagSet, m *controlplane.APIServerMemory) {
	f.Var((*byteSize)(&m.Limit), "apiserver-memory-limit", "soft memory limit (GOMEMLIMIT) of each kube-apiserver, e.g. 8Gi: near it the Go collector runs more often rather than letting the heap double (0: none)")
	f.StringSliceVar(&m.WatchCacheSizes, "watch-cache-sizes", nil, "kube-apiserver's --watch-cache-sizes, RESOURCE[.GROUP]#SIZE entries; only 0 has effect today: that resource is read from etcd instead of being kept in memory, e.g. configmaps#0,secrets#0")
}

// profileUsage is --profile's help, shared by `myriad up` and the benches.
const profileUsage = "named settings for a kind of cluster, filling in what flags leave unset: seeds (the seeds' 10^4 nodes and 10^6 objects: each API server's GOMEMLIMIT at 40% of the machine's memory, ConfigMaps and Secrets read from etcd rather than kept in its watch cache; docs/benchmarks/memory-levers)"

// byteSize is a flag holding a size in bytes, written as a Kubernetes
// quantity (8Gi, 512Mi, 0).
type byteSize int64

func (b *byteSize) String() string {
	return resource.NewQuantity(int64(*b), resource.BinarySI).String()
}

func (b *byteSize) Set(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a size like 8Gi", s)
	}
	*b = byteSize(q.Value())
	return nil
}

func (b *byteSize) Type() string { return "size" }
