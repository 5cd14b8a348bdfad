package nodesim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/yaml"
)

// ImageCatalog is the simulated registry: the digest each image reference
// resolves to, as a container runtime reports it in a container's imageID.
// A reference it does not list resolves to a digest derived from the
// reference itself, so two tags are two images unless the catalogue says
// they are one (as nginx:alpine and nginx:mainline-alpine are on Docker Hub
// while both track the same release).
//
// It is data, read from a file (LoadImageCatalog), never guessed: simulated
// nodes pull nothing and cannot know what a registry serves.
type ImageCatalog struct {
	byName map[string]digest.Digest // normalized name:tag → digest
}

// imageCatalogFile is the file format:
//
//	images:
//	- name: nginx:alpine
//	  digest: sha256:<64 hex>
type imageCatalogFile struct {
	Images []struct {
		Name   string `json:"name"`
		Digest string `json:"digest"`
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
	c := &ImageCatalog{byName: map[string]digest.Digest{}}
	for i, e := range f.Images {
		key, err := catalogKey(e.Name)
		if err != nil {
			return nil, fmt.Errorf("images[%d].name %q: %w", i, e.Name, err)
		}
		d, err := digest.Parse(e.Digest)
		if err != nil {
			return nil, fmt.Errorf("images[%d].digest %q: %w", i, e.Digest, err)
		}
		if prev, dup := c.byName[key]; dup && prev != d {
			return nil, fmt.Errorf("images[%d].name %q: listed twice with different digests", i, e.Name)
		}
		c.byName[key] = d
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
		if d, ok := c.byName[reference.TagNameOnly(named).String()]; ok {
			return named.Name() + "@" + d.String()
		}
	}
	return named.Name() + "@" + derivedDigest(image).String()
}

func derivedDigest(image string) digest.Digest {
	sum := sha256.Sum256([]byte(image))
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
}
