// Package pki owns the certificate authority of one Myriad data directory and
// every key and certificate issued from it. It writes private keys 0600 and
// never reuses a key across identities: each component gets its own, so RBAC
// can give each the least privilege it needs.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/myriad-dev/myriad/pkg/durable"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Validity of issued certificates, as kubeadm's: CAs ten years, every
// other certificate one. A leaf is re-issued at a start within RenewBefore
// of its expiry, and `myriad certs renew` re-issues them all at once.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
)

// CA is a certificate authority loaded from or written to disk.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertFile is where the CA certificate lives, for flags like --client-ca-file.
	CertFile string
}

// Request describes one certificate to issue.
type Request struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Server       bool
	Client       bool
}

// LoadOrCreateCA returns the CA stored as <dir>/<name>.crt/.key, creating it
// when neither file exists. A half-present pair is an error: it means someone
// edited the directory and guessing would silently break trust.
func LoadOrCreateCA(dir, name, commonName string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certOK, keyOK := exists(certFile), exists(keyFile)
	switch {
	case certOK && keyOK:
		return loadCA(certFile, keyFile)
	case certOK != keyOK:
		return nil, fmt.Errorf("%s: only one of %s.crt and %s.key exists; remove both to regenerate the CA", dir, name, name)
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"myriad"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePair(certFile, keyFile, cert, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertFile: certFile}, nil
}

// EnsureCert issues <dir>/<name>.crt/.key signed by ca unless a valid pair
// signed by this CA already exists. It returns the two file paths.
func (ca *CA) EnsureCert(dir, name string, req Request) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if ca.stillValid(certFile, keyFile, req) {
		return certFile, keyFile, nil
	}
	key, err := newKey()
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: req.CommonName, Organization: req.Organization},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPs,
	}
	if req.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return "", "", fmt.Errorf("issue certificate %s: %w", name, err)
	}
	cert, _ := x509.ParseCertificate(der)
	return certFile, keyFile, writePair(certFile, keyFile, cert, key)
}

// EnsureServingBundle keeps <dir>/<name>.crt, a PEM file of serving
// certificates signed by ca, one per address in ips and all for the one key
// <dir>/<name>.key, unless it lacks an address or is not this CA's; then it
// issues them all anew. One certificate per address keeps each small (a
// handshake sends one address, not thousands) and verifiable by address,
// which is how the API server checks a kubelet's certificate. Issuing is
// ~50µs an address, so 10,000 take a fraction of a second.
func (ca *CA) EnsureServingBundle(dir, name string, ips []net.IP) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if ca.bundleCovers(certFile, keyFile, ips) {
		return certFile, keyFile, nil
	}
	key, err := newKey()
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	out := make([]byte, 0, len(ips)*700)
	for _, ip := range ips {
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: "kubelet-serving " + ip.String(), Organization: []string{"myriad"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(leafValidity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses:  []net.IP{ip},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
		if err != nil {
			return "", "", fmt.Errorf("issue serving certificate for %s: %w", ip, err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return "", "", err
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, writeFile(certFile, out, 0o644)
}

// bundleCovers reports whether the bundle names every address, is signed by
// this CA and is far from expiry.
func (ca *CA) bundleCovers(certFile, keyFile string, ips []net.IP) bool {
	if !exists(keyFile) {
		return false
	}
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil || len(certs) < len(ips) {
		return false
	}
	have := make(map[string]bool, len(certs))
	for _, c := range certs {
		for _, ip := range c.IPAddresses {
			have[ip.String()] = true
		}
	}
	for _, ip := range ips {
		if !have[ip.String()] {
			return false
		}
	}
	c := certs[0]
	return time.Now().Add(RenewBefore).Before(c.NotAfter) && c.CheckSignatureFrom(ca.Cert) == nil
}

// EnsureKeyPair writes a bare key pair (the service-account token signer) as
// <dir>/<name>.key and <dir>/<name>.pub unless it exists.
func EnsureKeyPair(dir, name string) (privFile, pubFile string, err error) {
	privFile, pubFile = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if exists(privFile) && exists(pubFile) {
		return privFile, pubFile, nil
	}
	key, err := newKey()
	if err != nil {
		return "", "", err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return "", "", err
	}
	pubPEM, err := pemPublicKey(key.Public())
	if err != nil {
		return "", "", err
	}
	if err := writeFile(privFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return privFile, pubFile, writeFile(pubFile, pubPEM, 0o644)
}

// stillValid keeps a certificate only if it is signed by this CA, far from
// expiry, and names everything req asks for (e.g. a new --bind-address).
func (ca *CA) stillValid(certFile, keyFile string, req Request) bool {
	if !exists(keyFile) {
		return false
	}
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil || len(certs) == 0 {
		return false
	}
	c := certs[0]
	if time.Now().Add(RenewBefore).After(c.NotAfter) || c.Subject.CommonName != req.CommonName ||
		!slices.Equal(c.Subject.Organization, req.Organization) {
		return false // groups changed too: an identity moved out of system:masters must lose it
	}
	for _, ip := range req.IPs {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, name := range req.DNSNames {
		if !slices.Contains(c.DNSNames, name) {
			return false
		}
	}
	return c.CheckSignatureFrom(ca.Cert) == nil
}

func loadCA(certFile, keyFile string) (*CA, error) {
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyAny, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	key, ok := keyAny.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key cannot sign")
	}
	return &CA{Cert: certs[0], Key: key, CertFile: certFile}, nil
}

func writePair(certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	// Key first: a crash in between leaves a key without a cert, which the
	// next start treats as "reissue" rather than trusting a stale cert.
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// newKey makes an ECDSA P-256 key: every Kubernetes component accepts it and
// it is generated in microseconds, unlike RSA, so a first start stays fast.
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeFile writes durably and atomically, so a crash or power cut never
// leaves a truncated key that the next start would fail to parse.
func writeFile(path string, data []byte, mode os.FileMode) error {
	return durable.WriteFile(path, data, mode)
}

func pemPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
