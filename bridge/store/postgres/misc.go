package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// ChangesChannel is the LISTEN/NOTIFY channel on which the store announces, in the transaction
// that makes them, changes that other replicas cache: the payload is "clients" (a dynamic client
// was created, updated or deleted) or "keys" (a signing key was added). A notification is sent
// only when the transaction commits.
const ChangesChannel = "ssobridge_changes"

// Change payloads on ChangesChannel.
const (
	ChangedClients = "clients"
	ChangedKeys    = "keys"
)

func notify(ctx context.Context, tx pgx.Tx, what string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ChangesChannel, what)
	return err
}

// ---- signing keys ----

// SigningKeys returns every key not yet past ExpiresAt, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]*sso.StoredKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, algorithm, public_jwk, private_enc, created_at, sign_until,
		expires_at FROM signing_keys WHERE expires_at > $1 ORDER BY created_at, id COLLATE "C"`, ts(s.clock()))
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	out, err := collect(rows, func(row pgx.Row) (*sso.StoredKey, error) {
		var (
			k                             sso.StoredKey
			created, signUntil, expiresAt int64
		)
		if err := row.Scan(&k.ID, &k.Algorithm, &k.PublicJWK, &k.PrivateEnc, &created, &signUntil, &expiresAt); err != nil {
			return nil, err
		}
		k.CreatedAt, k.SignUntil, k.ExpiresAt = tm(created), tm(signUntil), tm(expiresAt)
		return &k, nil
	})
	return out, wrap("signing keys", err)
}

// AddSigningKey stores a key; ErrConflict when the id exists. Other replicas hear of it on
// ChangesChannel.
func (s *Store) AddSigningKey(ctx context.Context, k *sso.StoredKey) error {
	if k == nil || k.ID == "" {
		return errors.New("postgres: add signing key: empty id")
	}
	if len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("postgres: add signing key: missing key material")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc,
			created_at, sign_until, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, ts(orNow(k.CreatedAt, s.clock())), ts(k.SignUntil), ts(k.ExpiresAt)); err != nil {
			return err
		}
		return notify(ctx, tx, ChangedKeys)
	})
	return wrap("add signing key", err)
}

// AddSigningKeySuccessor stores k unless a key of its algorithm signs past k.CreatedAt (see
// sso.KeyStore). The table is locked against other writers for the check and the insert
// (readers go on): at READ COMMITTED two transactions would both see no such key and both
// insert.
func (s *Store) AddSigningKeySuccessor(ctx context.Context, k *sso.StoredKey) error {
	if k == nil || k.ID == "" {
		return errors.New("postgres: add signing key: empty id")
	}
	if len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("postgres: add signing key: missing key material")
	}
	created := ts(orNow(k.CreatedAt, s.clock()))
	return wrap("add signing key successor", s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc, created_at, sign_until, expires_at)
			SELECT $1, $2, $3, $4, $5, $6, $7
			WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = $2 AND sign_until > $5)`,
			k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, created, ts(k.SignUntil), ts(k.ExpiresAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return sso.ErrConflict
		}
		return notify(ctx, tx, ChangedKeys)
	}))
}

// ExtendSigningKey moves a live key's expires_at to expiresAt when that is later (see
// sso.KeyStore): expires_at = GREATEST(expires_at, $2); ErrNotFound for an unknown or expired
// key. Other replicas hear of an actual extension on ChangesChannel (one whose configuration
// has the lower lifetime then keeps the key too).
func (s *Store) ExtendSigningKey(ctx context.Context, id string, expiresAt time.Time) error {
	return wrap("extend signing key", s.tx(ctx, func(tx pgx.Tx) error {
		var was int64
		err := tx.QueryRow(ctx, `SELECT expires_at FROM signing_keys
			WHERE id = $1 AND expires_at > $2 AND expires_at > sign_until FOR UPDATE`,
			id, ts(s.clock())).Scan(&was)
		if isNoRows(err) {
			return sso.ErrNotFound
		}
		if err != nil {
			return err
		}
		if ts(expiresAt) <= was {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET expires_at = $2 WHERE id = $1`, id, ts(expiresAt)); err != nil {
			return err
		}
		return notify(ctx, tx, ChangedKeys)
	}))
}

// RetireSigningKey withdraws a live key now and stores its successor, if any, in the same
// transaction (see sso.KeyStore and retireKey). Other replicas hear of it on ChangesChannel.
func (s *Store) RetireSigningKey(ctx context.Context, id string, successor *sso.StoredKey) error {
	if successor == nil {
		return wrap("retire signing key", s.retireKey(ctx, "signing_keys", id, "", nil))
	}
	k := successor
	if k.ID == "" || len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("postgres: retire signing key: successor without id or key material")
	}
	return wrap("retire signing key", s.retireKey(ctx, "signing_keys", id,
		`INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc, created_at, sign_until, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		func(now time.Time) []any {
			return []any{k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, ts(orNow(k.CreatedAt, now)), ts(k.SignUntil), ts(k.ExpiresAt)}
		}))
}

// retireKey is RetireSigningKey's and RetireSAMLKey's transaction: it withdraws the live key id
// of table (signing_keys, saml_keys) now, by the store's clock, and runs insert (the successor's
// INSERT, none when "") with args(now), then tells the other replicas; sso.ErrNotFound when no
// live key that is not withdrawn has the id.
//
// A rotation (AddSigningKeySuccessor, AddSAMLSuccessor) runs after or before the whole of it,
// as if one at a time: the UPDATE takes the table's ROW EXCLUSIVE lock, which conflicts with
// the SHARE ROW EXCLUSIVE lock a rotation holds from its check to its commit. A rotation that
// comes second sees the successor and stores nothing; one that came first has stored its key,
// which publishes ahead of its turn beside the successor, as it would after a withdrawal done
// later (TestKeyRetireRotationRace).
func (s *Store) retireKey(ctx context.Context, table, id, insert string, args func(now time.Time) []any) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		now := ts(s.clock())
		// SET reads the row's old values: expires_at becomes the new sign_until.
		err := execOne(ctx, tx, `UPDATE `+table+` SET sign_until = LEAST(sign_until, $1), expires_at = LEAST(sign_until, $1)
			WHERE id = $2 AND expires_at > $1 AND expires_at > sign_until`, now, id)
		if isNoRows(err) {
			return sso.ErrNotFound
		}
		if err != nil {
			return err
		}
		if insert != "" {
			if _, err := tx.Exec(ctx, insert, args(tm(now))...); err != nil {
				return err
			}
		}
		return notify(ctx, tx, ChangedKeys)
	})
}

// ---- clients ----

const bumpClientsVersion = `UPDATE counters SET value = value + 1 WHERE name = 'clients_version'`

func scanClient(row pgx.Row) (*sso.StoredClient, error) {
	var (
		c                sso.StoredClient
		created, updated int64
	)
	if err := row.Scan(&c.ID, &c.Config, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = tm(created), tm(updated)
	return &c, nil
}

// Client returns a dynamic client; ErrNotFound when unknown.
func (s *Store) Client(ctx context.Context, id string) (*sso.StoredClient, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT id, config, created_at, updated_at FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, wrap("client", err)
	}
	return c, nil
}

// Clients returns every dynamic client ordered by id.
func (s *Store) Clients(ctx context.Context) ([]*sso.StoredClient, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, config, created_at, updated_at FROM clients ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, wrap("clients", err)
	}
	out, err := collect(rows, scanClient)
	return out, wrap("clients", err)
}

// clientChanged bumps ClientsVersion and tells the other replicas, in tx.
func clientChanged(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, bumpClientsVersion); err != nil {
		return err
	}
	return notify(ctx, tx, ChangedClients)
}

// CreateClient stores a client and bumps ClientsVersion; ErrConflict when the id exists.
func (s *Store) CreateClient(ctx context.Context, c *sso.StoredClient) error {
	if c == nil || c.ID == "" {
		return errors.New("postgres: create client: empty id")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// A SAML SP's id is not a client's (store.ErrAppIDTaken), checked under the lock an SP's
		// registration takes; another client's is the primary key's conflict.
		if err := lockAppIDs(ctx, tx); err != nil {
			return err
		}
		if err := spAppIDFree(ctx, tx, c.ID, ""); err != nil {
			return err
		}
		created := orNow(c.CreatedAt, s.clock())
		if _, err := tx.Exec(ctx, `INSERT INTO clients (id, config, created_at, updated_at) VALUES ($1, $2, $3, $4)`,
			c.ID, nonNil(c.Config), ts(created), ts(orNow(c.UpdatedAt, created))); err != nil {
			return err
		}
		return clientChanged(ctx, tx)
	})
	return wrap("create client", err)
}

// UpdateClient replaces a client's config (CreatedAt is kept) and bumps ClientsVersion;
// ErrNotFound when the id does not exist.
func (s *Store) UpdateClient(ctx context.Context, c *sso.StoredClient) error {
	if c == nil {
		return errors.New("postgres: update client: nil client")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := execOne(ctx, tx, `UPDATE clients SET config = $1, updated_at = $2 WHERE id = $3`,
			nonNil(c.Config), ts(orNow(c.UpdatedAt, s.clock())), c.ID); err != nil {
			return err
		}
		return clientChanged(ctx, tx)
	})
	return wrap("update client", err)
}

// DeleteClient deletes a client (idempotent): DeleteClientCounted.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	_, err := s.DeleteClientCounted(ctx, id)
	return err
}

// execCount runs the statement q in tx and sets *n to the rows it changed: a deletion that
// says what it deleted (DeleteClientCounted, DeleteSAMLServiceProviderCounted).
func execCount(ctx context.Context, tx pgx.Tx, n *int, q string, args ...any) error {
	tag, err := tx.Exec(ctx, q, args...)
	*n = int(tag.RowsAffected())
	return err
}

// deleteClientConsentsSQL and deleteClientSessionsSQL delete client $1's consents and places in
// sessions (DeleteClientCounted), by the indexes of migration 24; deleteClientRequestsSQL and
// deleteClientDevicesSQL its sign-in requests and device authorizations, by those of
// migration 25.
const (
	deleteClientConsentsSQL = `DELETE FROM consents WHERE client_id = $1`
	deleteClientSessionsSQL = `DELETE FROM session_clients WHERE client_id = $1`
	deleteClientRequestsSQL = `DELETE FROM auth_requests WHERE client_id = $1`
	deleteClientDevicesSQL  = `DELETE FROM device_authorizations WHERE client_id = $1`
)

// DeleteClientCounted deletes a client (idempotent) with every member's consent to it, its
// outbox events not delivered, its place in every session, its provisioned users (shadow
// records), its sign-in requests and device authorizations, revokes every family issued to it, and bumps ClientsVersion when it existed; it
// returns how many of each it deleted, counted in the same transaction.
func (s *Store) DeleteClientCounted(ctx context.Context, id string) (store.ClientRemoval, error) {
	var r store.ClientRemoval
	err := s.tx(ctx, func(tx pgx.Tx) error {
		r = store.ClientRemoval{}
		count := func(n *int, q string, args ...any) error { return execCount(ctx, tx, n, q, args...) }
		// Every member's consent goes with the client: a client registered later under the
		// same id is another app, which asks each member again.
		if err := count(&r.Consents, deleteClientConsentsSQL, id); err != nil {
			return err
		}
		// So does every grant issued to it, those without a refresh token too: the old app's
		// access tokens must not come back to life with a client registered again. The live
		// ones with a refresh token are counted, as RevokeGrants counts.
		var err error
		if r.Grants, err = revokeGrantsCounted(ctx, tx, "", id, s.clock()); err != nil {
			return err
		}
		// And every event queued for it and not delivered (pending, in flight, dead): the
		// events' keys name the client id, and an app registered again under it would be sent
		// the old app's logouts and provisioning (or get them from a retry of a dead one).
		if err := count(&r.Events, `DELETE FROM outbox WHERE client_id = $1 AND state <> 'delivered'`, id); err != nil {
			return err
		}
		// Its place in every session, and its provisioned users: an app registered again under
		// the id would be sent the old app's back-channel logouts when those sessions end, and
		// find the old app's digests (nothing provisioned) and user ids (PUT /Users/<old id>).
		if err := count(&r.Sessions, deleteClientSessionsSQL, id); err != nil {
			return err
		}
		if err := count(&r.ShadowUsers, `DELETE FROM shadow_users WHERE client_id = $1`, id); err != nil {
			return err
		}
		// Its sign-in requests (pending ones, issued codes not redeemed) and device
		// authorizations: sso refuses them once the client is gone, but an app registered again
		// under the id would find the old app's requests live until they expire.
		if err := count(&r.Requests, deleteClientRequestsSQL, id); err != nil {
			return err
		}
		if err := count(&r.Devices, deleteClientDevicesSQL, id); err != nil {
			return err
		}
		if err := execOne(ctx, tx, `DELETE FROM clients WHERE id = $1`, id); err != nil {
			if isNoRows(err) {
				return nil
			}
			return err
		}
		r.Existed = true
		return clientChanged(ctx, tx)
	})
	if err != nil {
		return store.ClientRemoval{}, wrap("delete client", err)
	}
	return r, nil
}

// ClientsVersion returns a counter bumped in the same transaction as every client change.
func (s *Store) ClientsVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'clients_version'`).Scan(&v); err != nil {
		return 0, wrap("clients version", err)
	}
	return v, nil
}

// ---- secrets ----

// EnsureSecret returns the secret named name, storing value first if there is none yet. The
// first stored value wins forever, also across replicas racing to create it: the losers' INSERT
// waits for the winner's commit and does nothing, and their SELECT (a new statement, so a new
// snapshot under READ COMMITTED) reads the winner's value.
func (s *Store) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if name == "" || len(value) == 0 {
		return nil, errors.New("postgres: ensure secret: empty name or value")
	}
	var stored []byte
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, value, ts(s.clock())); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&stored)
	})
	if err != nil {
		return nil, wrap("ensure secret "+name, err)
	}
	return stored, nil
}

// ReplaceSecret sets the secret to value when it is old (compare-and-set).
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, value []byte) error {
	if name == "" || len(value) == 0 {
		return errors.New("postgres: replace secret: empty name or value")
	}
	err := execOne(ctx, s.pool, `UPDATE secrets SET value = $1 WHERE name = $2 AND value = $3`, value, name, nonNil(old))
	return wrap("replace secret "+name, err)
}

// ---- purge ----

// purgeBatch bounds how many rows one purge statement deletes, so that no statement holds many
// row locks or runs for long.
const purgeBatch = 1000

// purgeBatches runs a DELETE whose $1 is the cut-off and $2 the batch size until a batch
// deletes fewer than purgeBatch rows; it returns how many it deleted.
func (s *Store) purgeBatches(ctx context.Context, sql string, cutoff int64) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, sql, cutoff, purgeBatch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatch {
			return total, nil
		}
	}
}

// Purge deletes rows expired before now: auth requests (with their codes, once the code has
// expired too), token families past their end (with their legacy token hashes), access-token
// revocations past the token's expiry, ended or expired sessions (with their clients), expired
// signing keys, expired hand-off replay guards, pending upstream sign-ins and upstream session
// records, throttle counters past their window and lock, and enrolment invitations expired or
// used. It deletes in bounded batches,
// each its own transaction, and returns how many rows
// it deleted.
func (s *Store) Purge(ctx context.Context, now time.Time) (int64, error) {
	queries := []struct{ what, q string }{
		{"auth requests", `DELETE FROM auth_requests WHERE id IN (SELECT id FROM auth_requests
			WHERE expires_at <= $1 AND code_expires <= $1 LIMIT $2)`},
		{"sessions", `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= $1 OR ended LIMIT $2)`},
		{"signing keys", `DELETE FROM signing_keys WHERE id IN (SELECT id FROM signing_keys WHERE expires_at <= $1 LIMIT $2)`},
		// A family's grant goes with its state (one family, counted once).
		{"token families", `WITH d AS (DELETE FROM families WHERE family_id IN (SELECT family_id FROM families
			WHERE expires_at <= $1 LIMIT $2) RETURNING family_id)
			DELETE FROM family_grants WHERE family_id IN (SELECT family_id FROM d)`},
		{"legacy refresh tokens", `DELETE FROM legacy_refresh_tokens WHERE hash IN (SELECT hash FROM legacy_refresh_tokens
			WHERE expires_at <= $1 LIMIT $2)`},
		{"revoked access tokens", `DELETE FROM revoked_access_tokens WHERE id_hash IN (SELECT id_hash FROM revoked_access_tokens
			WHERE expires_at <= $1 LIMIT $2)`},
		{"hand-off tokens", `DELETE FROM handoff_tokens WHERE hash IN (SELECT hash FROM handoff_tokens WHERE expires_at <= $1 LIMIT $2)`},
		{"upstream logins", `DELETE FROM upstream_logins WHERE id IN (SELECT id FROM upstream_logins WHERE expires_at <= $1 LIMIT $2)`},
		{"upstream sessions", `DELETE FROM upstream_sessions WHERE session_id IN (SELECT session_id FROM upstream_sessions
			WHERE expires_at <= $1 LIMIT $2)`},
		{"mfa challenges", `DELETE FROM mfa_challenges WHERE id_hash IN (SELECT id_hash FROM mfa_challenges
			WHERE expires_at <= $1 LIMIT $2)`},
		{"saml requests", `DELETE FROM saml_requests WHERE id IN (SELECT id FROM saml_requests WHERE expires_at <= $1 LIMIT $2)`},
		{"saml message ids", `DELETE FROM saml_message_ids WHERE key IN (SELECT key FROM saml_message_ids WHERE expires_at <= $1 LIMIT $2)`},
		{"saml participants", `DELETE FROM saml_participants WHERE (session_id, sp) IN (SELECT session_id, sp FROM saml_participants
			WHERE expires_at <= $1 LIMIT $2)`},
		{"saml keys", `DELETE FROM saml_keys WHERE id IN (SELECT id FROM saml_keys WHERE expires_at <= $1 LIMIT $2)`},
		{"throttle counters", `DELETE FROM throttle_counters WHERE key IN (SELECT key FROM throttle_counters
			WHERE expires_at <= $1 LIMIT $2)`},
		{"console sessions", `DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions
			WHERE expires_at <= $1 LIMIT $2)`},
		// At most one unused row per member, and a used one serves nothing (its audit rows say
		// it was used): no expiry index, the scan is of a small table.
		{"enrolment invitations", `DELETE FROM enrolment_invites WHERE hash IN (SELECT hash FROM enrolment_invites
			WHERE expires_at <= $1 OR used_at <> 0 LIMIT $2)`},
	}
	var total int64
	for _, q := range queries {
		n, err := s.purgeBatches(ctx, q.q, ts(now))
		total += n
		if err != nil {
			return total, fmt.Errorf("postgres: purge %s: %w", q.what, err)
		}
	}
	return total, nil
}
