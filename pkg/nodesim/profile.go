package nodesim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Profile is how long a simulated node's container runtime takes over the
// steps a kubelet waits for when it starts a pod: creating the pod's
// sandbox, pulling an image the node does not hold, and creating and
// starting a container. It is data, as KWOK's stages are: the simulator has
// no special case for a "slow" node, only these durations.
//
// The zero Profile (ProfileFast) takes no time at any step, so benches that
// measure the control plane see no runtime at all; ProfileRealistic is a
// node as a cloud VM with containerd runs them.
type Profile struct {
	// SandboxStart is how long RunPodSandbox takes (network namespace, CNI,
	// pause container): the pod waits in ContainerCreating, without an IP
	// and with PodReadyToStartContainers False, before any pull begins.
	SandboxStart time.Duration
	// ContainerStart is how long creating and starting one container takes
	// once its image is on the node.
	ContainerStart time.Duration
	// PullBandwidth is how many bytes of image (its size as status.images
	// reports it, i.e. unpacked) a node pulls per second; 0 pulls every
	// image at once unless the catalogue gives the image a pullDuration.
	PullBandwidth int64
	// ImageSize is the size of images the catalogue does not size.
	ImageSize int64
	// ParallelPulls pulls several images of one node at once, each at the
	// full bandwidth; false is the kubelet's default
	// (serializeImagePulls: true): one pull at a time, the others queue.
	ParallelPulls bool
}

// Named profiles, for --node-profile.
const (
	ProfileFast      = "fast"
	ProfileRealistic = "realistic"
)

// profiles are the named profiles. The realistic one's figures:
//   - pulls: containerd issue #2886 measured a 2.08 GB (unpacked) image
//     pulled in 28-75 s on a one-vCPU GCE VM, 28-74 MB/s of unpacked size
//     (unpacking, not the network, is the limit); 50 MiB/s sits in that
//     range. 200 MiB is an application image on a distroless or slim
//     base with a language runtime.
//   - sandbox: RunPodSandbox with a CNI plugin takes most of a second on
//     such a node; the Kubernetes pod start-up SLO (5 s at p99, image
//     pulls excluded) leaves it that room.
//   - container start: containerd's create and start with runc, a few
//     hundred milliseconds.
var profiles = map[string]Profile{
	ProfileFast: {},
	ProfileRealistic: {
		SandboxStart:   time.Second,
		ContainerStart: 300 * time.Millisecond,
		PullBandwidth:  50 << 20,
		ImageSize:      200 << 20,
	},
}

// ProfileNames lists the named profiles, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// NamedProfile is the profile called name.
func NamedProfile(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown node profile %q: want one of %s", name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}

// pullCost is how long pulling img takes on a node that holds nothing of
// it: the catalogue's pullDuration when it gives one, else the image's size
// at the profile's bandwidth.
func (p Profile) pullCost(img Image) time.Duration {
	if img.PullDuration > 0 || p.PullBandwidth <= 0 {
		return img.PullDuration
	}
	return time.Duration(float64(p.sizeOf(img)) / float64(p.PullBandwidth) * float64(time.Second))
}

// sizeOf is img's size: the catalogue's, else the profile's ImageSize.
func (p Profile) sizeOf(img Image) int64 {
	if img.Size > 0 {
		return img.Size
	}
	return p.ImageSize
}

// validate names the first bad field.
func (p Profile) validate() error {
	switch {
	case p.SandboxStart < 0:
		return fmt.Errorf("sandbox start must not be negative, got %s", p.SandboxStart)
	case p.ContainerStart < 0:
		return fmt.Errorf("container start must not be negative, got %s", p.ContainerStart)
	case p.PullBandwidth < 0:
		return fmt.Errorf("pull bandwidth must not be negative, got %d", p.PullBandwidth)
	case p.ImageSize < 0:
		return fmt.Errorf("image size must not be negative, got %d", p.ImageSize)
	}
	return nil
}
