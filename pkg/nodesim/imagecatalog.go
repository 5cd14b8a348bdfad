package nodesim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ImageCatalog is the simulated registry and what its images do: the digest
// each image reference resolves to, as a container runtime reports it in a
// container's imageID, how long a pull takes or why it fails, and what the
// image's own entrypoint does. A reference it does not list resolves to a
// digest derived from the reference itself (so two tags are two images
// unless the catalogue says they are one, as nginx:alpine and
// nginx:mainline-alpine are on Docker Hub while both track the same
// release), pulls at once and runs until stopped.
//
// It is data, read from a file (LoadImageCatalog), never guessed: simulated
// nodes pull nothing and cannot know what a registry serves.
type ImageCatalog struct {
	byName map[string]Image // normalized name:tag → what it is
}

// Image is what the catalogue says of one image reference.
type Image struct {
	// Digest is what the reference resolves to; empty: derived from it.
	Digest digest.Digest
	// PullDuration is how long pulling this image takes on a node that
	// does not hold it (ContainerCreating meanwhile); zero: its size at
	// the node profile's bandwidth.
	PullDuration time.Duration
	// Size is the image's size (unpacked, as status.images reports it);
	// zero: the node profile's ImageSize.
	Size int64
	// PullError, when set, makes every pull fail: the container waits,
	// ErrImagePull at each attempt and ImagePullBackOff between them (the
	// kubelet's back-off, 10 s doubling to 5 min), with this message, and
	// never runs.
	PullError string
	// Exits says the image's entrypoint ends on its own: containers that
	// set no command exit ExitsAfter after they start, with ExitCode, and
	// under restartPolicy Always the kubelet restarts them with
	// CrashLoopBackOff delays. Containers with a command run until stopped.
	Exits      bool
	ExitsAfter time.Duration
	ExitCode   int32
	// Files are the image's own files (absolute path → contents), which
	// commands run in its containers see (package sandbox).
	Files map[string]string
	// HTTP is the image's web server, if it has one: HTTP probes of its
	// port succeed for a file under its document root and fail otherwise.
	// Without it, an HTTP probe of the image succeeds.
	HTTP *ImageHTTP
}

// ImageHTTP is what an image's web server serves.
type ImageHTTP struct {
	Port int32
	Root string // absolute; a path ending in / serves its index.html
}

// imageCatalogFile is the file format:
//
//	images:
//	- name: nginx:alpine
//	  digest: sha256:<64 hex>      # optional
//	  pullDuration: 3s             # optional: else size at the node profile's bandwidth
//	  size: 150Mi                  # optional: unpacked, as status.images reports it
//	  pullError: manifest unknown  # optional
//	  entrypoint:                  # optional: the image's own command exits
//	    exitsAfter: 0s
//	    exitCode: 0
//	  files:                       # optional: the image's own files
//	    /usr/share/nginx/html/index.html: "<h1>hello</h1>"
//	  http:                        # optional: its web server, for HTTP probes
//	    port: 80
//	    root: /usr/share/nginx/html
type imageCatalogFile struct {
	Images []struct {
		Name         string           `json:"name"`
		Digest       string           `json:"digest"`
		PullDuration *metav1.Duration `json:"pullDuration"`
		Size         string           `json:"size"`
		PullError    string           `json:"pullError"`
		Entrypoint   *struct {
			ExitsAfter metav1.Duration `json:"exitsAfter"`
			ExitCode   int32           `json:"exitCode"`
		} `json:"entrypoint"`
		Files map[string]string `json:"files"`
		HTTP  *struct {
			Port int32  `json:"port"`
			Root string `json:"root"`
		} `json:"http"`
	} `json:"images"`
}

// LoadImageCatalog reads a catalogue file.
func LoadImageCatalog(path string) (*ImageCatalog, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image catalogue: %w", err)
	}
	c, err := ParseImageCatalog(raw)
	if err != nil {
		return nil, fmt.Errorf("image catalogue %s: %w", path, err)
	}
	return c, nil
}

// ParseImageCatalog parses the catalogue format; errors name the entry and
// field at fault. Unknown fields are errors, so a typo is not silently
// ignored.
func ParseImageCatalog(raw []byte) (*ImageCatalog, error) {
	var f imageCatalogFile
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return nil, err
	}
	c := &ImageCatalog{byName: map[string]Image{}}
	for i, e := range f.Images {
		key, err := catalogKey(e.Name)
		if err != nil {
			return nil, fmt.Errorf("images[%d].name %q: %w", i, e.Name, err)
		}
		if _, dup := c.byName[key]; dup {
			return nil, fmt.Errorf("images[%d].name %q: listed twice", i, e.Name)
		}
		var img Image
		if e.Digest != "" {
			if img.Digest, err = digest.Parse(e.Digest); err != nil {
				return nil, fmt.Errorf("images[%d].digest %q: %w", i, e.Digest, err)
			}
		}
		if e.PullDuration != nil {
			if img.PullDuration = e.PullDuration.Duration; img.PullDuration < 0 {
				return nil, fmt.Errorf("images[%d].pullDuration: must not be negative, got %s", i, img.PullDuration)
			}
		}
		if e.Size != "" {
			if img.Size, err = parseImageSize(e.Size); err != nil {
				return nil, fmt.Errorf("images[%d].size %q: %w", i, e.Size, err)
			}
		}
		img.PullError = e.PullError
		if e.Entrypoint != nil {
			img.Exits, img.ExitsAfter, img.ExitCode = true, e.Entrypoint.ExitsAfter.Duration, e.Entrypoint.ExitCode
			if img.ExitsAfter < 0 {
				return nil, fmt.Errorf("images[%d].entrypoint.exitsAfter: must not be negative, got %s", i, img.ExitsAfter)
			}
			if img.ExitCode < 0 || img.ExitCode > 255 {
				return nil, fmt.Errorf("images[%d].entrypoint.exitCode: must be 0-255, got %d", i, img.ExitCode)
			}
		}
		for p := range e.Files {
			if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
				return nil, fmt.Errorf("images[%d].files[%q]: must be an absolute, clean path to a file", i, p)
			}
		}
		img.Files = e.Files
		if h := e.HTTP; h != nil {
			if h.Port < 1 || h.Port > 65535 {
				return nil, fmt.Errorf("images[%d].http.port: must be 1-65535, got %d", i, h.Port)
			}
			if !path.IsAbs(h.Root) {
				return nil, fmt.Errorf("images[%d].http.root: must be an absolute path, got %q", i, h.Root)
			}
			img.HTTP = &ImageHTTP{Port: h.Port, Root: path.Clean(h.Root)}
		}
		c.byName[key] = img
	}
	return c, nil
}

// catalogKey normalizes a tagged reference (nginx:alpine is
// docker.io/library/nginx:alpine; no tag means latest). References by
// digest need no catalogue and are refused.
func catalogKey(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", err
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("a reference by digest needs no catalogue entry")
	}
	return reference.TagNameOnly(named).String(), nil
}

// Lookup is what the catalogue says of image; the zero Image (derived
// digest, instant pull, runs until stopped) when it is not listed. A nil
// catalogue lists nothing.
func (c *ImageCatalog) Lookup(image string) Image {
	if c == nil || len(c.byName) == 0 {
		return Image{}
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return Image{}
	}
	if _, ok := named.(reference.Digested); ok {
		return Image{}
	}
	return c.byName[reference.TagNameOnly(named).String()]
}

// ImageID is the imageID a runtime reports for a container of image:
// <repository>@<digest>, shaped like containerd's. A nil catalogue lists
// nothing.
func (c *ImageCatalog) ImageID(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		// The API server accepted it, so a runtime would try to pull it;
		// report a stable ID all the same.
		repo, _, _ := strings.Cut(image, "@")
		return repo + "@" + derivedDigest(image).String()
	}
	if d, ok := named.(reference.Digested); ok {
		return named.Name() + "@" + d.Digest().String()
	}
	if c != nil {
		if img := c.byName[reference.TagNameOnly(named).String()]; img.Digest != "" {
			return named.Name() + "@" + img.Digest.String()
		}
	}
	return named.Name() + "@" + derivedDigest(image).String()
}

// StatusNames are image's names as a node's status.images lists them once
// it is pulled: repository@digest, then the reference pulled, both
// normalized (docker.io/library/nginx:1.25), which is what kube-scheduler's
// ImageLocality matches a container's image against.
func (c *ImageCatalog) StatusNames(image string) []string {
	id := c.ImageID(image)
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return []string{id}
	}
	if _, ok := named.(reference.Digested); ok {
		return []string{id}
	}
	return []string{id, reference.TagNameOnly(named).String()}
}

// parseImageSize reads a size such as 150Mi or 2G. Only plain quantities
// are taken: resource.ParseQuantity spends minutes on exponents such as
// 1E1000010000000, and an image size needs none.
func parseImageSize(v string) (int64, error) {
	if !imageSizePattern.MatchString(v) {
		return 0, fmt.Errorf("want a size such as 150Mi, 2Gi or 300M")
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, err
	}
	if q.Sign() <= 0 || q.Cmp(resource.MustParse("1Ti")) > 0 {
		return 0, fmt.Errorf("must be above 0 and at most 1Ti")
	}
	return q.Value(), nil
}

var imageSizePattern = regexp.MustCompile(`^[0-9]{1,13}(\.[0-9]{1,6})?(Ki|Mi|Gi|Ti|k|M|G|T)?$`)

func derivedDigest(image string) digest.Digest {
	sum := sha256.Sum256([]byte(image))
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
}
