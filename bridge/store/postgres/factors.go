package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// The second factors (store.FactorStore), with the SQLite backend's compare-and-set predicates.

// MFAUserHandle returns the member's WebAuthn user handle, storing handle when there is none.
func (s *Store) MFAUserHandle(ctx context.Context, subject string, handle []byte) ([]byte, error) {
	var out []byte
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO mfa_members (subject, user_handle) VALUES ($1, $2)
			ON CONFLICT (subject) DO NOTHING`, subject, handle); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT user_handle FROM mfa_members WHERE subject = $1`, subject).Scan(&out)
	})
	return out, wrap("mfa user handle", err)
}

// SubjectByUserHandle finds the member of a WebAuthn user handle.
func (s *Store) SubjectByUserHandle(ctx context.Context, handle []byte) (string, error) {
	var sub string
	err := s.pool.QueryRow(ctx, `SELECT subject FROM mfa_members WHERE user_handle = $1`, handle).Scan(&sub)
	return sub, wrap("subject by user handle", err)
}

// PutTOTP stores a pending TOTP factor unless a confirmed one exists.
func (s *Store) PutTOTP(ctx context.Context, f *store.TOTPFactor) error {
	err := execOne(ctx, s.pool, `INSERT INTO totp_factors (subject, secret_sealed, confirmed, last_step, created_at)
		VALUES ($1, $2, FALSE, 0, $3)
		ON CONFLICT (subject) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0,
			created_at = excluded.created_at WHERE NOT totp_factors.confirmed`,
		f.Subject, f.SecretSealed, ts(orNow(f.CreatedAt, s.clock())))
	if isNoRows(err) {
		return fmt.Errorf("postgres: put totp: %w", sso.ErrConflict)
	}
	return wrap("put totp", err)
}

// TOTP returns the member's TOTP factor.
func (s *Store) TOTP(ctx context.Context, subject string) (*store.TOTPFactor, error) {
	f := &store.TOTPFactor{Subject: subject}
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT secret_sealed, confirmed, last_step, created_at FROM totp_factors
		WHERE subject = $1`, subject).Scan(&f.SecretSealed, &f.Confirmed, &f.LastStep, &created)
	if err != nil {
		return nil, wrap("totp", err)
	}
	f.CreatedAt = tm(created)
	return f, nil
}

// ConfirmTOTP confirms the pending factor with this sealed secret and replaces the recovery codes.
func (s *Store) ConfirmTOTP(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string) error {
	return wrap("confirm totp", s.tx(ctx, func(tx pgx.Tx) error {
		return confirmTOTP(ctx, tx, subject, sealed, step, recoveryHashes)
	}))
}

func confirmTOTP(ctx context.Context, tx pgx.Tx, subject string, sealed []byte, step int64, recoveryHashes []string) error {
	if err := execOne(ctx, tx, `UPDATE totp_factors SET confirmed = TRUE, last_step = $1
		WHERE subject = $2 AND NOT confirmed AND secret_sealed = $3`, step, subject, sealed); err != nil {
		return err
	}
	return replaceRecoveryCodes(ctx, tx, subject, recoveryHashes)
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, subject string, hashes []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE subject = $1`, subject); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (subject, hash) VALUES ($1, $2)`, subject, h); err != nil {
			return err
		}
	}
	return nil
}

// ConfirmTOTPInvited confirms a first TOTP factor and uses the member's invitation, in one
// transaction.
func (s *Store) ConfirmTOTPInvited(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string, inviteHash string, at time.Time) error {
	at = orNow(at, s.clock())
	return wrap("confirm totp invited", s.tx(ctx, func(tx pgx.Tx) error {
		if err := useInvite(ctx, tx, subject, inviteHash, at); err != nil {
			return err
		}
		return confirmTOTP(ctx, tx, subject, sealed, step, recoveryHashes)
	}))
}

// ConfirmTOTPNotFirst confirms the pending factor with this sealed secret only while the
// member has a WebAuthn credential, and replaces the recovery codes. The credential the
// confirmation found stays locked (FOR KEY SHARE) until the transaction ends: a removal that
// races it waits for the commit, and one committed first leaves no row to find (the lock
// re-reads it), so the factor is never confirmed beside a factor removed meanwhile.
func (s *Store) ConfirmTOTPNotFirst(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string) error {
	return wrap("confirm totp not first", s.tx(ctx, func(tx pgx.Tx) error {
		err := execOne(ctx, tx, `UPDATE totp_factors SET confirmed = TRUE, last_step = $1
			WHERE subject = $2 AND NOT confirmed AND secret_sealed = $3
				AND EXISTS (SELECT 1 FROM webauthn_credentials WHERE subject = $2 FOR KEY SHARE)`, step, subject, sealed)
		if isNoRows(err) {
			// Why: no such pending factor (sso.ErrNotFound), or no other factor beside it.
			var pending bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM totp_factors
				WHERE subject = $1 AND NOT confirmed AND secret_sealed = $2)`, subject, sealed).Scan(&pending); err != nil {
				return err
			}
			if pending {
				return store.ErrFirstFactor
			}
			return err
		} else if err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, subject, recoveryHashes)
	}))
}

// useInvite uses the member's unused, unexpired invitation of hash in tx (the row's lock holds
// a concurrent use until this transaction ends, which then finds it used); store.ErrNoInvite
// when there is none.
func useInvite(ctx context.Context, tx pgx.Tx, subject, hash string, at time.Time) error {
	err := execOne(ctx, tx, `UPDATE enrolment_invites SET used_at = $1
		WHERE hash = $2 AND subject = $3 AND used_at = 0 AND expires_at > $1`, ts(at), hash, subject)
	if isNoRows(err) {
		return store.ErrNoInvite
	}
	return err
}

// UseTOTPStep records step as used when it is after the last one.
func (s *Store) UseTOTPStep(ctx context.Context, subject string, step int64) error {
	err := execOne(ctx, s.pool, `UPDATE totp_factors SET last_step = $1 WHERE subject = $2 AND confirmed AND last_step < $1`,
		step, subject)
	if !isNoRows(err) {
		return wrap("use totp step", err)
	}
	if f, ferr := s.TOTP(ctx, subject); ferr == nil && f.Confirmed {
		return fmt.Errorf("postgres: use totp step: %w", sso.ErrConflict)
	}
	return fmt.Errorf("postgres: use totp step: %w", sso.ErrNotFound)
}

// DeleteTOTP removes the TOTP factor and the recovery codes.
func (s *Store) DeleteTOTP(ctx context.Context, subject string) error {
	return wrap("delete totp", s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM totp_factors WHERE subject = $1`, subject); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE subject = $1`, subject)
		return err
	}))
}

// UseRecoveryCode spends one recovery code, once.
func (s *Store) UseRecoveryCode(ctx context.Context, subject, hash string, at time.Time) error {
	return wrap("use recovery code", execOne(ctx, s.pool, `UPDATE recovery_codes SET used_at = $1
		WHERE subject = $2 AND hash = $3 AND used_at = 0`, ts(orNow(at, s.clock())), subject, hash))
}

// RecoveryCodesLeft counts the unspent recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, subject string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE subject = $1 AND used_at = 0`, subject).Scan(&n)
	return n, wrap("recovery codes left", err)
}

// AddWebAuthnCredential stores a new credential.
func (s *Store) AddWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential) error {
	if len(c.ID) == 0 || c.Subject == "" {
		return errors.New("postgres: add webauthn credential: empty id or subject")
	}
	_, err := s.pool.Exec(ctx, addWebAuthnCredential, s.webAuthnCredentialArgs(c)...)
	return wrap("add webauthn credential", err)
}

const addWebAuthnCredential = `INSERT INTO webauthn_credentials (id, subject, name, data, sign_count, backup_eligible,
	backup_state, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func (s *Store) webAuthnCredentialArgs(c *store.WebAuthnCredential) []any {
	return []any{c.ID, c.Subject, c.Name, nonNil(c.Data), int64(c.SignCount), c.BackupEligible, c.BackupState,
		ts(orNow(c.CreatedAt, s.clock())), ts(c.LastUsedAt)}
}

// AddWebAuthnCredentialInvited adds a first credential and uses the member's invitation, in
// one transaction.
func (s *Store) AddWebAuthnCredentialInvited(ctx context.Context, c *store.WebAuthnCredential, inviteHash string, at time.Time) error {
	if len(c.ID) == 0 || c.Subject == "" {
		return errors.New("postgres: add webauthn credential invited: empty id or subject")
	}
	at = orNow(at, s.clock())
	return wrap("add webauthn credential invited", s.tx(ctx, func(tx pgx.Tx) error {
		if err := useInvite(ctx, tx, c.Subject, inviteHash, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, addWebAuthnCredential, s.webAuthnCredentialArgs(c)...)
		return err
	}))
}

// AddWebAuthnCredentialNotFirst stores a new credential only while the member has a confirmed
// TOTP factor or a credential, in one statement: the factor it found stays locked (FOR KEY
// SHARE) until it commits, as in ConfirmTOTPNotFirst.
func (s *Store) AddWebAuthnCredentialNotFirst(ctx context.Context, c *store.WebAuthnCredential) error {
	if len(c.ID) == 0 || c.Subject == "" {
		return errors.New("postgres: add webauthn credential not first: empty id or subject")
	}
	err := execOne(ctx, s.pool, `INSERT INTO webauthn_credentials (id, subject, name, data, sign_count, backup_eligible,
		backup_state, created_at, last_used_at)
		SELECT $1::BYTEA, $2::TEXT, $3::TEXT, $4::BYTEA, $5::BIGINT, $6::BOOLEAN, $7::BOOLEAN, $8::BIGINT, $9::BIGINT
		WHERE EXISTS (SELECT 1 FROM totp_factors WHERE subject = $2 AND confirmed FOR KEY SHARE)
			OR EXISTS (SELECT 1 FROM webauthn_credentials WHERE subject = $2 FOR KEY SHARE)`, s.webAuthnCredentialArgs(c)...)
	if isNoRows(err) {
		return fmt.Errorf("postgres: add webauthn credential not first: %w", store.ErrFirstFactor)
	}
	return wrap("add webauthn credential not first", err)
}

// WebAuthnCredentials lists the member's credentials, oldest first.
func (s *Store) WebAuthnCredentials(ctx context.Context, subject string) ([]*store.WebAuthnCredential, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, subject, name, data, sign_count, backup_eligible, backup_state,
		created_at, last_used_at FROM webauthn_credentials WHERE subject = $1 ORDER BY created_at, id`, subject)
	if err != nil {
		return nil, wrap("webauthn credentials", err)
	}
	defer rows.Close()
	var out []*store.WebAuthnCredential
	for rows.Next() {
		var (
			c                      store.WebAuthnCredential
			count, created, usedAt int64
		)
		if err := rows.Scan(&c.ID, &c.Subject, &c.Name, &c.Data, &count, &c.BackupEligible, &c.BackupState, &created, &usedAt); err != nil {
			return nil, wrap("webauthn credentials", err)
		}
		c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), tm(created), tm(usedAt)
		out = append(out, &c)
	}
	return out, wrap("webauthn credentials", rows.Err())
}

// UseWebAuthnCredential records a use with a compare-and-set on the sign count.
func (s *Store) UseWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential, old uint32) error {
	err := execOne(ctx, s.pool, `UPDATE webauthn_credentials SET sign_count = $1, backup_state = $2, data = $3, last_used_at = $4
		WHERE id = $5 AND subject = $6 AND sign_count = $7`,
		int64(c.SignCount), c.BackupState, nonNil(c.Data), ts(orNow(c.LastUsedAt, s.clock())), c.ID, c.Subject, int64(old))
	if !isNoRows(err) {
		return wrap("use webauthn credential", err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM webauthn_credentials WHERE id = $1 AND subject = $2`,
		c.ID, c.Subject).Scan(&n); err != nil {
		return wrap("use webauthn credential", err)
	}
	if n > 0 {
		return fmt.Errorf("postgres: use webauthn credential: %w", sso.ErrConflict)
	}
	return fmt.Errorf("postgres: use webauthn credential: %w", sso.ErrNotFound)
}

// DeleteWebAuthnCredential removes one of the member's credentials.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, subject string, id []byte) error {
	return wrap("delete webauthn credential", execOne(ctx, s.pool,
		`DELETE FROM webauthn_credentials WHERE subject = $1 AND id = $2`, subject, id))
}

// ResetFactors removes every factor of the member and sets the reset notice.
func (s *Store) ResetFactors(ctx context.Context, subject string, at time.Time) (int, error) {
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		n, err = resetFactors(ctx, tx, subject)
		return err
	})
	return n, wrap("reset factors", err)
}

// ResetFactorsAndDeactivate is ResetFactors of d.Subject and Deactivate(d) in one transaction.
func (s *Store) ResetFactorsAndDeactivate(ctx context.Context, d *store.Deactivation) (int, []*sso.Session, error) {
	if d == nil || d.Subject == "" {
		return 0, nil, errors.New("postgres: reset factors: empty subject")
	}
	var (
		n     int
		ended []*sso.Session
	)
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		if n, err = resetFactors(ctx, tx, d.Subject); err != nil {
			return err
		}
		ended, err = s.deactivate(ctx, tx, d)
		return err
	})
	if err != nil {
		return 0, nil, wrap("reset factors", err)
	}
	return n, ended, nil
}

// resetFactors removes every factor of the member and sets the reset notice, in tx; it returns
// how many confirmed factors it removed.
func resetFactors(ctx context.Context, tx pgx.Tx, subject string) (int, error) {
	n := 0
	for _, q := range []string{
		`DELETE FROM totp_factors WHERE subject = $1 AND confirmed`,
		`DELETE FROM webauthn_credentials WHERE subject = $1`,
	} {
		tag, err := tx.Exec(ctx, q, subject)
		if err != nil {
			return 0, err
		}
		n += int(tag.RowsAffected())
	}
	for _, q := range []string{`DELETE FROM totp_factors WHERE subject = $1`, `DELETE FROM recovery_codes WHERE subject = $1`} {
		if _, err := tx.Exec(ctx, q, subject); err != nil {
			return 0, err
		}
	}
	handle := make([]byte, 32)
	_, _ = rand.Read(handle)
	_, err := tx.Exec(ctx, `INSERT INTO mfa_members (subject, user_handle, reset_notice) VALUES ($1, $2, TRUE)
		ON CONFLICT (subject) DO UPDATE SET reset_notice = TRUE`, subject, handle)
	return n, err
}

// FactorResetNotice reports the reset notice.
func (s *Store) FactorResetNotice(ctx context.Context, subject string) (bool, error) {
	var set bool
	err := s.pool.QueryRow(ctx, `SELECT reset_notice FROM mfa_members WHERE subject = $1`, subject).Scan(&set)
	if isNoRows(err) {
		return false, nil
	}
	return set, wrap("factor reset notice", err)
}

// FactorPresence tells whether the member has a confirmed TOTP factor, a WebAuthn credential
// and the reset notice, in one query.
func (s *Store) FactorPresence(ctx context.Context, subject string) (store.FactorPresence, error) {
	var p store.FactorPresence
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM totp_factors WHERE subject = $1 AND confirmed),
		EXISTS (SELECT 1 FROM webauthn_credentials WHERE subject = $1),
		EXISTS (SELECT 1 FROM mfa_members WHERE subject = $1 AND reset_notice)`, subject).Scan(&p.TOTP, &p.Passkeys, &p.ResetNotice)
	return p, wrap("factor presence", err)
}

// TakeFactorResetNotice reports and clears the reset notice.
func (s *Store) TakeFactorResetNotice(ctx context.Context, subject string) (bool, error) {
	err := execOne(ctx, s.pool, `UPDATE mfa_members SET reset_notice = FALSE WHERE subject = $1 AND reset_notice`, subject)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("take factor reset notice", err)
	}
	return true, nil
}

// CreateMFAChallenge stores a pending challenge.
func (s *Store) CreateMFAChallenge(ctx context.Context, c *store.MFAChallenge) error {
	if c.IDHash == "" {
		return errors.New("postgres: create mfa challenge: empty id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO mfa_challenges (id_hash, kind, subject, session_id, auth_request_id, browser,
		amr, data, passed, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $10)`,
		c.IDHash, c.Kind, c.Subject, c.SessionID, c.AuthRequestID, c.Browser, encList(c.AMR), c.Data,
		ts(orNow(c.CreatedAt, s.clock())), ts(c.ExpiresAt))
	return wrap("create mfa challenge", err)
}

// MFAChallenge returns a challenge by id hash.
func (s *Store) MFAChallenge(ctx context.Context, idHash string) (*store.MFAChallenge, error) {
	c := &store.MFAChallenge{IDHash: idHash}
	var (
		amr              string
		created, expires int64
	)
	err := s.pool.QueryRow(ctx, `SELECT kind, subject, session_id, auth_request_id, browser, amr, data, passed,
		created_at, expires_at FROM mfa_challenges WHERE id_hash = $1 AND expires_at > $2`, idHash, ts(s.clock())).Scan(
		&c.Kind, &c.Subject, &c.SessionID, &c.AuthRequestID, &c.Browser, &amr, &c.Data, &c.Passed, &created, &expires)
	if err != nil {
		return nil, wrap("mfa challenge", err)
	}
	if c.AMR, err = decList(amr); err != nil {
		return nil, wrap("mfa challenge", err)
	}
	c.CreatedAt, c.ExpiresAt = tm(created), tm(expires)
	return c, nil
}

// samlClaimAt selects the SAML login claim at the step $1 (data). The kind is written into the
// statement, not bound, so that the partial index on the claims' data (mfa_challenges_saml_claim,
// migration 21) serves it in every plan, generic ones included.
const samlClaimAt = `kind = '` + store.KindSAMLLoginClaim + `' AND data = $1`

// PassMFAChallenge moves a pending challenge to passed, once, for its browser, and with it the
// SAML login claim at that step (store.KindSAMLLoginClaim), in one transaction: a claim whose
// step passed stays final once the step is purged. The claim's row is locked first, as
// TakeOverSAMLLoginClaim locks it before the step's: the two never wait on each other in turn.
func (s *Store) PassMFAChallenge(ctx context.Context, idHash, browser string, now time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM mfa_challenges WHERE `+samlClaimAt+` FOR UPDATE`, []byte(idHash)); err != nil {
			return err
		}
		if err := execOne(ctx, tx, `UPDATE mfa_challenges SET passed = TRUE WHERE id_hash = $1 AND NOT passed AND browser = $2
			AND expires_at > $3`, idHash, browser, ts(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE mfa_challenges SET passed = TRUE WHERE `+samlClaimAt+` AND NOT passed`, []byte(idHash))
		return err
	})
	if !isNoRows(err) {
		return wrap("pass mfa challenge", err)
	}
	var (
		passed bool
		bound  string
	)
	err = s.pool.QueryRow(ctx, `SELECT passed, browser FROM mfa_challenges WHERE id_hash = $1 AND expires_at > $2`,
		idHash, ts(now)).Scan(&passed, &bound)
	switch {
	case err != nil:
		return wrap("pass mfa challenge", err)
	case passed:
		return fmt.Errorf("postgres: pass mfa challenge: %w", sso.ErrAuthRequestUsed)
	case bound != browser:
		return fmt.Errorf("postgres: pass mfa challenge: %w", sso.ErrAuthRequestElsewhere)
	}
	return fmt.Errorf("postgres: pass mfa challenge: %w", sso.ErrNotFound)
}

// UpgradeSession sets a live session's AMR and auth time while its AMR is still old.
func (s *Store) UpgradeSession(ctx context.Context, sessionID string, old, amr []string, authTime time.Time) error {
	err := execOne(ctx, s.pool, `UPDATE sessions SET amr = $1, auth_time = $2 WHERE id = $3 AND amr = $4 AND NOT ended
		AND expires_at > $5`, encList(amr), ts(authTime), sessionID, encList(old), ts(s.clock()))
	if !isNoRows(err) {
		return wrap("upgrade session", err)
	}
	if _, serr := s.Session(ctx, sessionID); serr == nil {
		return fmt.Errorf("postgres: upgrade session: %w", sso.ErrConflict)
	}
	return fmt.Errorf("postgres: upgrade session: %w", sso.ErrNotFound)
}

// CreateEnrolmentInvite stores an unused invitation in place of the member's unused one (one
// statement on the index of one unused invitation per member: two issued at once leave one,
// the later). The same hash as the member's unused one changes nothing and is sso.ErrConflict,
// as the primary key makes it for any other row of that hash.
func (s *Store) CreateEnrolmentInvite(ctx context.Context, inv *store.EnrolmentInvite) error {
	if inv.Hash == "" || inv.Subject == "" {
		return errors.New("postgres: create enrolment invite: empty hash or subject")
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO enrolment_invites (hash, subject, issued_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject) WHERE used_at = 0 DO UPDATE SET hash = EXCLUDED.hash, issued_by = EXCLUDED.issued_by,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
		WHERE enrolment_invites.hash <> EXCLUDED.hash`,
		inv.Hash, inv.Subject, inv.IssuedBy, ts(orNow(inv.CreatedAt, s.clock())), ts(inv.ExpiresAt))
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: create enrolment invite: %w", sso.ErrConflict)
	}
	return wrap("create enrolment invite", err)
}

// EnrolmentInviteUsable reads whether the member's unused, unexpired invitation of hash exists.
func (s *Store) EnrolmentInviteUsable(ctx context.Context, subject, hash string, at time.Time) error {
	at = orNow(at, s.clock())
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM enrolment_invites
		WHERE hash = $1 AND subject = $2 AND used_at = 0 AND expires_at > $3`, hash, subject, ts(at)).Scan(&n)
	if err != nil {
		return wrap("enrolment invite usable", err)
	}
	if n == 0 {
		return store.ErrNoInvite
	}
	return nil
}
