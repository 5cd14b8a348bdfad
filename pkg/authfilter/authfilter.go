// Package authfilter guards a component's own HTTP endpoints (/metrics)
// as upstream components guard theirs: delegated authentication (a client
// certificate of the cluster CA, or a bearer token the API server
// reviews) and delegated authorization (a SubjectAccessReview of the
// request's path and verb, so RBAC's nonResourceURLs rules decide who may
// read). It uses k8s.io/apiserver's delegating authenticator and
// authorizer, with their caches, rather than anything of its own.
//
// It must never serve a request it could not authenticate and authorize:
// an error reaching the API server is a refusal, not a pass.
package authfilter

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
)

// Config says whom to ask.
type Config struct {
	// Client reaches the API server for TokenReviews and
	// SubjectAccessReviews; its identity needs both (the built-in
	// system:auth-delegator ClusterRole).
	Client kubernetes.Interface
	// ClientCA is a PEM file whose CA's client certificates authenticate
	// (the cluster CA); "" accepts bearer tokens only.
	ClientCA string
}

// retry is upstream's default back-off for delegated authentication and
// authorization webhooks.
var retry = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// Guard is a filter: next runs only for requests that authenticate and
// that the API server authorizes.
type Guard struct {
	authn authenticator.Request
	authz authorizer.Authorizer
}

// New builds the guard of cfg.
func New(cfg Config) (*Guard, error) {
	ac := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                &apiserver.AnonymousAuthConfig{Enabled: false},
		TokenAccessReviewClient:  cfg.Client.AuthenticationV1(),
		TokenAccessReviewTimeout: 10 * time.Second,
		WebhookRetryBackoff:      &retry,
		CacheTTL:                 time.Minute,
	}
	if cfg.ClientCA != "" {
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", cfg.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		ac.ClientCertificateCAContentProvider = ca
	}
	authn, _, err := ac.New()
	if err != nil {
		return nil, fmt.Errorf("delegated authentication: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cfg.Client.AuthorizationV1(),
		AllowCacheTTL:             5 * time.Minute,
		DenyCacheTTL:              30 * time.Second,
		WebhookRetryBackoff:       &retry,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("delegated authorization: %w", err)
	}
	return &Guard{authn: authn, authz: authz}, nil
}

// Wrap is next behind the guard: 401 for a request that does not
// authenticate, 403 for one the API server does not allow (or cannot be
// asked about), as the API server answers.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok, err := g.authn.AuthenticateRequest(r)
		if err != nil || !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := authorizer.AttributesRecord{User: res.User, Verb: strings.ToLower(r.Method), Path: r.URL.Path}
		decision, reason, err := g.authz.Authorize(r.Context(), attrs)
		if err != nil || decision != authorizer.DecisionAllow {
			msg := fmt.Sprintf("Forbidden: user %q may not %s %s", res.User.GetName(), attrs.Verb, attrs.Path)
			if reason != "" {
				msg += ": " + reason
			}
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
