package authfilter

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

// Only who the API server says may read /metrics reads it: by a client
// certificate of the cluster CA or a bearer token it reviews; nobody
// anonymous, no certificate of another CA, and nothing when the API
// server cannot be asked.
func TestGuardAsksTheAPIServer(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.LoadOrCreateCA(dir, "other", "other-ca")
	if err != nil {
		t.Fatal(err)
	}
	// The API server's two reviews, answered by a stand-in (the
	// delegating authorizer posts through the REST client, which a fake
	// clientset does not have).
	sarDown := false
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/authentication.k8s.io/v1/tokenreviews":
			var tr authenticationv1.TokenReview
			_ = json.NewDecoder(r.Body).Decode(&tr)
			if tr.Spec.Token == "good-token" {
				tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "prometheus"}}
			}
			_ = json.NewEncoder(w).Encode(tr)
		case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
			if sarDown {
				http.Error(w, "etcd is down", http.StatusInternalServerError)
				return
			}
			var sar authorizationv1.SubjectAccessReview
			_ = json.NewDecoder(r.Body).Decode(&sar)
			na := sar.Spec.NonResourceAttributes
			sar.Status.Allowed = na != nil && na.Path == "/metrics" && na.Verb == "get" && (sar.Spec.User == "reader" || sar.Spec.User == "prometheus")
			_ = json.NewEncoder(w).Encode(sar)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Client: cs, ClientCA: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
	n := 0
	withCert := func(signer *pki.CA, user string) func(*http.Request) {
		n++
		certFile, _, err := signer.EnsureCert(dir, "client-"+string(rune('a'+n)), pki.Request{CommonName: user, Client: true})
		if err != nil {
			t.Fatal(err)
		}
		certs, err := certutil.CertsFromFile(certFile)
		if err != nil {
			t.Fatal(err)
		}
		return func(r *http.Request) { r.TLS = &tls.ConnectionState{PeerCertificates: certs} }
	}
	bearer := func(token string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	}
	get := func(path string, with func(*http.Request)) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if with != nil {
			with(r)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		what string
		path string
		with func(*http.Request)
		want int
	}{
		{"anonymous", "/metrics", nil, http.StatusUnauthorized},
		{"a certificate RBAC lets read", "/metrics", withCert(ca, "reader"), http.StatusOK},
		{"a certificate RBAC does not", "/metrics", withCert(ca, "nosy"), http.StatusForbidden},
		{"the reader on another path", "/debug/pprof/", withCert(ca, "reader"), http.StatusForbidden},
		{"a certificate of another CA", "/metrics", withCert(other, "reader"), http.StatusUnauthorized},
		{"a token the API server accepts", "/metrics", bearer("good-token"), http.StatusOK},
		{"a token it does not", "/metrics", bearer("forged"), http.StatusUnauthorized},
	} {
		if got := get(tc.path, tc.with); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, got, tc.want)
		}
	}
	// A user not yet in the authorization cache, asked while the API
	// server is down, is refused.
	sarDown = true
	if got := get("/metrics", withCert(ca, "newcomer")); got != http.StatusForbidden {
		t.Errorf("with the API server down: %d, want 403", got)
	}
}
