package manager

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
)

// webhookClientAuth makes the webhook server admit only callers whose
// client certificate caFile's CA signed and, when allowed is not empty,
// whose common name it lists: the API server, not any identity the
// cluster CA ever signed (components, approved CSRs) and not anyone who
// can reach the port. This is upstream's "authenticate API servers to
// webhooks"; the API server presents its certificate through its
// admission configuration.
func webhookClientAuth(caFile string, allowed []string) (func(*tls.Config), error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("webhook client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("webhook client CA %s holds no PEM certificate", caFile)
	}
	return func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pool
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			return allowedClient(cs, allowed)
		}
	}, nil
}

// allowedClient checks a verified connection's client name against
// allowed (empty: any name the CA signed). Pure.
func allowedClient(cs tls.ConnectionState, allowed []string) error {
	if len(allowed) == 0 {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("webhook: no client certificate")
	}
	if name := cs.PeerCertificates[0].Subject.CommonName; !slices.Contains(allowed, name) {
		return fmt.Errorf("webhook: client %q is not allowed", name)
	}
	return nil
}
