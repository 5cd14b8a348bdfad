package inplace

import (
	"strings"

	"github.com/distribution/reference"
)

// sameImage compares an image a runtime reported with an image a pod spec
// names. known is false when the two cannot be compared by name: runtimes
// may report an image ID ("sha256:...") or a name other than the one in the
// spec when the spec pins a digest. Names are normalized the way the kubelet
// pulls them ("nginx" is "docker.io/library/nginx:latest").
func sameImage(reported, spec string) (same, known bool) {
	if reported == "" || spec == "" || strings.HasPrefix(reported, "sha256:") || strings.HasPrefix(spec, "sha256:") {
		return false, false
	}
	r, err1 := reference.ParseNormalizedNamed(reported)
	s, err2 := reference.ParseNormalizedNamed(spec)
	if err1 != nil || err2 != nil {
		return false, false
	}
	rd, rDigested := r.(reference.Digested)
	sd, sDigested := s.(reference.Digested)
	switch {
	case rDigested && sDigested:
		return rd.Digest() == sd.Digest(), true
	case rDigested || sDigested:
		return false, false
	}
	return reference.TagNameOnly(r).String() == reference.TagNameOnly(s).String(), true
}
