package pki

import (
	"fmt"
	"strings"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// RenewBefore is how long before its expiry a certificate counts as due:
// EnsureCert re-issues it then, and a check warns.
const RenewBefore = 30 * 24 * time.Hour

// CertInfo is what a certificate file says of itself. For a file of
// several certificates (a serving bundle) it is the one that ends first.
type CertInfo struct {
	File     string
	Subject  string
	Groups   []string
	Issuer   string
	IsCA     bool
	NotAfter time.Time
	Count    int
}

// Inspect reads a PEM certificate file.
func Inspect(file string) (CertInfo, error) {
	certs, err := certutil.CertsFromFile(file)
	if err != nil {
		return CertInfo{}, err
	}
	if len(certs) == 0 {
		return CertInfo{}, fmt.Errorf("%s holds no certificate", file)
	}
	first := certs[0]
	for _, c := range certs[1:] {
		if c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	return CertInfo{File: file, Subject: first.Subject.CommonName, Groups: first.Subject.Organization, Issuer: first.Issuer.CommonName,
		IsCA: first.IsCA, NotAfter: first.NotAfter, Count: len(certs)}, nil
}

// State is "expired", "due" (within RenewBefore of expiry) or "ok" at now.
func (c CertInfo) State(now time.Time) string {
	switch {
	case !now.Before(c.NotAfter):
		return "expired"
	case now.Add(RenewBefore).After(c.NotAfter):
		return "due"
	}
	return "ok"
}

// Left is the time until expiry at now, in days, hours or "expired".
func (c CertInfo) Left(now time.Time) string {
	d := c.NotAfter.Sub(now)
	switch {
	case d <= 0:
		return "expired"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Identity is the subject and its groups, as RBAC sees a client.
func (c CertInfo) Identity() string {
	if len(c.Groups) == 0 {
		return c.Subject
	}
	return c.Subject + " (" + strings.Join(c.Groups, ",") + ")"
}
