package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcd's own access control.
//
// etcd admits only certificates of its own CA (see EtcdConfig), and with
// auth enabled it takes a client certificate's common name as the user name
// and checks every request against that user's roles. The API server's
// identity holds the root role; each tenant's API server gets a user whose
// one role may read and write only its tenant's key prefix, so a tenant's
// control plane cannot reach the super cluster's data or another tenant's
// even with its own etcd certificate in hand.

// etcdRootUser must exist, with the root role, before etcd lets auth be
// enabled. Nobody logs in as it: it has no password and no certificate is
// issued for it.
const etcdRootUser = "root"

// EnsureEtcdAuth gives the API server's identity the root role and turns
// etcd's auth on. It is idempotent and safe on a member whose auth is
// already on.
func EnsureEtcdAuth(ctx context.Context, cli *clientv3.Client) error {
	status, err := cli.AuthStatus(ctx)
	if err != nil {
		return fmt.Errorf("etcd auth status: %w", err)
	}
	if status.Enabled {
		return nil
	}
	for _, user := range []string{etcdRootUser, EtcdClientName} {
		if err := ensureEtcdUser(ctx, cli, user, "root"); err != nil {
			return err
		}
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("enable etcd auth: %w", err)
	}
	return nil
}

// enableEtcdAuth is EnsureEtcdAuth on the member of `myriad up`.
func enableEtcdAuth(ctx context.Context, certs Certs, ports []int) error {
	c, err := EtcdClient(certs, ports...)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return EnsureEtcdAuth(ctx, c)
}

// GrantEtcdPrefix makes user (a certificate common name) a user whose only
// role reads and writes keys under prefix.
func GrantEtcdPrefix(ctx context.Context, cli *clientv3.Client, user, prefix string) error {
	role := user
	if _, err := cli.RoleAdd(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("etcd role %s: %w", role, err)
	}
	if _, err := cli.RoleGrantPermission(ctx, role, prefix, clientv3.GetPrefixRangeEnd(prefix),
		clientv3.PermissionType(authpb.READWRITE)); err != nil {
		return fmt.Errorf("etcd role %s: grant %s: %w", role, prefix, err)
	}
	return ensureEtcdUser(ctx, cli, user, role)
}

// RevokeEtcdUser deletes user and its role. Missing ones are no error.
func RevokeEtcdUser(ctx context.Context, cli *clientv3.Client, user string) error {
	if _, err := cli.UserDelete(ctx, user); err != nil && !errors.Is(err, rpctypes.ErrUserNotFound) {
		return fmt.Errorf("etcd user %s: %w", user, err)
	}
	if _, err := cli.RoleDelete(ctx, user); err != nil && !errors.Is(err, rpctypes.ErrRoleNotFound) {
		return fmt.Errorf("etcd role %s: %w", user, err)
	}
	return nil
}

// ensureEtcdUser adds a password-less user (it authenticates by
// certificate only) and grants it role.
func ensureEtcdUser(ctx context.Context, cli *clientv3.Client, user, role string) error {
	if _, err := cli.UserAddWithOptions(ctx, user, "", &clientv3.UserAddOptions{NoPassword: true}); err != nil &&
		!errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return fmt.Errorf("etcd user %s: %w", user, err)
	}
	if _, err := cli.UserGrantRole(ctx, user, role); err != nil {
		return fmt.Errorf("etcd user %s: grant role %s: %w", user, role, err)
	}
	return nil
}
