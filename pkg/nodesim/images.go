package nodesim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// nodeImages is the status.images every node reports: n images named
// registry.example/app-<k>:v1, each listed by digest and tag as the kubelet
// lists them, largest first. Names, digests and sizes depend only on k, so
// runs are repeatable and one slice serves every node (it is never mutated).
// Real nodes differ in what they hold; what matters for a heartbeat is that
// NodeStatus weighs kilobytes, as a real one does.
func nodeImages(n int) []corev1.ContainerImage {
	if n <= 0 {
		return nil
	}
	out := make([]corev1.ContainerImage, n)
	for k := range n {
		repo := fmt.Sprintf("registry.example/app-%d", k)
		sum := sha256.Sum256([]byte(repo + ":v1"))
		// 10 MiB .. ~1 GiB, the range of application images.
		size := int64(10<<20) + int64(binary.BigEndian.Uint64(sum[:8])%(1<<30))
		out[k] = corev1.ContainerImage{
			Names:     []string{repo + "@sha256:" + hex.EncodeToString(sum[:]), repo + ":v1"},
			SizeBytes: size,
		}
	}
	// The kubelet sorts by size, descending, before it truncates to 50.
	sort.SliceStable(out, func(i, j int) bool { return out[i].SizeBytes > out[j].SizeBytes })
	return out
}
