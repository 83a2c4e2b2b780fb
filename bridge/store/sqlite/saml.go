package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// ---- SAML service providers ----

// CreateSAMLServiceProvider stores a new SP (see store.SAMLStore): the entity id's primary key
// refuses a second registration of one entity id, however many run at once (sso.ErrConflict).
func (s *Store) CreateSAMLServiceProvider(ctx context.Context, sp *store.SAMLServiceProvider) error {
	created := sp.CreatedAt
	if created.IsZero() {
		created = s.clock()
	}
	// One writer at a time (writeTx): the checks and the write are one step against a client
	// or another SP registered with the same id at once.
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := appIDFree(ctx, tx, sp.ID, sp.EntityID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO saml_service_providers (entity_id, app_id, settings, metadata, created_at) VALUES (?, ?, ?, ?, ?)`,
			sp.EntityID, sp.ID, nonNil(sp.Settings), nonNil(sp.Metadata), ts(created))
		return err
	})
	return wrap("create saml service provider", err)
}

// appIDFree is nil when no client and no SP but entityID's (none: "") has the app id id, in
// tx; store.AppIDTaken otherwise. An empty id (an SP record written without one) is not checked.
func appIDFree(ctx context.Context, tx *sql.Tx, id, entityID string) error {
	if id == "" {
		return nil
	}
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM clients WHERE id = ?`, id).Scan(&other)
	if err == nil {
		return store.AppIDTaken(id, "an OpenID client")
	}
	if !isNoRows(err) {
		return err
	}
	return spAppIDFree(ctx, tx, id, entityID)
}

// spAppIDFree is nil when no SP but entityID's (none: "") has the app id id, in tx;
// store.AppIDTaken naming that SP otherwise (CreateClient's check, and appIDFree's).
func spAppIDFree(ctx context.Context, tx *sql.Tx, id, entityID string) error {
	var other string
	err := tx.QueryRowContext(ctx, `SELECT entity_id FROM saml_service_providers WHERE app_id = ? AND entity_id <> ? LIMIT 1`, id, entityID).Scan(&other)
	if err == nil {
		return store.AppIDTaken(id, "SAML service provider "+other)
	}
	if !isNoRows(err) {
		return err
	}
	return nil
}

func (s *Store) SAMLServiceProviders(ctx context.Context) ([]*store.SAMLServiceProvider, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT entity_id, app_id, settings, metadata, created_at FROM saml_service_providers ORDER BY entity_id`)
	if err != nil {
		return nil, wrap("saml service providers", err)
	}
	defer rows.Close()
	var out []*store.SAMLServiceProvider
	for rows.Next() {
		var (
			sp store.SAMLServiceProvider
			c  int64
		)
		if err := rows.Scan(&sp.EntityID, &sp.ID, &sp.Settings, &sp.Metadata, &c); err != nil {
			return nil, wrap("saml service providers", err)
		}
		sp.CreatedAt = tm(c)
		out = append(out, &sp)
	}
	return out, wrap("saml service providers", rows.Err())
}

// ReplaceSAMLServiceProvider gives an SP new settings and metadata while its record is still
// old's (see store.SAMLReplacer): one UPDATE whose WHERE is the compare-and-set, then, when it
// changed nothing, a read in the same transaction telling an unknown SP from a changed one.
func (s *Store) ReplaceSAMLServiceProvider(ctx context.Context, old *store.SAMLServiceProvider, settings, metadata []byte) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE saml_service_providers SET settings = ?, metadata = ?
			WHERE entity_id = ? AND settings = ? AND metadata = ?`,
			nonNil(settings), nonNil(metadata), old.EntityID, nonNil(old.Settings), nonNil(old.Metadata))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM saml_service_providers WHERE entity_id = ?`, old.EntityID).Scan(&one); err != nil {
			return err // sql.ErrNoRows: sso.ErrNotFound
		}
		return fmt.Errorf("its record changed since it was read: %w", sso.ErrConflict)
	})
	return wrap("replace saml service provider", err)
}

// DeleteSAMLServiceProvider removes an SP: DeleteSAMLServiceProviderCounted.
func (s *Store) DeleteSAMLServiceProvider(ctx context.Context, entityID string) error {
	_, err := s.DeleteSAMLServiceProviderCounted(ctx, entityID)
	return err
}

// DeleteSAMLServiceProviderCounted removes an SP with its participation in sessions and its
// events not delivered (pending, in flight, dead), in one transaction: an SP registered again
// under the entity id would be sent the old NameIDs and SessionIndexes otherwise. It returns how
// many of each it deleted, counted in the same transaction; sso.ErrNotFound when unknown.
func (s *Store) DeleteSAMLServiceProviderCounted(ctx context.Context, entityID string) (store.SAMLRemoval, error) {
	var r store.SAMLRemoval
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		r = store.SAMLRemoval{}
		count := func(n *int, q string, args ...any) error { return execCount(ctx, tx, n, q, args...) }
		var appID string
		if err := tx.QueryRowContext(ctx, `DELETE FROM saml_service_providers WHERE entity_id = ? RETURNING app_id`, entityID).Scan(&appID); err != nil {
			return err
		}
		if err := count(&r.Participations, `DELETE FROM saml_participants WHERE sp = ?`, entityID); err != nil {
			return err
		}
		if appID == "" {
			return nil // its events name no app: nothing to tell them from the others by
		}
		return count(&r.Events, `DELETE FROM outbox WHERE client_id = ? AND state <> 'delivered'`, appID)
	})
	if err != nil {
		return store.SAMLRemoval{}, wrap("delete saml service provider", err)
	}
	return r, nil
}

// ---- pending sign-ins ----

func (s *Store) CreateSAMLRequest(ctx context.Context, r *store.SAMLRequest) error {
	_, err := s.wexec(ctx, `INSERT INTO saml_requests (id, sp, request_id, acs_url, acs_binding, acs_index, relay_state,
		force_authn, is_passive, authn_comparison, authn_classes, name_id_format, browser, done, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		r.ID, r.SP, r.RequestID, r.ACSURL, r.ACSBinding, r.ACSIndex, r.RelayState, b2i(r.ForceAuthn), b2i(r.IsPassive),
		r.AuthnComparison, encList(r.AuthnClasses), r.NameIDFormat, r.Browser, ts(r.CreatedAt), ts(r.ExpiresAt))
	return wrap("create saml request", err)
}

func (s *Store) SAMLRequest(ctx context.Context, id string) (*store.SAMLRequest, error) {
	var (
		r                    store.SAMLRequest
		force, passive, done int
		c, e                 int64
		classes              string
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, sp, request_id, acs_url, acs_binding, acs_index, relay_state, force_authn,
		is_passive, authn_comparison, authn_classes, name_id_format, browser, done, created_at, expires_at FROM saml_requests
		WHERE id = ? AND expires_at > ?`, id, ts(s.clock())).
		Scan(&r.ID, &r.SP, &r.RequestID, &r.ACSURL, &r.ACSBinding, &r.ACSIndex, &r.RelayState, &force, &passive,
			&r.AuthnComparison, &classes, &r.NameIDFormat, &r.Browser, &done, &c, &e)
	if err != nil {
		return nil, wrap("saml request", err)
	}
	if r.AuthnClasses, err = decList(classes); err != nil {
		return nil, wrap("saml request", err)
	}
	r.ForceAuthn, r.IsPassive, r.Done = force != 0, passive != 0, done != 0
	r.CreatedAt, r.ExpiresAt = tm(c), tm(e)
	return &r, nil
}

func (s *Store) BindSAMLRequest(ctx context.Context, id, browser string) error {
	now := ts(s.clock())
	return wrap("bind saml request", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var (
			bound string
			done  int
		)
		err := tx.QueryRowContext(ctx, `SELECT browser, done FROM saml_requests WHERE id = ? AND expires_at > ?`, id, now).Scan(&bound, &done)
		if err != nil {
			return err
		}
		if done != 0 || (bound != "" && bound != browser) {
			return sso.ErrConflict
		}
		if bound == browser {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE saml_requests SET browser = ? WHERE id = ? AND browser = '' AND done = 0`, browser, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sso.ErrConflict
		}
		return nil
	}))
}

func (s *Store) CompleteSAMLRequest(ctx context.Context, id, browser string) error {
	now := ts(s.clock())
	res, err := s.wexec(ctx, `UPDATE saml_requests SET done = 1 WHERE id = ? AND expires_at > ? AND done = 0 AND browser = ? AND browser <> ''`,
		id, now, browser)
	if err != nil {
		return wrap("complete saml request", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.SAMLRequest(ctx, id); err != nil {
		return err
	}
	return wrap("complete saml request", sso.ErrConflict)
}

// ---- message ids ----

func (s *Store) UseSAMLMessageID(ctx context.Context, key string, expires time.Time) error {
	now := ts(s.clock())
	res, err := s.wexec(ctx, `INSERT INTO saml_message_ids (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE saml_message_ids.expires_at <= ?`,
		key, ts(expires), now)
	if err != nil {
		return wrap("use saml message id", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wrap("use saml message id", sso.ErrConflict)
	}
	return nil
}

// ---- participants ----

func (s *Store) AddSAMLParticipant(ctx context.Context, p *store.SAMLParticipant) error {
	created := p.CreatedAt
	if created.IsZero() {
		created = s.clock()
	}
	// Only to a live session's row (store.SAMLStore: not an ended one, not one the store does
	// not hold): the one writer either ran the end before, and nothing is written, or runs it
	// after, and the end reads this participant.
	res, err := s.wexec(ctx, `INSERT INTO saml_participants (session_id, sp, seq, name_id, name_id_format, session_index, created_at, expires_at)
		SELECT ?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM saml_participants WHERE session_id = ?1), ?3, ?4, ?5, ?6, ?7
		WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND ended = 0)
		ON CONFLICT (session_id, sp) DO UPDATE SET name_id = excluded.name_id, name_id_format = excluded.name_id_format,
			session_index = excluded.session_index, expires_at = excluded.expires_at`,
		p.SessionID, p.SP, p.NameID, p.NameIDFormat, p.SessionIndex, ts(created), ts(p.ExpiresAt))
	if err != nil {
		return wrap("add saml participant", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("add saml participant", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: add saml participant: the session has ended or is not stored: %w", sso.ErrNotFound)
	}
	return nil
}

const participantCols = `session_id, sp, name_id, name_id_format, session_index, created_at, expires_at`

func scanParticipants(rows *sql.Rows) ([]*store.SAMLParticipant, error) {
	defer rows.Close()
	var out []*store.SAMLParticipant
	for rows.Next() {
		var (
			p    store.SAMLParticipant
			c, e int64
		)
		if err := rows.Scan(&p.SessionID, &p.SP, &p.NameID, &p.NameIDFormat, &p.SessionIndex, &c, &e); err != nil {
			return nil, err
		}
		p.CreatedAt, p.ExpiresAt = tm(c), tm(e)
		out = append(out, &p)
	}
	return out, rows.Err()
}

func (s *Store) SAMLParticipants(ctx context.Context, sessionID string) ([]*store.SAMLParticipant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+participantCols+` FROM saml_participants WHERE session_id = ? AND expires_at > ? ORDER BY seq`,
		sessionID, ts(s.clock()))
	if err != nil {
		return nil, wrap("saml participants", err)
	}
	out, err := scanParticipants(rows)
	return out, wrap("saml participants", err)
}

func (s *Store) TakeSAMLParticipants(ctx context.Context, sessionID string) ([]*store.SAMLParticipant, error) {
	var out []*store.SAMLParticipant
	now := ts(s.clock())
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+participantCols+` FROM saml_participants WHERE session_id = ? AND expires_at > ? ORDER BY seq`,
			sessionID, now)
		if err != nil {
			return err
		}
		if out, err = scanParticipants(rows); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM saml_participants WHERE session_id = ?`, sessionID)
		return err
	})
	return out, wrap("take saml participants", err)
}

// ---- keys ----

func (s *Store) AddSAMLKey(ctx context.Context, k *store.SAMLKey) error {
	_, err := s.wexec(ctx, `INSERT INTO saml_keys (id, cert_der, private_enc, created_at, sign_until, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.CertDER, k.PrivateEnc, ts(k.CreatedAt), ts(k.SignUntil), ts(k.ExpiresAt))
	return wrap("add saml key", err)
}

// AddSAMLSuccessor stores k unless a key signs past k.CreatedAt (see store.SAMLStore): one
// statement on the write connection, which SQLite runs alone.
func (s *Store) AddSAMLSuccessor(ctx context.Context, k *store.SAMLKey) error {
	res, err := s.wexec(ctx, `INSERT INTO saml_keys (id, cert_der, private_enc, created_at, sign_until, expires_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM saml_keys WHERE sign_until > ?4)`,
		k.ID, k.CertDER, k.PrivateEnc, ts(k.CreatedAt), ts(k.SignUntil), ts(k.ExpiresAt))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			err = sso.ErrConflict
		}
		return wrap("add saml successor", err)
	}
	return nil
}

// RetireSAMLKey withdraws a live key now and stores its successor, if any, in the same
// transaction (see store.SAMLStore).
func (s *Store) RetireSAMLKey(ctx context.Context, id string, successor *store.SAMLKey) error {
	if successor != nil && (successor.ID == "" || len(successor.CertDER) == 0 || len(successor.PrivateEnc) == 0) {
		return errors.New("sqlite: retire saml key: successor without id or key material")
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := ts(s.clock())
		// SET reads the row's old values: expires_at becomes the new sign_until.
		res, err := tx.ExecContext(ctx, `UPDATE saml_keys SET sign_until = MIN(sign_until, ?1), expires_at = MIN(sign_until, ?1)
			WHERE id = ?2 AND expires_at > ?1 AND expires_at > sign_until`, now, id)
		if err := affectedOne(res, err); err != nil {
			if isNoRows(err) {
				return sso.ErrNotFound
			}
			return err
		}
		if k := successor; k != nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO saml_keys (id, cert_der, private_enc, created_at, sign_until, expires_at)
				VALUES (?, ?, ?, ?, ?, ?)`, k.ID, k.CertDER, k.PrivateEnc, ts(orNow(k.CreatedAt, tm(now))), ts(k.SignUntil), ts(k.ExpiresAt))
		}
		return err
	})
	return wrap("retire saml key", err)
}

func (s *Store) SAMLKeys(ctx context.Context) ([]*store.SAMLKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, cert_der, private_enc, created_at, sign_until, expires_at FROM saml_keys
		WHERE expires_at > ? ORDER BY created_at, id`, ts(s.clock()))
	if err != nil {
		return nil, wrap("saml keys", err)
	}
	defer rows.Close()
	var out []*store.SAMLKey
	for rows.Next() {
		var (
			k       store.SAMLKey
			c, u, e int64
		)
		if err := rows.Scan(&k.ID, &k.CertDER, &k.PrivateEnc, &c, &u, &e); err != nil {
			return nil, wrap("saml keys", err)
		}
		k.CreatedAt, k.SignUntil, k.ExpiresAt = tm(c), tm(u), tm(e)
		out = append(out, &k)
	}
	return out, wrap("saml keys", rows.Err())
}

// purgeSAML deletes expired SAML rows (Purge).
func (s *Store) purgeSAML(ctx context.Context, now int64) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM saml_requests WHERE expires_at <= ?`,
		`DELETE FROM saml_message_ids WHERE expires_at <= ?`,
		`DELETE FROM saml_participants WHERE expires_at <= ?`,
		`DELETE FROM saml_keys WHERE expires_at <= ?`,
	} {
		res, err := s.wexec(ctx, q, now)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
