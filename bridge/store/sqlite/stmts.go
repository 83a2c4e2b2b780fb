package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Column lists shared by the queries and their scan functions. Each column is read as an
// expression named _ (`+col _`: unary + is a no-op on any value, and the name is one byte):
// modernc copies every result column's name and declared type into new strings at each query
// (rows.newRows), two allocations per column, and allocates neither for an expression (no
// declared type) named with one byte (issue 14: 56 allocations per request read). Nothing
// reads these columns by name. TestColumnListsCheap checks every list stays so.
const (
	authRequestCols = `+id _, +client_id _, +redirect_uri _, +state _, +nonce _, +scopes _, +response_type _,
	+response_mode _, +code_challenge _, +code_challenge_method _, +prompt _, +max_age _, +login_hint _,
	+ui_locales _, +created_at _, +expires_at _, +done _, +subject _, +auth_time _, +amr _, +session_id _,
	+COALESCE(code_hash, '') _, +code_expires _, +code_consumed _, +hint_subject _, +browser _,
	+acr_values _, +resources _`
	// familyCols are a family's columns in scanFamily's order, read from familyFrom (its state
	// f and its grant g).
	familyCols = `+f.family_id _, +f.token_hash _, +f.generation _, +g.client_id _, +g.subject _, +g.audience _,
	+g.scopes _, +g.session_id _, +g.auth_time _, +g.amr _, +g.created_at _, +f.expires_at _, +f.rotated_at _,
	+f.revoked _`
	familyColCount = 14
	familyFrom     = `families f JOIN family_grants g ON g.family_id = f.family_id`
	// sessionCols is used with the alias s and a LEFT JOIN of session_clients c.
	sessionCols = `+s.id _, +s.subject _, +s.auth_time _, +s.amr _, +s.created_at _, +s.last_seen _,
	+s.expires_at _, +s.ended _, +COALESCE(c.client_id, '') _`
)

// The refresh rotation's statements, prepared on the write pool (stmts) and on the write
// connection's driver connection (rawConn).
const (
	rotateQuery = `UPDATE families SET generation = generation + 1, token_hash = ?, rotated_at = ?
			WHERE family_id = ? AND generation = ? AND token_hash = ? AND token_hash <> '' AND revoked = 0 AND expires_at > ?`
	// familyQuery is Family's read (on the read pool, and on the write connection's driver
	// connection: readOnWriter).
	familyQuery       = `SELECT ` + familyCols + ` FROM ` + familyFrom + ` WHERE f.family_id = ? AND f.expires_at > ?`
	familyStateQuery  = `SELECT +generation _, +token_hash _, +expires_at _, +rotated_at _, +revoked _ FROM families WHERE family_id = ?`
	revokeFamilyQuery = `UPDATE families SET revoked = 1 WHERE family_id = ? AND revoked = 0`
)

// A login's reads, prepared on the read pool (stmts) and on the write connection's driver
// connection (rawConn: readOnWriter).
const (
	authRequestQuery    = `SELECT ` + authRequestCols + ` FROM auth_requests WHERE id = ? AND expires_at > ?`
	factorPresenceQuery = `SELECT EXISTS (SELECT 1 FROM totp_factors WHERE subject = ?1 AND confirmed = 1) _,
			EXISTS (SELECT 1 FROM webauthn_credentials WHERE subject = ?1) _,
			EXISTS (SELECT 1 FROM mfa_members WHERE subject = ?1 AND reset_notice = 1) _`
	// codeRequestQuery is the code grant's read (CodeRequest): a request holding a code, by
	// the request's id, and whether its session is live.
	codeRequestQuery = `SELECT ` + authRequestCols + `, EXISTS (SELECT 1 FROM sessions s
			WHERE s.id = auth_requests.session_id AND s.ended = 0 AND s.expires_at > ?2) _
			FROM auth_requests WHERE id = ?1 AND code_hash <> '' AND code_expires > ?2`
)

// A sign-in's writes (CompleteSignIn), prepared on the write pool (stmts) and on the write
// connection's driver connection (rawConn), with the savepoint statements of a write in a batch.
const (
	completeAuthRequestQuery = `UPDATE auth_requests SET done = 1, subject = ?, auth_time = ?, amr = ?, session_id = ?
			WHERE id = ? AND done = 0 AND browser = ? AND expires_at > ?`
	completeWithCodeQuery = `UPDATE auth_requests SET done = 1, subject = ?, auth_time = ?, amr = ?, session_id = ?,
			code_hash = ?, code_expires = ?, code_consumed = 0
			WHERE id = ? AND done = 0 AND browser = ? AND expires_at > ?`
	addSessionClientQuery = `INSERT INTO session_clients (session_id, client_id, seq)
			VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM session_clients WHERE session_id = ?1))
			ON CONFLICT (session_id, client_id) DO NOTHING`
	insertSessionQuery = `INSERT INTO sessions (id, subject, auth_time, amr, created_at,
			last_seen, expires_at, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	insertAuditQuery = `INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?)`
	// A code grant's writes (IssueTokens) and a new request's (CreateAuthRequest). A code is
	// found by its request's id (sso.Issue.ConsumeCodeRequest) and must hold its hash.
	// The code of a session ended meanwhile is not consumed (sso.Issue): the one writer ran
	// the end before, or runs it after, and then revokes the grant this exchange makes. A
	// code that names a session needs that session held and not ended: the purge deletes an
	// ended session within the minute, and a session no longer held is one that ended (or
	// expired), never one to bind a new grant to (review s22 X-1).
	// The session must also not have expired (expires_at > now, the store's clock): an expired
	// session is held until the purge deletes it, and is no more live than an ended one.
	consumeCodeQuery = `UPDATE auth_requests SET code_consumed = 1
			WHERE id = ?1 AND code_hash = ?2 AND code_consumed = 0 AND code_expires > ?3
			AND ` + codeSessionLive
	codeStateQuery = `SELECT +code_consumed _, +code_expires _, NOT ` + codeSessionLive + ` _
			FROM auth_requests WHERE id = ?1 AND code_hash = ?2`
	// codeSessionLive holds for a request (auth_requests) that names no session or names one
	// the store holds, has not ended and has not expired at ?3 (now).
	codeSessionLive = `(auth_requests.session_id = '' OR EXISTS (SELECT 1 FROM sessions s
			WHERE s.id = auth_requests.session_id AND s.ended = 0 AND s.expires_at > ?3))`
	// authRequestByCodeQuery is AuthRequestByCode's read, by the code's hash alone: no index
	// serves it since version 30 (it scans the requests), and nothing in the provider runs it
	// (the store is an sso.CodeRequestReader), so it is not prepared.
	authRequestByCodeQuery = `SELECT ` + authRequestCols + ` FROM auth_requests WHERE code_hash = ? AND code_expires > ?`
	// claimAuthRequestQuery is the login page's claim (ClaimAuthRequest): bindAuthRequest
	// returning the request.
	claimAuthRequestQuery = `UPDATE auth_requests SET browser = ?
			WHERE id = ? AND done = 0 AND browser = '' AND expires_at > ? RETURNING ` + authRequestCols
	insertFamilyQuery = `INSERT INTO families (family_id, generation, token_hash, revoked, expires_at, rotated_at)
			VALUES (?, ?, ?, ?, ?, ?)`
	insertGrantQuery = `INSERT INTO family_grants (family_id, client_id, subject, audience, scopes, session_id,
			auth_time, amr, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	createAuthRequestQuery = `INSERT INTO auth_requests (id, client_id, redirect_uri, state, nonce,
			scopes, response_type, response_mode, code_challenge, code_challenge_method, prompt, max_age,
			login_hint, ui_locales, created_at, expires_at, done, subject, auth_time, amr, session_id, hint_subject, browser,
			acr_values, resources)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	savepointQuery  = `SAVEPOINT batch_write`
	releaseQuery    = `RELEASE batch_write`
	rollbackToQuery = `ROLLBACK TO batch_write`
)

// stmts are the hot-path statements, prepared once at Open. Read statements are prepared on the
// read pool, write statements on the write pool (used in transactions through tx.StmtContext).
type stmts struct {
	// reads
	subjectByID  *sql.Stmt
	subjectByKey *sql.Stmt
	consent      *sql.Stmt
	authRequest  *sql.Stmt
	// codeRequest is a request holding a code, with whether its session is live.
	codeRequest     *sql.Stmt
	family          *sql.Stmt
	legacyRefresh   *sql.Stmt
	accessRevoked   *sql.Stmt
	session         *sql.Stmt
	sessionByCookie *sql.Stmt // session by its cookie value's key (SessionByCookie)
	totp            *sql.Stmt // a sign-in asks for the member's factors (twice)
	webauthnCreds   *sql.Stmt
	resetNotice     *sql.Stmt
	factorPresence  *sql.Stmt // the three above in one read, for members without factors
	outboxDue       *sql.Stmt // whether an outbox event may be due (ClaimEvents, each second)

	// writes (IssueTokens and friends)
	consumeCode         *sql.Stmt
	codeState           *sql.Stmt
	rotate              *sql.Stmt
	familyState         *sql.Stmt
	insertFamily        *sql.Stmt // the family's state (families)
	insertGrant         *sql.Stmt // and its grant (family_grants)
	revokeFamily        *sql.Stmt
	completeAuthRequest *sql.Stmt
	completeWithCode    *sql.Stmt // completeAuthRequest and saveCode in one statement
	claimAuthRequest    *sql.Stmt // bindAuthRequest returning the request
	saveCode            *sql.Stmt
	createAuthRequest   *sql.Stmt
	addSessionClient    *sql.Stmt
	touchSession        *sql.Stmt
	bindAuthRequest     *sql.Stmt
	insertSession       *sql.Stmt
	putSubject          *sql.Stmt
	insertAudit         *sql.Stmt
	savepoint           *sql.Stmt
	release             *sql.Stmt
	rollbackTo          *sql.Stmt

	onWriter writerReads // the read statements prepared on the write connection too (fifo.go)
}

func (st *stmts) prepare(ctx context.Context, w, r *sql.DB) error {
	list := []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&st.authRequest, r, authRequestQuery},
		{&st.codeRequest, r, codeRequestQuery},
		{&st.family, r, familyQuery},
		{&st.legacyRefresh, r, `SELECT ` + familyCols + ` FROM ` + familyFrom + ` WHERE f.family_id =
			(SELECT family_id FROM legacy_refresh_tokens WHERE hash = ?) AND f.expires_at > ?`},
		{&st.accessRevoked, r, `SELECT 1 FROM revoked_access_tokens WHERE id_hash = ? AND expires_at > ?`},
		{&st.session, r, `SELECT ` + sessionCols + ` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
			WHERE s.id = ? AND s.ended = 0 AND s.expires_at > ? ORDER BY c.seq`},
		{&st.sessionByCookie, r, `SELECT ` + sessionCols + ` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id
			WHERE s.id = (SELECT id FROM sessions WHERE id = ?1 AND cookie_key = ''
				UNION ALL SELECT id FROM sessions WHERE cookie_key = ?1 AND cookie_key <> '' LIMIT 1)
			AND s.ended = 0 AND s.expires_at > ?2 ORDER BY c.seq`},

		{&st.consumeCode, w, consumeCodeQuery},
		{&st.codeState, w, codeStateQuery},
		{&st.rotate, w, rotateQuery},
		{&st.familyState, w, familyStateQuery},
		{&st.insertFamily, w, insertFamilyQuery},
		{&st.insertGrant, w, insertGrantQuery},
		{&st.revokeFamily, w, revokeFamilyQuery},
		{&st.completeAuthRequest, w, completeAuthRequestQuery},
		{&st.claimAuthRequest, w, claimAuthRequestQuery},
		{&st.completeWithCode, w, completeWithCodeQuery},
		{&st.saveCode, w, `UPDATE auth_requests SET code_hash = ?, code_expires = ?, code_consumed = 0
			WHERE id = ? AND done = 1 AND (code_hash IS NULL OR code_hash = '') AND expires_at > ?`},
		{&st.createAuthRequest, w, createAuthRequestQuery},
		{&st.addSessionClient, w, addSessionClientQuery},
		{&st.savepoint, w, savepointQuery},
		{&st.release, w, releaseQuery},
		{&st.rollbackTo, w, rollbackToQuery},
		{&st.totp, r, `SELECT secret_sealed, confirmed, last_step, created_at FROM totp_factors WHERE subject = ?`},
		{&st.webauthnCreds, r, `SELECT id, subject, name, data, sign_count, backup_eligible, backup_state,
			created_at, last_used_at FROM webauthn_credentials WHERE subject = ? ORDER BY created_at, id`},
		{&st.resetNotice, r, `SELECT reset_notice FROM mfa_members WHERE subject = ?`},
		{&st.factorPresence, r, factorPresenceQuery},
		{&st.outboxDue, r, outboxDueQuery},
		{&st.subjectByID, r, `SELECT ` + subjectCols + ` FROM subjects WHERE subject = ?`},
		{&st.subjectByKey, r, `SELECT ` + subjectCols + ` FROM subjects WHERE member_key = ?`},
		{&st.consent, r, `SELECT subject, client_id, scopes, granted_at FROM consents WHERE subject = ? AND client_id = ?`},
		{&st.bindAuthRequest, w, `UPDATE auth_requests SET browser = ?
			WHERE id = ? AND done = 0 AND browser = '' AND expires_at > ?`},
		{&st.insertSession, w, insertSessionQuery},
		{&st.putSubject, w, `INSERT INTO subjects (subject, member_key, login, first_seen, last_seen)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (subject) DO UPDATE SET login = excluded.login, last_seen = excluded.last_seen
			WHERE subjects.member_key = excluded.member_key`},
		{&st.insertAudit, w, insertAuditQuery},
		{&st.touchSession, w, `UPDATE sessions SET last_seen = MAX(last_seen, ?)
			WHERE id = ? AND ended = 0 AND expires_at > ?`},
	}
	for _, p := range list {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.query, err)
		}
		*p.dst = stmt
		if p.db == r && r != w {
			if err := st.onWriter.prepare(ctx, w, stmt, p.query); err != nil {
				return err
			}
		}
	}
	return nil
}

func (st *stmts) close() error {
	var errs []error
	for _, p := range []**sql.Stmt{
		&st.authRequest, &st.codeRequest, &st.totp, &st.webauthnCreds, &st.resetNotice, &st.factorPresence, &st.outboxDue, &st.family, &st.legacyRefresh, &st.accessRevoked, &st.session, &st.sessionByCookie,
		&st.consumeCode, &st.codeState, &st.rotate, &st.familyState, &st.insertFamily, &st.insertGrant, &st.revokeFamily, &st.completeAuthRequest,
		&st.saveCode, &st.completeWithCode, &st.claimAuthRequest, &st.createAuthRequest, &st.addSessionClient, &st.touchSession, &st.savepoint, &st.release, &st.rollbackTo,
		&st.subjectByID, &st.subjectByKey, &st.consent, &st.bindAuthRequest, &st.insertSession, &st.putSubject, &st.insertAudit,
	} {
		if *p != nil {
			errs = append(errs, (*p).Close()) // idempotent; later use fails with "statement is closed"
		}
	}
	errs = append(errs, st.onWriter.close())
	return errors.Join(errs...)
}
