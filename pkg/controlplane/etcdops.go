package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Operating the embedded etcd: `myriad etcd status|defrag|disarm`, and the
// NOSPACE check `myriad up` makes.
//
// When etcd's database reaches its quota it raises the NOSPACE alarm and
// refuses every write but deletes and compactions until someone disarms
// it, and the alarm is stored in etcd's own data: it survives a restart,
// even one with a larger quota. Upstream leaves clearing it to etcdctl;
// Myriad owns the member, so it says what happened in one line and offers
// the three steps (compact, defragment, disarm) itself.

// EtcdClient connects to etcd on ports (a member's client port each; the
// client fails over between them) with the API server's etcd identity
// from certs, the one that holds etcd's root role (see etcdauth.go).
func EtcdClient(certs Certs, ports ...int) (*clientv3.Client, error) {
	return EtcdClientAs(certs.EtcdCA, certs.EtcdClientCert, certs.EtcdClientKey, ports...)
}

// EtcdClientAs connects to etcd on ports as the identity of a certificate
// of etcd's CA.
func EtcdClientAs(caFile, certFile, keyFile string, ports ...int) (*clientv3.Client, error) {
	if len(ports) == 0 {
		return nil, errors.New("etcd client: no member port")
	}
	return etcdClientAt(caFile, certFile, keyFile, etcdEndpoints(ports))
}

// EtcdDialer connects to one member's client URL as the API server's etcd
// identity (the one a promotion must be sent to the leader with).
func (certs Certs) EtcdDialer() func(endpoint string) (*clientv3.Client, error) {
	return func(endpoint string) (*clientv3.Client, error) {
		return etcdClientAt(certs.EtcdCA, certs.EtcdClientCert, certs.EtcdClientKey, []string{endpoint})
	}
}

func etcdClientAt(caFile, certFile, keyFile string, endpoints []string) (*clientv3.Client, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("etcd CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("etcd CA %s holds no certificate", caFile)
	}
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		TLS:         &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		// Expected refusals (a role that exists) are errors returned, not
		// lines for the user.
		Logger: zap.NewNop(),
	})
}

func etcdEndpoints(ports []int) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = etcdURL(p)
	}
	return out
}

// EtcdState is what `myriad etcd status` shows of the member.
type EtcdState struct {
	Endpoint string
	Version  string
	// DBSize is the database file; DBSizeInUse what its live data takes
	// (the rest is free pages a defragmentation returns); Quota the size
	// at which etcd raises NOSPACE.
	DBSize, DBSizeInUse, Quota int64
	Revision                   int64
	// Alarms are etcd's raised alarms ("NOSPACE", "CORRUPT").
	Alarms []string
}

// NoSpace says whether etcd refuses writes for lack of space.
func (s EtcdState) NoSpace() bool {
	return slices.Contains(s.Alarms, etcdserverpb.AlarmType_NOSPACE.String())
}

// ReadEtcdState asks the member for its status and alarms.
func ReadEtcdState(ctx context.Context, c *clientv3.Client) (EtcdState, error) {
	ep := c.Endpoints()[0]
	st, err := c.Status(ctx, ep)
	if err != nil {
		return EtcdState{}, fmt.Errorf("etcd status: %w", err)
	}
	out := EtcdState{Endpoint: ep, Version: st.Version, DBSize: st.DbSize, DBSizeInUse: st.DbSizeInUse, Quota: st.DbSizeQuota, Revision: st.Header.Revision}
	alarms, err := c.AlarmList(ctx)
	if err != nil {
		return out, fmt.Errorf("etcd alarms: %w", err)
	}
	for _, a := range alarms.Alarms {
		out.Alarms = append(out.Alarms, a.Alarm.String())
	}
	return out, nil
}

// CompactAndDefrag compacts history up to the current revision and
// defragments every member's database, one member at a time as etcd
// advises (a member answers nothing while it defragments), returning the
// largest database before and after: the one nearest NOSPACE. The API
// server compacts on its own every 5 minutes; this is for a member that
// hit its quota and must shrink now.
func CompactAndDefrag(ctx context.Context, c *clientv3.Client) (before, after int64, err error) {
	var rev int64
	for _, ep := range c.Endpoints() {
		st, err := c.Status(ctx, ep)
		if err != nil {
			return 0, 0, fmt.Errorf("etcd status of %s: %w", ep, err)
		}
		before, rev = max(before, st.DbSize), max(rev, st.Header.Revision)
	}
	if _, err := c.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, context.Canceled) &&
		!strings.Contains(err.Error(), "required revision has been compacted") {
		return before, 0, fmt.Errorf("etcd compaction: %w", err)
	}
	for _, ep := range c.Endpoints() {
		if _, err := c.Defragment(ctx, ep); err != nil {
			return before, 0, fmt.Errorf("etcd defragmentation of %s: %w", ep, err)
		}
		st, err := c.Status(ctx, ep)
		if err != nil {
			return before, 0, fmt.Errorf("etcd status of %s: %w", ep, err)
		}
		after = max(after, st.DbSize)
	}
	return before, after, nil
}

// DisarmEtcd clears every raised alarm and returns what it cleared. A
// NOSPACE alarm comes back at the next write if the database is still
// over its quota, so it is refused here with what to do first.
func DisarmEtcd(ctx context.Context, c *clientv3.Client) ([]string, error) {
	st, err := ReadEtcdState(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := disarmable(st); err != nil {
		return nil, err
	}
	if _, err := c.AlarmDisarm(ctx, &clientv3.AlarmMember{}); err != nil {
		return nil, fmt.Errorf("etcd disarm: %w", err)
	}
	return st.Alarms, nil
}

// disarmable refuses to clear a NOSPACE alarm the database still
// justifies: it would be raised again at the next write.
func disarmable(st EtcdState) error {
	if st.NoSpace() && st.Quota > 0 && st.DBSize >= st.Quota {
		return fmt.Errorf("etcd's database (%s) still fills its quota (%s): run 'myriad etcd defrag' first, or restart 'myriad up' with a larger --etcd-quota", mib(st.DBSize), mib(st.Quota))
	}
	return nil
}

// clearOnStart says whether `myriad up` may clear a NOSPACE alarm by
// itself: the database is well below its quota now (a larger
// --etcd-quota, or a defragmentation since).
func clearOnStart(st EtcdState) bool {
	return st.NoSpace() && st.Quota > 0 && st.DBSize < st.Quota*9/10
}

// NoSpaceAdvice is the one line `myriad up` prints when etcd refuses
// writes for lack of space, or "" when it does not.
func NoSpaceAdvice(st EtcdState, dataDir string) string {
	if !st.NoSpace() {
		return ""
	}
	return fmt.Sprintf("etcd is out of space (NOSPACE alarm: database %s, quota %s) and refuses writes: run 'myriad etcd defrag --data-dir %s' and then 'myriad etcd disarm --data-dir %s', or restart with a larger --etcd-quota and disarm",
		mib(st.DBSize), mib(st.Quota), dataDir, dataDir)
}

// checkEtcdSpace is `myriad up`'s look at a NOSPACE alarm before anything
// writes: an alarm left from before a larger --etcd-quota (or a
// defragmentation) is cleared, saying so; one the database still
// justifies stops `up` with the line that says what to do.
func checkEtcdSpace(ctx context.Context, dir DataDir, certs Certs, ports []int, out io.Writer) error {
	c, err := EtcdClient(certs, ports...)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := ReadEtcdState(ctx, c)
	if err != nil {
		return err
	}
	advice := NoSpaceAdvice(st, dir.Root)
	switch {
	case advice == "":
		return nil
	case clearOnStart(st):
		if _, err := c.AlarmDisarm(ctx, &clientv3.AlarmMember{}); err != nil {
			return fmt.Errorf("etcd: clear the NOSPACE alarm: %w", err)
		}
		fmt.Fprintf(out, "  etcd's NOSPACE alarm cleared: the database (%s) is below its quota (%s) now\n", mib(st.DBSize), mib(st.Quota))
		return nil
	}
	return errors.New(advice)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
