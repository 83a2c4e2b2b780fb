package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// MFAUserHandle returns the member's WebAuthn user handle, storing handle when there is none.
func (s *Store) MFAUserHandle(ctx context.Context, subject string, handle []byte) ([]byte, error) {
	var out []byte
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_members (subject, user_handle) VALUES (?, ?)
			ON CONFLICT (subject) DO NOTHING`, subject, handle); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT user_handle FROM mfa_members WHERE subject = ?`, subject).Scan(&out)
	})
	return out, wrap("mfa user handle", err)
}

// SubjectByUserHandle finds the member of a WebAuthn user handle.
func (s *Store) SubjectByUserHandle(ctx context.Context, handle []byte) (string, error) {
	var sub string
	err := s.r.QueryRowContext(ctx, `SELECT subject FROM mfa_members WHERE user_handle = ?`, handle).Scan(&sub)
	return sub, wrap("subject by user handle", err)
}

// PutTOTP stores a pending TOTP factor unless a confirmed one exists.
func (s *Store) PutTOTP(ctx context.Context, f *store.TOTPFactor) error {
	res, err := s.wexec(ctx, `INSERT INTO totp_factors (subject, secret_sealed, confirmed, last_step, created_at)
		VALUES (?, ?, 0, 0, ?)
		ON CONFLICT (subject) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0,
			created_at = excluded.created_at WHERE totp_factors.confirmed = 0`,
		f.Subject, f.SecretSealed, ts(orNow(f.CreatedAt, s.clock())))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			return fmt.Errorf("sqlite: put totp: %w", sso.ErrConflict)
		}
		return wrap("put totp", err)
	}
	return nil
}

// TOTP returns the member's TOTP factor.
func (s *Store) TOTP(ctx context.Context, subject string) (*store.TOTPFactor, error) {
	f := &store.TOTPFactor{Subject: subject}
	var confirmed int
	var created int64
	err := s.st.totp.QueryRowContext(ctx, subject).Scan(&f.SecretSealed, &confirmed, &f.LastStep, &created)
	if err != nil {
		return nil, wrap("totp", err)
	}
	f.Confirmed, f.CreatedAt = confirmed != 0, tm(created)
	return f, nil
}

// ConfirmTOTP confirms the pending factor with this sealed secret and replaces the recovery codes.
func (s *Store) ConfirmTOTP(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string) error {
	return wrap("confirm totp", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return confirmTOTP(ctx, tx, subject, sealed, step, recoveryHashes)
	}))
}

func confirmTOTP(ctx context.Context, tx *sql.Tx, subject string, sealed []byte, step int64, recoveryHashes []string) error {
	res, err := tx.ExecContext(ctx, `UPDATE totp_factors SET confirmed = 1, last_step = ?
		WHERE subject = ? AND confirmed = 0 AND secret_sealed = ?`, step, subject, sealed)
	if err := affectedOne(res, err); err != nil {
		return err
	}
	return replaceRecoveryCodes(ctx, tx, subject, recoveryHashes)
}

// ConfirmTOTPInvited confirms a first TOTP factor and uses the member's invitation, in one
// transaction.
func (s *Store) ConfirmTOTPInvited(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string, inviteHash string, at time.Time) error {
	at = orNow(at, s.clock())
	return wrap("confirm totp invited", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := useInvite(ctx, tx, subject, inviteHash, at); err != nil {
			return err
		}
		return confirmTOTP(ctx, tx, subject, sealed, step, recoveryHashes)
	}))
}

// ConfirmTOTPNotFirst confirms the pending factor with this sealed secret only while the
// member has a WebAuthn credential (the same statement: the store's one writer runs nothing
// between the check and the confirmation), and replaces the recovery codes.
func (s *Store) ConfirmTOTPNotFirst(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string) error {
	return wrap("confirm totp not first", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE totp_factors SET confirmed = 1, last_step = ?
			WHERE subject = ? AND confirmed = 0 AND secret_sealed = ?
				AND EXISTS (SELECT 1 FROM webauthn_credentials WHERE subject = totp_factors.subject)`, step, subject, sealed)
		if err := affectedOne(res, err); isNoRows(err) {
			// Why: no such pending factor (sso.ErrNotFound), or no other factor beside it.
			var pending bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM totp_factors
				WHERE subject = ? AND confirmed = 0 AND secret_sealed = ?)`, subject, sealed).Scan(&pending); err != nil {
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

// useInvite uses the member's unused, unexpired invitation of hash in tx; store.ErrNoInvite
// when there is none.
func useInvite(ctx context.Context, tx *sql.Tx, subject, hash string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE enrolment_invites SET used_at = ?
		WHERE hash = ? AND subject = ? AND used_at = 0 AND expires_at > ?`, ts(at), hash, subject, ts(at))
	if err := affectedOne(res, err); isNoRows(err) {
		return store.ErrNoInvite
	} else if err != nil {
		return err
	}
	return nil
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, subject string, hashes []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE subject = ?`, subject); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (subject, hash) VALUES (?, ?)`, subject, h); err != nil {
			return err
		}
	}
	return nil
}

// UseTOTPStep records step as used when it is after the last one.
func (s *Store) UseTOTPStep(ctx context.Context, subject string, step int64) error {
	res, err := s.wexec(ctx, `UPDATE totp_factors SET last_step = ? WHERE subject = ? AND confirmed = 1 AND last_step < ?`,
		step, subject, step)
	if err := affectedOne(res, err); err != nil {
		if !isNoRows(err) {
			return wrap("use totp step", err)
		}
		if f, ferr := s.TOTP(ctx, subject); ferr == nil && f.Confirmed {
			return fmt.Errorf("sqlite: use totp step: %w", sso.ErrConflict)
		}
		return fmt.Errorf("sqlite: use totp step: %w", sso.ErrNotFound)
	}
	return nil
}

// DeleteTOTP removes the TOTP factor and the recovery codes.
func (s *Store) DeleteTOTP(ctx context.Context, subject string) error {
	return wrap("delete totp", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE subject = ?`, subject); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE subject = ?`, subject)
		return err
	}))
}

// UseRecoveryCode spends one recovery code, once.
func (s *Store) UseRecoveryCode(ctx context.Context, subject, hash string, at time.Time) error {
	res, err := s.wexec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE subject = ? AND hash = ? AND used_at = 0`,
		ts(orNow(at, s.clock())), subject, hash)
	return wrap("use recovery code", affectedOne(res, err))
}

// RecoveryCodesLeft counts the unspent recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, subject string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE subject = ? AND used_at = 0`, subject).Scan(&n)
	return n, wrap("recovery codes left", err)
}

// AddWebAuthnCredential stores a new credential.
func (s *Store) AddWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential) error {
	if len(c.ID) == 0 || c.Subject == "" {
		return errors.New("sqlite: add webauthn credential: empty id or subject")
	}
	_, err := s.wexec(ctx, addWebAuthnCredential, s.webAuthnCredentialArgs(c)...)
	return wrap("add webauthn credential", err)
}

const addWebAuthnCredential = `INSERT INTO webauthn_credentials (id, subject, name, data, sign_count, backup_eligible,
	backup_state, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s *Store) webAuthnCredentialArgs(c *store.WebAuthnCredential) []any {
	return []any{c.ID, c.Subject, c.Name, nonNil(c.Data), int64(c.SignCount), b2i(c.BackupEligible), b2i(c.BackupState),
		ts(orNow(c.CreatedAt, s.clock())), ts(c.LastUsedAt)}
}

// AddWebAuthnCredentialInvited adds a first credential and uses the member's invitation, in
// one transaction.
func (s *Store) AddWebAuthnCredentialInvited(ctx context.Context, c *store.WebAuthnCredential, inviteHash string, at time.Time) error {
	if len(c.ID) == 0 || c.Subject == "" {
		return errors.New("sqlite: add webauthn credential invited: empty id or subject")
	}
	at = orNow(at, s.clock())
	return wrap("add webauthn credential invited", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := useInvite(ctx, tx, c.Subject, inviteHash, at); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, addWebAuthnCredential, s.webAuthnCredentialArgs(c)...)
		return err
	}))
}

// AddWebAuthnCredentialNotFirst stores a new credential only while the member has a confirmed
// TOTP factor or a credential (the same statement).
func (s *Store) AddWebAuthnCredentialNotFirst(ctx context.Context, c *store.WebAuthnCredential) error {
	if len(c.ID) == 0 || c.Subject == "" {
		return errors.New("sqlite: add webauthn credential not first: empty id or subject")
	}
	res, err := s.wexec(ctx, `INSERT INTO webauthn_credentials (id, subject, name, data, sign_count, backup_eligible,
		backup_state, created_at, last_used_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
		WHERE EXISTS (SELECT 1 FROM totp_factors WHERE subject = ? AND confirmed = 1)
			OR EXISTS (SELECT 1 FROM webauthn_credentials WHERE subject = ?)`, append(s.webAuthnCredentialArgs(c), c.Subject, c.Subject)...)
	if err := affectedOne(res, err); isNoRows(err) {
		return fmt.Errorf("sqlite: add webauthn credential not first: %w", store.ErrFirstFactor)
	} else if err != nil {
		return wrap("add webauthn credential not first", err)
	}
	return nil
}

// WebAuthnCredentials lists the member's credentials, oldest first.
func (s *Store) WebAuthnCredentials(ctx context.Context, subject string) ([]*store.WebAuthnCredential, error) {
	rows, err := s.st.webauthnCreds.QueryContext(ctx, subject)
	if err != nil {
		return nil, wrap("webauthn credentials", err)
	}
	defer rows.Close()
	var out []*store.WebAuthnCredential
	for rows.Next() {
		var (
			c               store.WebAuthnCredential
			count           int64
			be, bs          int
			created, usedAt int64
		)
		if err := rows.Scan(&c.ID, &c.Subject, &c.Name, &c.Data, &count, &be, &bs, &created, &usedAt); err != nil {
			return nil, wrap("webauthn credentials", err)
		}
		c.SignCount, c.BackupEligible, c.BackupState = uint32(count), be != 0, bs != 0
		c.CreatedAt, c.LastUsedAt = tm(created), tm(usedAt)
		out = append(out, &c)
	}
	return out, wrap("webauthn credentials", rows.Err())
}

// UseWebAuthnCredential records a use with a compare-and-set on the sign count.
func (s *Store) UseWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential, old uint32) error {
	res, err := s.wexec(ctx, `UPDATE webauthn_credentials SET sign_count = ?, backup_state = ?, data = ?, last_used_at = ?
		WHERE id = ? AND subject = ? AND sign_count = ?`,
		int64(c.SignCount), b2i(c.BackupState), nonNil(c.Data), ts(orNow(c.LastUsedAt, s.clock())), c.ID, c.Subject, int64(old))
	if err := affectedOne(res, err); err != nil {
		if !isNoRows(err) {
			return wrap("use webauthn credential", err)
		}
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM webauthn_credentials WHERE id = ? AND subject = ?`,
			c.ID, c.Subject).Scan(&n); err != nil {
			return wrap("use webauthn credential", err)
		}
		if n > 0 {
			return fmt.Errorf("sqlite: use webauthn credential: %w", sso.ErrConflict)
		}
		return fmt.Errorf("sqlite: use webauthn credential: %w", sso.ErrNotFound)
	}
	return nil
}

// DeleteWebAuthnCredential removes one of the member's credentials.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, subject string, id []byte) error {
	res, err := s.wexec(ctx, `DELETE FROM webauthn_credentials WHERE subject = ? AND id = ?`, subject, id)
	return wrap("delete webauthn credential", affectedOne(res, err))
}

// ResetFactors removes every factor of the member and sets the reset notice.
func (s *Store) ResetFactors(ctx context.Context, subject string, at time.Time) (int, error) {
	var n int
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		n, err = resetFactors(ctx, tx, subject)
		return err
	})
	return n, wrap("reset factors", err)
}

// ResetFactorsAndDeactivate is ResetFactors of d.Subject and Deactivate(d) in one transaction.
func (s *Store) ResetFactorsAndDeactivate(ctx context.Context, d *store.Deactivation) (int, []*sso.Session, error) {
	if d == nil || d.Subject == "" {
		return 0, nil, errors.New("sqlite: reset factors: empty subject")
	}
	var (
		n     int
		ended []*sso.Session
	)
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
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
func resetFactors(ctx context.Context, tx *sql.Tx, subject string) (int, error) {
	n := 0
	for _, q := range []string{
		`DELETE FROM totp_factors WHERE subject = ? AND confirmed = 1`,
		`DELETE FROM webauthn_credentials WHERE subject = ?`,
	} {
		res, err := tx.ExecContext(ctx, q, subject)
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += int(k)
	}
	for _, q := range []string{`DELETE FROM totp_factors WHERE subject = ?`, `DELETE FROM recovery_codes WHERE subject = ?`} {
		if _, err := tx.ExecContext(ctx, q, subject); err != nil {
			return 0, err
		}
	}
	// The notice needs a member row; its user handle is kept (a new one would do as well).
	_, err := tx.ExecContext(ctx, `INSERT INTO mfa_members (subject, user_handle, reset_notice) VALUES (?, ?, 1)
		ON CONFLICT (subject) DO UPDATE SET reset_notice = 1`, subject, randomHandle())
	return n, err
}

// FactorResetNotice reports the reset notice.
func (s *Store) FactorResetNotice(ctx context.Context, subject string) (bool, error) {
	var set int
	err := s.st.resetNotice.QueryRowContext(ctx, subject).Scan(&set)
	if isNoRows(err) {
		return false, nil
	}
	return set == 1, wrap("factor reset notice", err)
}

// TakeFactorResetNotice reports and clears the reset notice.
func (s *Store) TakeFactorResetNotice(ctx context.Context, subject string) (bool, error) {
	// Every password sign-in asks: a read answers the usual "no notice" without taking the
	// writer; the UPDATE's compare-and-set still decides who takes a notice that is there.
	var set int
	err := s.st.resetNotice.QueryRowContext(ctx, subject).Scan(&set)
	switch {
	case isNoRows(err) || (err == nil && set == 0):
		return false, nil
	case err != nil:
		return false, wrap("take factor reset notice", err)
	}
	res, err := s.wexec(ctx, `UPDATE mfa_members SET reset_notice = 0 WHERE subject = ? AND reset_notice = 1`, subject)
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			return false, nil
		}
		return false, wrap("take factor reset notice", err)
	}
	return true, nil
}

// FactorPresence tells whether the member has a confirmed TOTP factor, a WebAuthn credential
// and the reset notice, in one read (one statement: one snapshot), on the write connection's
// driver connection when that is free (readOnWriter), else on the read pool.
func (s *Store) FactorPresence(ctx context.Context, subject string) (store.FactorPresence, error) {
	p, ran, err := readOnWriter(ctx, s, func(ctx context.Context, rc *rawConn) (store.FactorPresence, error) {
		return rc.factorPresence(ctx, subject)
	})
	if !ran {
		p, err = readRow(ctx, s, s.st.factorPresence, func(row scanner) (p store.FactorPresence, err error) {
			err = row.Scan(&p.TOTP, &p.Passkeys, &p.ResetNotice)
			return p, err
		}, subject)
	}
	return p, wrap("factor presence", err)
}

// CreateMFAChallenge stores a pending challenge.
func (s *Store) CreateMFAChallenge(ctx context.Context, c *store.MFAChallenge) error {
	if c.IDHash == "" {
		return errors.New("sqlite: create mfa challenge: empty id")
	}
	_, err := s.wexec(ctx, `INSERT INTO mfa_challenges (id_hash, kind, subject, session_id, auth_request_id, browser,
		amr, data, passed, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		c.IDHash, c.Kind, c.Subject, c.SessionID, c.AuthRequestID, c.Browser, encList(c.AMR), c.Data,
		ts(orNow(c.CreatedAt, s.clock())), ts(c.ExpiresAt))
	return wrap("create mfa challenge", err)
}

// MFAChallenge returns a challenge by id hash.
func (s *Store) MFAChallenge(ctx context.Context, idHash string) (*store.MFAChallenge, error) {
	c := &store.MFAChallenge{IDHash: idHash}
	var (
		amr              string
		passed           int
		created, expires int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT kind, subject, session_id, auth_request_id, browser, amr, data, passed,
		created_at, expires_at FROM mfa_challenges WHERE id_hash = ? AND expires_at > ?`, idHash, ts(s.clock())).Scan(
		&c.Kind, &c.Subject, &c.SessionID, &c.AuthRequestID, &c.Browser, &amr, &c.Data, &passed, &created, &expires)
	if err != nil {
		return nil, wrap("mfa challenge", err)
	}
	if c.AMR, err = decList(amr); err != nil {
		return nil, wrap("mfa challenge", err)
	}
	c.Passed, c.CreatedAt, c.ExpiresAt = passed != 0, tm(created), tm(expires)
	return c, nil
}

// PassMFAChallenge moves a pending challenge to passed, once, for its browser, and with it the
// SAML login claim at that step (store.KindSAMLLoginClaim), in one transaction: a claim whose
// step passed stays final once the step is purged.
func (s *Store) PassMFAChallenge(ctx context.Context, idHash, browser string, now time.Time) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mfa_challenges SET passed = 1 WHERE id_hash = ? AND passed = 0 AND browser = ?
			AND expires_at > ?`, idHash, browser, ts(now))
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, passSAMLClaim, []byte(idHash))
		return err
	})
	if err != nil {
		if !isNoRows(err) {
			return wrap("pass mfa challenge", err)
		}
		var (
			passed int
			bound  string
		)
		err := s.w.QueryRowContext(ctx, `SELECT passed, browser FROM mfa_challenges WHERE id_hash = ? AND expires_at > ?`,
			idHash, ts(now)).Scan(&passed, &bound)
		switch {
		case err != nil:
			return wrap("pass mfa challenge", err)
		case passed != 0:
			return fmt.Errorf("sqlite: pass mfa challenge: %w", sso.ErrAuthRequestUsed)
		case !bytes.Equal([]byte(bound), []byte(browser)):
			return fmt.Errorf("sqlite: pass mfa challenge: %w", sso.ErrAuthRequestElsewhere)
		}
		return fmt.Errorf("sqlite: pass mfa challenge: %w", sso.ErrNotFound)
	}
	return nil
}

// passSAMLClaim is PassMFAChallenge's mark of the SAML login claim at the step that passed. The
// kind is written into the statement, not bound, so that the partial index on the claims' data
// (mfa_challenges_saml_claim, migration 31) serves it instead of a scan of every challenge.
const passSAMLClaim = `UPDATE mfa_challenges SET passed = 1 WHERE kind = '` + store.KindSAMLLoginClaim +
	`' AND data = ? AND passed = 0`

// UpgradeSession sets a live session's AMR and auth time while its AMR is still old.
func (s *Store) UpgradeSession(ctx context.Context, sessionID string, old, amr []string, authTime time.Time) error {
	res, err := s.wexec(ctx, `UPDATE sessions SET amr = ?, auth_time = ? WHERE id = ? AND amr = ? AND ended = 0
		AND expires_at > ?`, encList(amr), ts(authTime), sessionID, encList(old), ts(s.clock()))
	if err := affectedOne(res, err); err != nil {
		if !isNoRows(err) {
			return wrap("upgrade session", err)
		}
		if _, serr := s.Session(ctx, sessionID); serr == nil {
			return fmt.Errorf("sqlite: upgrade session: %w", sso.ErrConflict)
		}
		return fmt.Errorf("sqlite: upgrade session: %w", sso.ErrNotFound)
	}
	return nil
}

// randomHandle is a fresh WebAuthn user handle (64 random bytes is the most WebAuthn allows;
// 32 are plenty).
func randomHandle() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return b
}

// CreateEnrolmentInvite stores an unused invitation and deletes the member's other unused ones.
func (s *Store) CreateEnrolmentInvite(ctx context.Context, inv *store.EnrolmentInvite) error {
	if inv.Hash == "" || inv.Subject == "" {
		return errors.New("sqlite: create enrolment invite: empty hash or subject")
	}
	return wrap("create enrolment invite", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM enrolment_invites WHERE subject = ? AND used_at = 0 AND hash <> ?`,
			inv.Subject, inv.Hash); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO enrolment_invites (hash, subject, issued_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, inv.Hash, inv.Subject, inv.IssuedBy, ts(orNow(inv.CreatedAt, s.clock())), ts(inv.ExpiresAt))
		return err
	}))
}

// EnrolmentInviteUsable reads whether the member's unused, unexpired invitation of hash exists.
func (s *Store) EnrolmentInviteUsable(ctx context.Context, subject, hash string, at time.Time) error {
	at = orNow(at, s.clock())
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM enrolment_invites
		WHERE hash = ? AND subject = ? AND used_at = 0 AND expires_at > ?`, hash, subject, ts(at)).Scan(&n)
	if err != nil {
		return wrap("enrolment invite usable", err)
	}
	if n == 0 {
		return store.ErrNoInvite
	}
	return nil
}
