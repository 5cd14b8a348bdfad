package nodesim

import (
	"strings"
	"testing"
)

func TestImageIDWithoutCatalog(t *testing.T) {
	var c *ImageCatalog
	digested := "ghcr.io/o/a@sha256:" + strings.Repeat("ab", 32)
	for image, repo := range map[string]string{
		"nginx":                      "docker.io/library/nginx",
		"nginx:1.27":                 "docker.io/library/nginx",
		"bitnami/redis:7":            "docker.io/bitnami/redis",
		"registry.k8s.io/pause:3.10": "registry.k8s.io/pause",
		"localhost:5000/app:dev":     "localhost:5000/app",
		digested:                     "ghcr.io/o/a",
	} {
		got := c.ImageID(image)
		if !strings.HasPrefix(got, repo+"@sha256:") || len(got) != len(repo)+len("@sha256:")+64 {
			t.Errorf("ImageID(%q) = %q, want %s@sha256:<64 hex>", image, got, repo)
		}
		if c.ImageID(image) != got {
			t.Errorf("ImageID(%q) is not deterministic", image)
		}
	}
	if c.ImageID(digested) != digested {
		t.Errorf("a reference by digest must report that digest, got %s", c.ImageID(digested))
	}
	if c.ImageID("nginx:1") == c.ImageID("nginx:2") {
		t.Error("different tags share an image ID")
	}
}

// Two tags the catalogue gives one digest are one image (OpenKruise's "in-place
// update images with the same imageID"), whichever way they are spelled.
func TestImageCatalogSharedDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("0f", 32)
	c, err := ParseImageCatalog([]byte("images:\n- name: nginx:alpine\n  digest: " + d + "\n- name: docker.io/library/nginx:mainline-alpine\n  digest: " + d + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "docker.io/library/nginx@" + d
	for _, image := range []string{"nginx:alpine", "docker.io/library/nginx:alpine", "nginx:mainline-alpine"} {
		if got := c.ImageID(image); got != want {
			t.Errorf("ImageID(%q) = %s, want %s", image, got, want)
		}
	}
	if c.ImageID("nginx:1.27") == want {
		t.Error("an image the catalogue does not list must not take a listed digest")
	}
}

func TestParseImageCatalogNamesTheFault(t *testing.T) {
	d := "sha256:" + strings.Repeat("0f", 32)
	for _, tc := range []struct{ in, want string }{
		{"images:\n- name: Nginx:alpine\n  digest: " + d, "images[0].name"},
		{"images:\n- name: nginx\n  digest: sha256:12", "images[0].digest"},
		{"images:\n- name: nginx@" + d + "\n  digest: " + d, "needs no catalogue entry"},
		{"images:\n- name: a:1\n  digest: " + d + "\n- name: a:1\n  digest: sha256:" + strings.Repeat("1e", 32), "images[1].name"},
		{"images:\n- name: a:1\n  digets: " + d, "unknown field"},
		{"images:\n- name: a:1\n  files: {etc/motd: hi}", "images[0].files[\"etc/motd\"]"},
		{"images:\n- name: a:1\n  files: {/a/../b: hi}", "images[0].files"},
		{"images:\n- name: a:1\n  http: {port: 0, root: /srv}", "images[0].http.port"},
		{"images:\n- name: a:1\n  http: {port: 80, root: srv}", "images[0].http.root"},
		{"images:\n- name: a:1\n  size: 1E1000010000000", "images[0].size"},
		{"images:\n- name: a:1\n  size: 0", "images[0].size"},
		{"images:\n- name: a:1\n  size: 2Pi", "images[0].size"},
		{"images:\n- name: a:1\n  size: -5Mi", "images[0].size"},
	} {
		_, err := ParseImageCatalog([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseImageCatalog(%q) = %v, want an error naming %q", tc.in, err, tc.want)
		}
	}
}

// The catalogue is read from a user's file: no input may panic, and an
// accepted catalogue answers for every reference.
func FuzzParseImageCatalog(f *testing.F) {
	f.Add([]byte("images:\n- name: nginx:alpine\n  digest: sha256:" + strings.Repeat("0f", 32)))
	f.Add([]byte("images: []"))
	f.Add([]byte("images:\n- name: nginx:alpine\n  files: {/usr/share/nginx/html/index.html: hi}\n  http: {port: 80, root: /usr/share/nginx/html}"))
	f.Add([]byte("{"))
	f.Add([]byte("images:\n- name: a:1\n  size: 150Mi"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseImageCatalog(raw)
		if err != nil {
			return
		}
		for name := range c.byName {
			if id := c.ImageID(name); !strings.Contains(id, "@") {
				t.Fatalf("ImageID(%q) = %q: no digest", name, id)
			}
			if size := c.byName[name].Size; size < 0 || size > 1<<40 {
				t.Fatalf("image %q accepted with size %d", name, size)
			}
		}
	})
}
