package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/myriad-dev/myriad/pkg/controlplane/pki"
)

// CertReport reads every certificate of a data directory: the cluster's in
// pki/ and each tenant's in tenants/NAME/pki/. File names are relative to
// the data directory.
func CertReport(d DataDir) ([]pki.CertInfo, error) {
	files, err := certFiles(d)
	if err != nil {
		return nil, err
	}
	out := make([]pki.CertInfo, 0, len(files))
	for _, f := range files {
		info, err := pki.Inspect(f)
		if err != nil {
			return nil, fmt.Errorf("read certificate: %w", err)
		}
		if rel, err := filepath.Rel(d.Root, f); err == nil {
			info.File = rel
		}
		out = append(out, info)
	}
	return out, nil
}

func certFiles(d DataDir) ([]string, error) {
	var files []string
	for _, pattern := range []string{filepath.Join(d.PKI(), "*.crt"), filepath.Join(d.TenantDir("*"), "pki", "*.crt")} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

// RenewCerts re-issues every certificate of a stopped cluster that is not
// a CA, with a new key and a year's validity: the cluster's and its
// tenants' now, and those only `myriad up` issues (the simulated kubelets'
// serving bundle) at its next start, which also rewrites the kubeconfigs.
// CAs are kept, so everything that trusts them keeps working. It takes the
// data directory's lock: certificates change under no running process.
func RenewCerts(d DataDir) ([]pki.CertInfo, error) {
	if _, fresh, err := d.Inspect(0); err != nil {
		return nil, err
	} else if fresh {
		return nil, fmt.Errorf("%s holds no cluster; pass the --data-dir of 'myriad up'", d.Root)
	}
	release, err := d.Lock()
	if err != nil {
		return nil, fmt.Errorf("%w (certificates are renewed while the cluster is stopped)", err)
	}
	defer release()
	before, err := CertReport(d)
	if err != nil {
		return nil, err
	}
	for _, c := range before {
		if !c.IsCA {
			if err := os.Remove(filepath.Join(d.Root, c.File)); err != nil {
				return nil, err
			}
		}
	}
	if _, err := EnsureCerts(d); err != nil {
		return nil, err
	}
	tenants, err := filepath.Glob(d.TenantDir("*"))
	if err != nil {
		return nil, err
	}
	for _, dir := range tenants {
		if _, err := os.Stat(filepath.Join(dir, "pki", "ca.crt")); err != nil {
			continue // not a tenant (yet): its host issues all at creation
		}
		if _, err := EnsureTenantCerts(dir, d.PKI(), filepath.Base(dir), tenantAddress(dir)); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", filepath.Base(dir), err)
		}
	}
	return CertReport(d)
}

// caWarnBefore: a CA with less than a year left cannot back a year's
// leaf; `myriad up` says so at every start from then on.
const caWarnBefore = 365 * 24 * time.Hour

// CAWarnings are one line per certificate authority of the cluster with
// less than caWarnBefore left at now. Renewing a CA changes what every
// client trusts, so Myriad never does it on its own.
func CAWarnings(report []pki.CertInfo, now time.Time) []string {
	var out []string
	for _, c := range report {
		if c.IsCA && !strings.HasPrefix(c.File, "tenants") && now.Add(caWarnBefore).After(c.NotAfter) {
			out = append(out, fmt.Sprintf("certificate authority %s (%s) expires %s (%s left); certificates it issues end with it",
				c.File, c.Subject, c.NotAfter.Format("2006-01-02"), c.Left(now)))
		}
	}
	return out
}
