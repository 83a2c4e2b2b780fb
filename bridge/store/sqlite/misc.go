package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// ---- signing keys ----

// SigningKeys returns every key not yet past ExpiresAt, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]*sso.StoredKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, algorithm, public_jwk, private_enc, created_at, sign_until,
		expires_at FROM signing_keys WHERE expires_at > ? ORDER BY created_at, id`, ts(s.clock()))
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	defer rows.Close()
	var out []*sso.StoredKey
	for rows.Next() {
		var (
			k                             sso.StoredKey
			created, signUntil, expiresAt int64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PublicJWK, &k.PrivateEnc, &created, &signUntil, &expiresAt); err != nil {
			return nil, wrap("signing keys", err)
		}
		k.CreatedAt, k.SignUntil, k.ExpiresAt = tm(created), tm(signUntil), tm(expiresAt)
		out = append(out, &k)
	}
	return out, wrap("signing keys", rows.Err())
}

// AddSigningKey stores a key; ErrConflict when the id exists.
func (s *Store) AddSigningKey(ctx context.Context, k *sso.StoredKey) error {
	if k == nil || k.ID == "" {
		return errors.New("sqlite: add signing key: empty id")
	}
	if len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("sqlite: add signing key: missing key material")
	}
	_, err := s.wexec(ctx, `INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc,
		created_at, sign_until, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, ts(orNow(k.CreatedAt, s.clock())), ts(k.SignUntil), ts(k.ExpiresAt))
	return wrap("add signing key", err)
}

// AddSigningKeySuccessor stores k unless a key of its algorithm signs past k.CreatedAt (see
// sso.KeyStore): one statement on the write connection, which SQLite runs alone.
func (s *Store) AddSigningKeySuccessor(ctx context.Context, k *sso.StoredKey) error {
	if k == nil || k.ID == "" {
		return errors.New("sqlite: add signing key: empty id")
	}
	if len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("sqlite: add signing key: missing key material")
	}
	res, err := s.wexec(ctx, `INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc, created_at, sign_until, expires_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
		WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = ?2 AND sign_until > ?5)`,
		k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, ts(orNow(k.CreatedAt, s.clock())), ts(k.SignUntil), ts(k.ExpiresAt))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			err = sso.ErrConflict
		}
		return wrap("add signing key successor", err)
	}
	return nil
}

// ExtendSigningKey moves a live key's expires_at to expiresAt when that is later (see
// sso.KeyStore): one statement, expires_at = max(expires_at, ?); ErrNotFound for an unknown,
// expired or withdrawn key.
func (s *Store) ExtendSigningKey(ctx context.Context, id string, expiresAt time.Time) error {
	res, err := s.wexec(ctx, `UPDATE signing_keys SET expires_at = MAX(expires_at, ?1)
		WHERE id = ?2 AND expires_at > ?3 AND expires_at > sign_until`,
		ts(expiresAt), id, ts(s.clock()))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			err = sso.ErrNotFound
		}
		return wrap("extend signing key", err)
	}
	return nil
}

// RetireSigningKey withdraws a live key now and stores its successor, if any, in the same
// transaction (see sso.KeyStore).
func (s *Store) RetireSigningKey(ctx context.Context, id string, successor *sso.StoredKey) error {
	if successor != nil && (successor.ID == "" || len(successor.PublicJWK) == 0 || len(successor.PrivateEnc) == 0) {
		return errors.New("sqlite: retire signing key: successor without id or key material")
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := ts(s.clock())
		// SET reads the row's old values: expires_at becomes the new sign_until.
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET sign_until = MIN(sign_until, ?1), expires_at = MIN(sign_until, ?1)
			WHERE id = ?2 AND expires_at > ?1 AND expires_at > sign_until`, now, id)
		if err := affectedOne(res, err); err != nil {
			if isNoRows(err) {
				return sso.ErrNotFound
			}
			return err
		}
		if successor == nil {
			return nil
		}
		k := successor
		_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, public_jwk, private_enc,
			created_at, sign_until, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, ts(orNow(k.CreatedAt, tm(now))), ts(k.SignUntil), ts(k.ExpiresAt))
		return err
	})
	return wrap("retire signing key", err)
}

// ---- clients ----

const bumpClientsVersion = `UPDATE counters SET value = value + 1 WHERE name = 'clients_version'`

func scanClient(row scanner) (*sso.StoredClient, error) {
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
	c, err := scanClient(s.r.QueryRowContext(ctx, `SELECT id, config, created_at, updated_at FROM clients WHERE id = ?`, id))
	if err != nil {
		return nil, wrap("client", err)
	}
	return c, nil
}

// Clients returns every dynamic client ordered by id.
func (s *Store) Clients(ctx context.Context) ([]*sso.StoredClient, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, config, created_at, updated_at FROM clients ORDER BY id`)
	if err != nil {
		return nil, wrap("clients", err)
	}
	defer rows.Close()
	var out []*sso.StoredClient
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, wrap("clients", err)
		}
		out = append(out, c)
	}
	return out, wrap("clients", rows.Err())
}

// CreateClient stores a client and bumps ClientsVersion; ErrConflict when the id exists.
func (s *Store) CreateClient(ctx context.Context, c *sso.StoredClient) error {
	if c == nil || c.ID == "" {
		return errors.New("sqlite: create client: empty id")
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := s.clock()
		created := orNow(c.CreatedAt, now)
		// A SAML SP's id is not a client's (store.ErrAppIDTaken); another client's is the
		// primary key's conflict.
		if err := spAppIDFree(ctx, tx, c.ID, ""); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO clients (id, config, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			c.ID, nonNil(c.Config), ts(created), ts(orNow(c.UpdatedAt, created))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, bumpClientsVersion)
		return err
	})
	return wrap("create client", err)
}

// UpdateClient replaces a client's config (CreatedAt is kept) and bumps ClientsVersion;
// ErrNotFound when the id does not exist.
func (s *Store) UpdateClient(ctx context.Context, c *sso.StoredClient) error {
	if c == nil {
		return errors.New("sqlite: update client: nil client")
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE clients SET config = ?, updated_at = ? WHERE id = ?`,
			nonNil(c.Config), ts(orNow(c.UpdatedAt, s.clock())), c.ID)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, bumpClientsVersion)
		return err
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
func execCount(ctx context.Context, tx *sql.Tx, n *int, q string, args ...any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	m, err := res.RowsAffected()
	*n = int(m)
	return err
}

// DeleteClientCounted deletes a client (idempotent) with every member's consent to it, its
// outbox events not delivered, its place in every session, its provisioned users (shadow
// records), its sign-in requests and device authorizations, revokes every family issued to it, and bumps ClientsVersion when it existed; it
// returns how many of each it deleted, counted in the same transaction. The rows no index finds
// by client are walked on the read pool first and deleted by key (clientRowSets); those the
// client got during the walk are deleted right after, in a second transaction.
func (s *Store) DeleteClientCounted(ctx context.Context, id string) (store.ClientRemoval, error) {
	keys, _, err := s.clientRowKeys(ctx, id)
	if err != nil {
		return store.ClientRemoval{}, wrap("delete client", err)
	}
	if s.testAfterClientWalk != nil {
		s.testAfterClientWalk()
	}
	var r store.ClientRemoval
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		r = store.ClientRemoval{}
		// Every member's consent goes with the client: a client registered later under the
		// same id is another app, which asks each member again. So does every grant issued
		// to it, those without a refresh token too: the old app's access tokens must not come
		// back to life with a client registered again. The live ones with a refresh token are
		// counted, as RevokeGrants counts.
		var err error
		if r.Grants, err = revokeGrantsCounted(ctx, tx, "", id, s.clock()); err != nil {
			return err
		}
		// And every event queued for it and not delivered (pending, in flight, dead): the
		// events' keys name the client id, and an app registered again under it would be sent
		// the old app's logouts and provisioning (or get them from a retry of a dead one).
		// Its place in every session: an app registered again under the id would be sent the
		// old app's back-channel logouts when those sessions end. Its sign-in requests
		// (pending ones, issued codes not redeemed) and device authorizations: sso refuses
		// them once the client is gone, but an app registered again under the id would find
		// the old app's requests live until they expire. (clientRowSets, by key.)
		if err := deleteClientRows(ctx, tx, id, keys, &r); err != nil {
			return err
		}
		// Its provisioned users: an app registered again under the id would find the old
		// app's digests (nothing provisioned) and user ids (PUT /Users/<old id>).
		if err := execCount(ctx, tx, &r.ShadowUsers, `DELETE FROM shadow_users WHERE client_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err := affectedOne(res, err); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}
		r.Existed = true
		_, err = tx.ExecContext(ctx, bumpClientsVersion)
		return err
	})
	if err != nil {
		return store.ClientRemoval{}, wrap("delete client", err)
	}
	if err := s.sweepClientRows(ctx, id, &r); err != nil {
		return r, wrap("delete client: rows it got during the removal", err)
	}
	return r, nil
}

// ClientsVersion returns a counter bumped in the same transaction as every client change.
func (s *Store) ClientsVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'clients_version'`).Scan(&v)
	if err != nil {
		return 0, wrap("clients version", err)
	}
	return v, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ---- secrets ----

// EnsureSecret returns the secret named name, storing value first if there is none yet. The
// first stored value wins forever, also across processes racing to create it.
func (s *Store) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if name == "" || len(value) == 0 {
		return nil, errors.New("sqlite: ensure secret: empty name or value")
	}
	var stored []byte
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, value, ts(s.clock())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&stored)
	})
	if err != nil {
		return nil, wrap("ensure secret "+name, err)
	}
	return bytes.Clone(stored), nil
}

// ReplaceSecret sets the secret to value when it is old (compare-and-set).
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, value []byte) error {
	if name == "" || len(value) == 0 {
		return errors.New("sqlite: replace secret: empty name or value")
	}
	res, err := s.wexec(ctx, `UPDATE secrets SET value = ? WHERE name = ? AND value = ?`, value, name, old)
	return wrap("replace secret "+name, affectedOne(res, err))
}

// ---- purge ----

// purgeBatch bounds how many rows one purge statement deletes, so that the write lock is never
// held for long.
const purgeBatch = 1000

// Purge deletes rows expired before now: auth requests (with their codes, once the code has
// expired too), token families past their end (with their legacy token hashes), access-token
// revocations past the token's expiry, ended or expired sessions
// (with their clients), expired signing keys, expired hand-off replay guards, pending upstream
// sign-ins, upstream session records, throttle counters past their window and lock, and
// enrolment invitations expired or used. It deletes in
// bounded batches, each in its own transaction, and returns how many rows it deleted.
func (s *Store) Purge(ctx context.Context, now time.Time) (int64, error) {
	n := ts(now)
	queries := []struct {
		what, q string
	}{
		{"signing keys", `DELETE FROM signing_keys WHERE rowid IN (SELECT rowid FROM signing_keys
			WHERE expires_at <= ?1 LIMIT ?2)`},
		{"upstream logins", `DELETE FROM upstream_logins WHERE rowid IN (SELECT rowid FROM upstream_logins
			WHERE expires_at <= ?1 LIMIT ?2)`},
		{"upstream sessions", `DELETE FROM upstream_sessions WHERE rowid IN (SELECT rowid FROM upstream_sessions
			WHERE expires_at <= ?1 LIMIT ?2)`},
		{"mfa challenges", `DELETE FROM mfa_challenges WHERE id_hash IN (SELECT id_hash FROM mfa_challenges
			WHERE expires_at <= ?1 LIMIT ?2)`},
		{"throttle counters", `DELETE FROM throttle_counters WHERE key IN (SELECT key FROM throttle_counters
			WHERE expires_at <= ?1 LIMIT ?2)`},
		{"console sessions", `DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions
			WHERE expires_at <= ?1 LIMIT ?2)`},
		// At most one unused row per member, and a used one serves nothing (its audit rows say it
		// was used): no expiry index, the scan is of a small table.
		{"enrolment invitations", `DELETE FROM enrolment_invites WHERE hash IN (SELECT hash FROM enrolment_invites
			WHERE expires_at <= ?1 OR used_at <> 0 LIMIT ?2)`},
	}
	var total int64
	for _, q := range queries {
		for {
			res, err := s.wexec(ctx, q.q, n, purgeBatch)
			if err != nil {
				return total, fmt.Errorf("sqlite: purge %s: %w", q.what, err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("sqlite: purge %s: %w", q.what, err)
			}
			total += k
			if k < purgeBatch {
				break
			}
		}
	}
	// The tables a sign-in or a grant writes have no expiry index (it would cost a page write
	// per sign-in or grant): walk them in key order on the read pool and delete what expired by
	// key, a batch per transaction.
	for _, tbl := range []struct{ what, table, key, expired, also string }{
		{"auth requests", "auth_requests", "id", "expires_at <= ?2 AND code_expires <= ?2", ""},
		{"sessions", "sessions", "id", "(expires_at <= ?2 OR ended = 1)", ""},
		// A family's grant goes with its state (one family, counted once).
		{"token families", "families", "family_id", "", `DELETE FROM family_grants WHERE family_id = ?`},
		{"legacy refresh tokens", "legacy_refresh_tokens", "hash", "", ""},
		{"revoked access tokens", "revoked_access_tokens", "id_hash", "", ""},
		{"hand-off tokens", "handoff_tokens", "hash", "", ""},
	} {
		k, err := s.purgeByKey(ctx, tbl.table, tbl.key, tbl.expired, tbl.also, n)
		total += k
		if err != nil {
			return total, fmt.Errorf("sqlite: purge %s: %w", tbl.what, err)
		}
	}
	k, err := s.purgeSAML(ctx, n)
	total += k
	if err != nil {
		return total, fmt.Errorf("sqlite: purge saml: %w", err)
	}
	return total, nil
}

// purgeByKey deletes the rows of table that match expired (SQL with ?2 for now; default
// expires_at <= ?2), walking the table in key order on the read pool (no index needed) and
// deleting each batch by key in its own write transaction, where the condition is checked again.
// When also is not empty, it runs with the key of each row deleted, in the same transaction (the
// rows of another table that belong to it).
func (s *Store) purgeByKey(ctx context.Context, table, key, expired, also string, now int64) (int64, error) {
	var (
		total int64
		after string
		batch = make([]string, 0, purgeBatch)
	)
	if expired == "" {
		expired = `expires_at <= ?2`
	}
	sel := `SELECT ` + key + ` FROM ` + table + ` WHERE ` + key + ` > ?1 AND ` + expired + ` ORDER BY ` + key + ` LIMIT ?3`
	del := `DELETE FROM ` + table + ` WHERE ` + key + ` = ?1 AND ` + expired
	for {
		batch = batch[:0]
		rows, err := s.r.QueryContext(ctx, sel, after, now, purgeBatch)
		if err != nil {
			return total, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return total, err
			}
			batch = append(batch, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		var deleted int64
		err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			deleted = 0 // a run again (writeTx) starts afresh
			stmt, err := tx.PrepareContext(ctx, del)
			if err != nil {
				return err
			}
			defer stmt.Close()
			var alsoStmt *sql.Stmt
			if also != "" {
				if alsoStmt, err = tx.PrepareContext(ctx, also); err != nil {
					return err
				}
				defer alsoStmt.Close()
			}
			for _, k := range batch {
				res, err := stmt.ExecContext(ctx, k, now)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				deleted += n
				if n > 0 && alsoStmt != nil {
					if _, err := alsoStmt.ExecContext(ctx, k); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += deleted
		if len(batch) < purgeBatch {
			return total, nil
		}
		after = batch[len(batch)-1]
	}
}
