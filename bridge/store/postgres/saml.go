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

// ---- SAML service providers ----

// CreateSAMLServiceProvider stores a new SP (see store.SAMLStore): the entity id's primary key
// refuses a second registration of one entity id, however many run at once (sso.ErrConflict).
func (s *Store) CreateSAMLServiceProvider(ctx context.Context, sp *store.SAMLServiceProvider) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAppIDs(ctx, tx); err != nil {
			return err
		}
		if err := appIDFree(ctx, tx, sp.ID, sp.EntityID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO saml_service_providers (entity_id, app_id, settings, metadata, created_at) VALUES ($1, $2, $3, $4, $5)`,
			sp.EntityID, sp.ID, nonNil(sp.Settings), nonNil(sp.Metadata), ts(orNow(sp.CreatedAt, s.clock())))
		return err
	})
	return wrap("create saml service provider", err)
}

// appIDsLock is the advisory lock key that serialises the registrations of apps (clients and
// SAML SPs; the bytes of "ssoappid"): a registration's check that no other app has its id and
// its write are one step, also at READ COMMITTED, where two transactions would each miss the
// other's row.
const appIDsLock int64 = 0x73736f6170706964

// lockAppIDs takes appIDsLock until tx ends.
func lockAppIDs(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, appIDsLock)
	return err
}

// appIDFree is nil when no client and no SP but entityID's (none: "") has the app id id, in
// tx (under appIDsLock); store.AppIDTaken otherwise. An empty id is not checked.
func appIDFree(ctx context.Context, tx pgx.Tx, id, entityID string) error {
	if id == "" {
		return nil
	}
	var other string
	err := tx.QueryRow(ctx, `SELECT id FROM clients WHERE id = $1`, id).Scan(&other)
	if err == nil {
		return store.AppIDTaken(id, "an OpenID client")
	}
	if !isNoRows(err) {
		return err
	}
	return spAppIDFree(ctx, tx, id, entityID)
}

// spAppIDFree is nil when no SP but entityID's (none: "") has the app id id, in tx (under
// appIDsLock); store.AppIDTaken naming that SP otherwise (CreateClient's check, and
// appIDFree's).
func spAppIDFree(ctx context.Context, tx pgx.Tx, id, entityID string) error {
	var other string
	err := tx.QueryRow(ctx, `SELECT entity_id FROM saml_service_providers WHERE app_id = $1 AND entity_id <> $2 LIMIT 1`, id, entityID).Scan(&other)
	if err == nil {
		return store.AppIDTaken(id, "SAML service provider "+other)
	}
	if !isNoRows(err) {
		return err
	}
	return nil
}

func (s *Store) SAMLServiceProviders(ctx context.Context) ([]*store.SAMLServiceProvider, error) {
	rows, err := s.pool.Query(ctx, `SELECT entity_id, app_id, settings, metadata, created_at FROM saml_service_providers ORDER BY entity_id COLLATE "C"`)
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
// old's (see store.SAMLReplacer): one UPDATE whose WHERE is the compare-and-set (the row lock
// makes a second replacement read from the same record find it changed), then, when it
// changed nothing, a read in the same transaction telling an unknown SP from a changed one.
func (s *Store) ReplaceSAMLServiceProvider(ctx context.Context, old *store.SAMLServiceProvider, settings, metadata []byte) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE saml_service_providers SET settings = $1, metadata = $2
			WHERE entity_id = $3 AND settings = $4 AND metadata = $5`,
			nonNil(settings), nonNil(metadata), old.EntityID, nonNil(old.Settings), nonNil(old.Metadata))
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM saml_service_providers WHERE entity_id = $1`, old.EntityID).Scan(&one); err != nil {
			return err // no rows: sso.ErrNotFound
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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		r = store.SAMLRemoval{}
		count := func(n *int, q string, args ...any) error { return execCount(ctx, tx, n, q, args...) }
		var appID string
		if err := tx.QueryRow(ctx, `DELETE FROM saml_service_providers WHERE entity_id = $1 RETURNING app_id`, entityID).Scan(&appID); err != nil {
			return err
		}
		if err := count(&r.Participations, `DELETE FROM saml_participants WHERE sp = $1`, entityID); err != nil {
			return err
		}
		if appID == "" {
			return nil // its events name no app: nothing to tell them from the others by
		}
		return count(&r.Events, `DELETE FROM outbox WHERE client_id = $1 AND state <> 'delivered'`, appID)
	})
	if err != nil {
		return store.SAMLRemoval{}, wrap("delete saml service provider", err)
	}
	return r, nil
}

// ---- pending sign-ins ----

func (s *Store) CreateSAMLRequest(ctx context.Context, r *store.SAMLRequest) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO saml_requests (id, sp, request_id, acs_url, acs_binding, acs_index, relay_state,
		force_authn, is_passive, authn_comparison, authn_classes, name_id_format, browser, done, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, FALSE, $14, $15)`,
		r.ID, r.SP, r.RequestID, r.ACSURL, r.ACSBinding, r.ACSIndex, r.RelayState, r.ForceAuthn, r.IsPassive,
		r.AuthnComparison, encList(r.AuthnClasses), r.NameIDFormat, r.Browser, ts(orNow(r.CreatedAt, s.clock())), ts(r.ExpiresAt))
	return wrap("create saml request", err)
}

func (s *Store) SAMLRequest(ctx context.Context, id string) (*store.SAMLRequest, error) {
	var (
		r       store.SAMLRequest
		c, e    int64
		classes string
	)
	err := s.pool.QueryRow(ctx, `SELECT id, sp, request_id, acs_url, acs_binding, acs_index, relay_state, force_authn,
		is_passive, authn_comparison, authn_classes, name_id_format, browser, done, created_at, expires_at FROM saml_requests
		WHERE id = $1 AND expires_at > $2`, id, ts(s.clock())).
		Scan(&r.ID, &r.SP, &r.RequestID, &r.ACSURL, &r.ACSBinding, &r.ACSIndex, &r.RelayState, &r.ForceAuthn, &r.IsPassive,
			&r.AuthnComparison, &classes, &r.NameIDFormat, &r.Browser, &r.Done, &c, &e)
	if err != nil {
		return nil, wrap("saml request", err)
	}
	if r.AuthnClasses, err = decList(classes); err != nil {
		return nil, wrap("saml request", err)
	}
	r.CreatedAt, r.ExpiresAt = tm(c), tm(e)
	return &r, nil
}

// BindSAMLRequest: the UPDATE is the compare-and-set; when it changes nothing, the row says why.
func (s *Store) BindSAMLRequest(ctx context.Context, id, browser string) error {
	now := ts(s.clock())
	err := execOne(ctx, s.pool, `UPDATE saml_requests SET browser = $1 WHERE id = $2 AND expires_at > $3 AND NOT done
		AND (browser = '' OR browser = $1)`, browser, id, now)
	if !isNoRows(err) {
		return wrap("bind saml request", err)
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT TRUE FROM saml_requests WHERE id = $1 AND expires_at > $2`, id, now).Scan(&exists); err != nil {
		return wrap("bind saml request", err)
	}
	return wrap("bind saml request", sso.ErrConflict)
}

func (s *Store) CompleteSAMLRequest(ctx context.Context, id, browser string) error {
	now := ts(s.clock())
	err := execOne(ctx, s.pool, `UPDATE saml_requests SET done = TRUE WHERE id = $1 AND expires_at > $2 AND NOT done
		AND browser = $3 AND browser <> ''`, id, now, browser)
	if !isNoRows(err) {
		return wrap("complete saml request", err)
	}
	if _, err := s.SAMLRequest(ctx, id); err != nil {
		return err
	}
	return wrap("complete saml request", sso.ErrConflict)
}

// ---- message ids ----

func (s *Store) UseSAMLMessageID(ctx context.Context, key string, expires time.Time) error {
	err := execOne(ctx, s.pool, `INSERT INTO saml_message_ids (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE saml_message_ids.expires_at <= $3`,
		key, ts(expires), ts(s.clock()))
	if isNoRows(err) {
		return wrap("use saml message id", sso.ErrConflict)
	}
	return wrap("use saml message id", err)
}

// ---- participants ----

func (s *Store) AddSAMLParticipant(ctx context.Context, p *store.SAMLParticipant) error {
	// Only to a live session's row (store.SAMLStore: not an ended one, not one the store does
	// not hold): the session's row is read FOR SHARE, which waits for an end in progress (its
	// UPDATE holds the row) and then reads it ended; an end that comes after waits for this
	// statement's commit, and then reads this participant.
	tag, err := s.pool.Exec(ctx, `WITH sess AS (SELECT ended FROM sessions WHERE id = $1 FOR SHARE)
		INSERT INTO saml_participants (session_id, sp, name_id, name_id_format, session_index, created_at, expires_at)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint
		WHERE NOT COALESCE((SELECT ended FROM sess), TRUE)
		ON CONFLICT (session_id, sp) DO UPDATE SET name_id = excluded.name_id, name_id_format = excluded.name_id_format,
			session_index = excluded.session_index, expires_at = excluded.expires_at`,
		p.SessionID, p.SP, p.NameID, p.NameIDFormat, p.SessionIndex, ts(orNow(p.CreatedAt, s.clock())), ts(p.ExpiresAt))
	if err != nil {
		return wrap("add saml participant", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: add saml participant: the session has ended or is not stored: %w", sso.ErrNotFound)
	}
	return nil
}

const participantCols = `session_id, sp, name_id, name_id_format, session_index, created_at, expires_at`

func scanParticipants(rows pgx.Rows) ([]*store.SAMLParticipant, error) {
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
	rows, err := s.pool.Query(ctx, `SELECT `+participantCols+` FROM saml_participants WHERE session_id = $1 AND expires_at > $2 ORDER BY seq`,
		sessionID, ts(s.clock()))
	if err != nil {
		return nil, wrap("saml participants", err)
	}
	out, err := scanParticipants(rows)
	return out, wrap("saml participants", err)
}

// TakeSAMLParticipants deletes and returns in one statement: of two callers, one gets each row.
func (s *Store) TakeSAMLParticipants(ctx context.Context, sessionID string) ([]*store.SAMLParticipant, error) {
	rows, err := s.pool.Query(ctx, `WITH taken AS (DELETE FROM saml_participants WHERE session_id = $1 RETURNING `+participantCols+`, seq)
		SELECT `+participantCols+` FROM taken WHERE expires_at > $2 ORDER BY seq`, sessionID, ts(s.clock()))
	if err != nil {
		return nil, wrap("take saml participants", err)
	}
	out, err := scanParticipants(rows)
	return out, wrap("take saml participants", err)
}

// ---- keys ----

func (s *Store) AddSAMLKey(ctx context.Context, k *store.SAMLKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO saml_keys (id, cert_der, private_enc, created_at, sign_until, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.CertDER, k.PrivateEnc, ts(k.CreatedAt), ts(k.SignUntil), ts(k.ExpiresAt))
	return wrap("add saml key", err)
}

// AddSAMLSuccessor stores k unless a key signs past k.CreatedAt (see store.SAMLStore). The
// table is locked against other writers for the check and the insert (readers go on): at READ
// COMMITTED two transactions would both see no such key and both insert.
func (s *Store) AddSAMLSuccessor(ctx context.Context, k *store.SAMLKey) error {
	return wrap("add saml successor", s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE saml_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO saml_keys (id, cert_der, private_enc, created_at, sign_until, expires_at)
			SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM saml_keys WHERE sign_until > $4)`,
			k.ID, k.CertDER, k.PrivateEnc, ts(k.CreatedAt), ts(k.SignUntil), ts(k.ExpiresAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return sso.ErrConflict
		}
		return nil
	}))
}

// RetireSAMLKey withdraws a live key now and stores its successor, if any, in the same
// transaction (see store.SAMLStore and retireKey). Other replicas hear of it on ChangesChannel.
func (s *Store) RetireSAMLKey(ctx context.Context, id string, successor *store.SAMLKey) error {
	if successor == nil {
		return wrap("retire saml key", s.retireKey(ctx, "saml_keys", id, "", nil))
	}
	k := successor
	if k.ID == "" || len(k.CertDER) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("postgres: retire saml key: successor without id or key material")
	}
	return wrap("retire saml key", s.retireKey(ctx, "saml_keys", id,
		`INSERT INTO saml_keys (id, cert_der, private_enc, created_at, sign_until, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		func(now time.Time) []any {
			return []any{k.ID, k.CertDER, k.PrivateEnc, ts(orNow(k.CreatedAt, now)), ts(k.SignUntil), ts(k.ExpiresAt)}
		}))
}

func (s *Store) SAMLKeys(ctx context.Context) ([]*store.SAMLKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, cert_der, private_enc, created_at, sign_until, expires_at FROM saml_keys
		WHERE expires_at > $1 ORDER BY created_at, id COLLATE "C"`, ts(s.clock()))
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
