package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ssobridge/ssobridge/sso"
)

// migrations are applied in order; migrations[i] is schema version i+1. Never edit a migration
// that has shipped: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE auth_requests (
	id                    TEXT PRIMARY KEY,
	client_id             TEXT NOT NULL,
	redirect_uri          TEXT NOT NULL DEFAULT '',
	state                 TEXT NOT NULL DEFAULT '',
	nonce                 TEXT NOT NULL DEFAULT '',
	scopes                TEXT NOT NULL DEFAULT '',
	response_type         TEXT NOT NULL DEFAULT '',
	response_mode         TEXT NOT NULL DEFAULT '',
	code_challenge        TEXT NOT NULL DEFAULT '',
	code_challenge_method TEXT NOT NULL DEFAULT '',
	prompt                TEXT NOT NULL DEFAULT '',
	max_age               INTEGER,
	login_hint            TEXT NOT NULL DEFAULT '',
	ui_locales            TEXT NOT NULL DEFAULT '',
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	done                  INTEGER NOT NULL DEFAULT 0,
	subject               TEXT NOT NULL DEFAULT '',
	auth_time             INTEGER NOT NULL DEFAULT 0,
	amr                   TEXT NOT NULL DEFAULT '',
	session_id            TEXT NOT NULL DEFAULT '',
	code_hash             TEXT UNIQUE,
	code_expires          INTEGER NOT NULL DEFAULT 0,
	code_consumed         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

CREATE TABLE access_tokens (
	id_hash    TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	audience   TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	family_id  TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	auth_time  INTEGER NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0
);
-- Token tables have no expiry index: every index is one more page written per grant, and Purge
-- can walk the primary key instead.
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_subject ON access_tokens (subject, client_id);

CREATE TABLE refresh_tokens (
	hash           TEXT PRIMARY KEY,
	family_id      TEXT NOT NULL,
	client_id      TEXT NOT NULL,
	subject        TEXT NOT NULL DEFAULT '',
	audience       TEXT NOT NULL DEFAULT '',
	scopes         TEXT NOT NULL DEFAULT '',
	session_id     TEXT NOT NULL DEFAULT '',
	auth_time      INTEGER NOT NULL DEFAULT 0,
	amr            TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL,
	rotated_at     INTEGER NOT NULL DEFAULT 0,
	successor_hash TEXT NOT NULL DEFAULT '',
	revoked        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject, client_id);

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	auth_time  INTEGER NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL,
	ended      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE session_clients (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	client_id  TEXT NOT NULL,
	UNIQUE (session_id, client_id)
);

CREATE TABLE signing_keys (
	id          TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	public_jwk  BLOB NOT NULL,
	private_enc BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	sign_until  INTEGER NOT NULL DEFAULT 0,
	expires_at  INTEGER NOT NULL
);

CREATE TABLE clients (
	id         TEXT PRIMARY KEY,
	config     BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('clients_version', 1);

CREATE TABLE secrets (
	name       TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE subjects (
	subject    TEXT PRIMARY KEY,
	member_key TEXT NOT NULL UNIQUE,
	login      TEXT NOT NULL DEFAULT '',
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
);

CREATE TABLE consents (
	subject    TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	scopes     TEXT NOT NULL DEFAULT '',
	granted_at INTEGER NOT NULL,
	PRIMARY KEY (subject, client_id)
);

CREATE TABLE audit_log (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	time      INTEGER NOT NULL,
	event     TEXT NOT NULL,
	subject   TEXT NOT NULL DEFAULT '',
	login     TEXT NOT NULL DEFAULT '',
	client_id TEXT NOT NULL DEFAULT '',
	ip        TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_event ON audit_log (event, time);
CREATE INDEX audit_log_subject ON audit_log (subject, time);
CREATE INDEX audit_log_client ON audit_log (client_id, time);
`,
	// 2: AMS hand-off replay guard (hashes of AMS tokens and hand-off tickets already used).
	`
CREATE TABLE handoff_tokens (
	hash       TEXT PRIMARY KEY,
	used_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
`,
	// 3: shadow users, the outbox of provisioning and logout events, watermarks.
	`
CREATE TABLE shadow_users (
	client_id   TEXT NOT NULL,
	subject     TEXT NOT NULL,
	digest      TEXT NOT NULL,
	active      INTEGER NOT NULL,
	view        BLOB,
	external_id TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (client_id, subject)
);
CREATE INDEX shadow_users_subject ON shadow_users (subject);

CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	key          TEXT NOT NULL,
	type         TEXT NOT NULL,
	channel      TEXT NOT NULL,
	client_id    TEXT NOT NULL DEFAULT '',
	subject      TEXT NOT NULL DEFAULT '',
	payload      BLOB,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	delivered_at INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL DEFAULT 'pending',
	last_error   TEXT NOT NULL DEFAULT ''
);
-- Pending events only: the claim query walks this, delivered rows cost nothing.
CREATE INDEX outbox_pending ON outbox (next_attempt, seq) WHERE state = 'pending';
CREATE INDEX outbox_key ON outbox (key, seq) WHERE state = 'pending';
CREATE INDEX outbox_state ON outbox (state, seq);

CREATE TABLE watermarks (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
`,
	// 4: device authorizations (RFC 8628): device code hash, unique normalised user code.
	`
CREATE TABLE device_authorizations (
	device_code_hash TEXT PRIMARY KEY,
	user_code        TEXT NOT NULL UNIQUE,
	client_id        TEXT NOT NULL,
	scopes           TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL,
	interval_ns      INTEGER NOT NULL,
	last_polled      INTEGER NOT NULL DEFAULT 0,
	state            TEXT NOT NULL,
	subject          TEXT NOT NULL DEFAULT '',
	auth_time        INTEGER NOT NULL DEFAULT 0,
	amr              TEXT NOT NULL DEFAULT '',
	session_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX device_authorizations_expires ON device_authorizations (expires_at);
`,
	// 5: cheaper token grants. Each token table has one secondary index, (subject, client_id,
	// family_id), instead of one by family and one by subject: an insert writes one index page
	// fewer. Revoking a family finds its (subject, client) pairs in token_families, which holds
	// every (family, subject, client) that a stored token has; a rotation finds its row already
	// there and writes nothing to it.
	`
DROP INDEX access_tokens_family;
DROP INDEX access_tokens_subject;
CREATE INDEX access_tokens_grant ON access_tokens (subject, client_id, family_id);
DROP INDEX refresh_tokens_family;
DROP INDEX refresh_tokens_subject;
CREATE INDEX refresh_tokens_grant ON refresh_tokens (subject, client_id, family_id);

CREATE TABLE token_families (
	family_id TEXT NOT NULL,
	subject   TEXT NOT NULL,
	client_id TEXT NOT NULL,
	PRIMARY KEY (family_id, subject, client_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO token_families (family_id, subject, client_id)
SELECT family_id, subject, client_id FROM refresh_tokens WHERE family_id <> ''
UNION SELECT family_id, subject, client_id FROM access_tokens WHERE family_id <> '';
`,
	// 6: the subject of an id_token_hint sent with an auth request (prompt=none must not answer
	// for another member).
	`ALTER TABLE auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';`,
	// 7: progress of the periodic reconcile over every AMS member (resumed after a restart).
	`
CREATE TABLE reconcile_state (
	name        TEXT PRIMARY KEY,
	started_at  INTEGER NOT NULL,
	cursor      TEXT NOT NULL,
	finished_at INTEGER NOT NULL
);
`,
	// 8: a sign-in request is bound to the browser that first opened its login page.
	`ALTER TABLE auth_requests ADD COLUMN browser TEXT NOT NULL DEFAULT '';`,
	// 9: sessions are stored under the SHA-256 of their id (the cookie's value): the session ids
	// of sessions and of everything that refers to them are replaced by their hash (goMigrations).
	`CREATE TEMP TABLE session_id_map (old TEXT PRIMARY KEY, new TEXT NOT NULL);`,
	// 10: one row per refresh-token family instead of one per refresh and access token. Rotation
	// updates the family in place (generation, current token hash); access tokens describe
	// themselves and are checked against their family, and only those revoked one by one are
	// kept. Every live current refresh token becomes a family at generation 0, and its hash is
	// kept in legacy_refresh_tokens (such tokens do not name their family), so nobody is signed
	// out; access tokens of the old layout are not carried over (they live minutes; clients
	// refresh).
	`
CREATE TABLE families (
	family_id  TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL DEFAULT '',
	generation INTEGER NOT NULL DEFAULT 0,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	audience   TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	auth_time  INTEGER NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	rotated_at INTEGER NOT NULL DEFAULT 0,
	revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- One secondary index (revocation by subject and client, listings); Purge walks the key.
CREATE INDEX families_grant ON families (subject, client_id);

CREATE TABLE legacy_refresh_tokens (
	hash       TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE revoked_access_tokens (
	id_hash    TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

INSERT OR IGNORE INTO families (family_id, token_hash, generation, client_id, subject, audience, scopes,
	session_id, auth_time, amr, created_at, expires_at, rotated_at, revoked)
SELECT family_id, hash, 0, client_id, subject, audience, scopes, session_id, auth_time, amr, created_at,
	expires_at, 0, 0
FROM refresh_tokens WHERE rotated_at = 0 AND revoked = 0 AND family_id <> ''
ORDER BY created_at DESC;
INSERT OR IGNORE INTO legacy_refresh_tokens (hash, family_id, expires_at)
SELECT r.hash, r.family_id, r.expires_at FROM refresh_tokens r JOIN families f
	ON f.family_id = r.family_id AND f.token_hash = r.hash;

DROP TABLE access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE token_families;
`,
	// 11: upstream OpenID providers: links of upstream identities to members, pending upstream
	// sign-ins (a state machine, keyed by the state's hash) and the bridge sessions an upstream
	// sign-in started (for the upstream's back-channel logout).
	`
CREATE TABLE upstream_links (
	issuer           TEXT NOT NULL,
	upstream_subject TEXT NOT NULL,
	subject          TEXT NOT NULL,
	provider         TEXT NOT NULL DEFAULT '',
	email            TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	PRIMARY KEY (issuer, upstream_subject)
) WITHOUT ROWID;
CREATE INDEX upstream_links_subject ON upstream_links (subject);

CREATE TABLE upstream_logins (
	id               TEXT PRIMARY KEY,
	provider         TEXT NOT NULL,
	state            TEXT NOT NULL,
	auth_request_id  TEXT NOT NULL DEFAULT '',
	browser          TEXT NOT NULL DEFAULT '',
	link_subject     TEXT NOT NULL DEFAULT '',
	issuer           TEXT NOT NULL DEFAULT '',
	upstream_subject TEXT NOT NULL DEFAULT '',
	email            TEXT NOT NULL DEFAULT '',
	upstream_sid     TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL
);
CREATE INDEX upstream_logins_expires ON upstream_logins (expires_at);

CREATE TABLE upstream_sessions (
	session_id       TEXT PRIMARY KEY,
	issuer           TEXT NOT NULL,
	upstream_subject TEXT NOT NULL,
	upstream_sid     TEXT NOT NULL DEFAULT '',
	expires_at       INTEGER NOT NULL
);
CREATE INDEX upstream_sessions_subject ON upstream_sessions (issuer, upstream_subject);
CREATE INDEX upstream_sessions_sid ON upstream_sessions (issuer, upstream_sid);
CREATE INDEX upstream_sessions_expires ON upstream_sessions (expires_at);
`,
	// 12: second factors (issue 16): WebAuthn user handles and credentials, TOTP secrets (sealed)
	// with their last used step, hashed recovery codes, the factor-reset notice, the
	// multi-factor challenges, and the acr_values of a sign-in request.
	`
CREATE TABLE mfa_members (
	subject      TEXT PRIMARY KEY,
	user_handle  BLOB NOT NULL UNIQUE,
	reset_notice INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE totp_factors (
	subject       TEXT PRIMARY KEY,
	secret_sealed BLOB NOT NULL,
	confirmed     INTEGER NOT NULL DEFAULT 0,
	last_step     INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE recovery_codes (
	subject TEXT NOT NULL,
	hash    TEXT NOT NULL,
	used_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (subject, hash)
) WITHOUT ROWID;

CREATE TABLE webauthn_credentials (
	id              BLOB PRIMARY KEY,
	subject         TEXT NOT NULL,
	name            TEXT NOT NULL DEFAULT '',
	data            BLOB NOT NULL,
	sign_count      INTEGER NOT NULL DEFAULT 0,
	backup_eligible INTEGER NOT NULL DEFAULT 0,
	backup_state    INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_credentials_subject ON webauthn_credentials (subject);

CREATE TABLE mfa_challenges (
	id_hash         TEXT PRIMARY KEY,
	kind            TEXT NOT NULL,
	subject         TEXT NOT NULL DEFAULT '',
	session_id      TEXT NOT NULL DEFAULT '',
	auth_request_id TEXT NOT NULL DEFAULT '',
	browser         TEXT NOT NULL DEFAULT '',
	amr             TEXT NOT NULL DEFAULT '',
	data            BLOB,
	passed          INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE auth_requests ADD COLUMN acr_values TEXT NOT NULL DEFAULT '';
`,
	// 13: the SAML identity provider: SPs registered with the CLI, pending sign-ins, message ids
	// already used, the SPs each SSO session signed into, and its signing keys (sealed).
	`
CREATE TABLE saml_service_providers (
	entity_id  TEXT PRIMARY KEY,
	settings   BLOB NOT NULL,
	metadata   BLOB NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE saml_requests (
	id          TEXT PRIMARY KEY,
	sp          TEXT NOT NULL,
	request_id  TEXT NOT NULL DEFAULT '',
	acs_url     TEXT NOT NULL,
	acs_binding TEXT NOT NULL,
	acs_index   INTEGER NOT NULL DEFAULT 0,
	relay_state TEXT NOT NULL DEFAULT '',
	force_authn INTEGER NOT NULL DEFAULT 0,
	is_passive  INTEGER NOT NULL DEFAULT 0,
	browser     TEXT NOT NULL DEFAULT '',
	done        INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE saml_message_ids (
	key        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE saml_participants (
	session_id     TEXT NOT NULL,
	sp             TEXT NOT NULL,
	seq            INTEGER NOT NULL,
	name_id        TEXT NOT NULL,
	name_id_format TEXT NOT NULL DEFAULT '',
	session_index  TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL,
	PRIMARY KEY (session_id, sp)
) WITHOUT ROWID;
CREATE TABLE saml_keys (
	id          TEXT PRIMARY KEY,
	cert_der    BLOB NOT NULL,
	private_enc BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	sign_until  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);
`,
	// 14: shared throttle counters (issue 15): the sign-in throttle's and the rate limits'
	// counters, by keyed hash (the single-node default keeps them in memory; a replica set on
	// PostgreSQL keeps them here).
	`
CREATE TABLE throttle_counters (
	key          TEXT PRIMARY KEY,
	n            INTEGER NOT NULL,
	window_end   INTEGER NOT NULL,
	locked_until INTEGER NOT NULL DEFAULT 0,
	note         TEXT NOT NULL DEFAULT '',
	expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX throttle_counters_expires ON throttle_counters (expires_at);
`,
	// 15: a waiting SAML sign-in keeps its AuthnRequest's RequestedAuthnContext (review s5 V5).
	`
ALTER TABLE saml_requests ADD COLUMN authn_comparison TEXT NOT NULL DEFAULT '';
ALTER TABLE saml_requests ADD COLUMN authn_classes TEXT NOT NULL DEFAULT '';
`,
	// 16: fewer pages written per sign-in (issue 14). A sign-in wrote about 28 pages: every table
	// it touches had a rowid b-tree plus an index on its random text key, expiry indexes, a
	// UNIQUE index on auth_requests.code_hash that held a NULL entry for every pending request,
	// four indexes and an AUTOINCREMENT counter (sqlite_sequence) on audit_log, and an
	// AUTOINCREMENT key plus a UNIQUE index on session_clients. Now:
	// - auth_requests and sessions are WITHOUT ROWID tables (one b-tree, keyed by id) without
	//   expiry indexes: Purge walks them by key, as it walks the token families;
	// - the code-hash index is partial (only requests holding a code are in it);
	// - session_clients is keyed by (session_id, client_id), its order kept in seq (per session);
	// - audit_log ids are plain rowids (no sqlite_sequence write), and the (event, time) index
	//   leaves out login.success rows (most of the log: a search for them walks the time index,
	//   where nearly every row is one).
	// Rows are copied as they are: sessions, pending requests and codes keep working.
	`
PRAGMA defer_foreign_keys = ON;

CREATE TABLE auth_requests_v16 (
	id                    TEXT PRIMARY KEY,
	client_id             TEXT NOT NULL,
	redirect_uri          TEXT NOT NULL DEFAULT '',
	state                 TEXT NOT NULL DEFAULT '',
	nonce                 TEXT NOT NULL DEFAULT '',
	scopes                TEXT NOT NULL DEFAULT '',
	response_type         TEXT NOT NULL DEFAULT '',
	response_mode         TEXT NOT NULL DEFAULT '',
	code_challenge        TEXT NOT NULL DEFAULT '',
	code_challenge_method TEXT NOT NULL DEFAULT '',
	prompt                TEXT NOT NULL DEFAULT '',
	max_age               INTEGER,
	login_hint            TEXT NOT NULL DEFAULT '',
	ui_locales            TEXT NOT NULL DEFAULT '',
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	done                  INTEGER NOT NULL DEFAULT 0,
	subject               TEXT NOT NULL DEFAULT '',
	auth_time             INTEGER NOT NULL DEFAULT 0,
	amr                   TEXT NOT NULL DEFAULT '',
	session_id            TEXT NOT NULL DEFAULT '',
	code_hash             TEXT,
	code_expires          INTEGER NOT NULL DEFAULT 0,
	code_consumed         INTEGER NOT NULL DEFAULT 0,
	hint_subject          TEXT NOT NULL DEFAULT '',
	browser               TEXT NOT NULL DEFAULT '',
	acr_values            TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO auth_requests_v16 (id, client_id, redirect_uri, state, nonce, scopes, response_type, response_mode,
	code_challenge, code_challenge_method, prompt, max_age, login_hint, ui_locales, created_at, expires_at, done,
	subject, auth_time, amr, session_id, code_hash, code_expires, code_consumed, hint_subject, browser, acr_values)
SELECT id, client_id, redirect_uri, state, nonce, scopes, response_type, response_mode,
	code_challenge, code_challenge_method, prompt, max_age, login_hint, ui_locales, created_at, expires_at, done,
	subject, auth_time, amr, session_id, NULLIF(code_hash, ''), code_expires, code_consumed, hint_subject, browser, acr_values
FROM auth_requests;
DROP TABLE auth_requests;
ALTER TABLE auth_requests_v16 RENAME TO auth_requests;
CREATE UNIQUE INDEX auth_requests_code ON auth_requests (code_hash) WHERE code_hash IS NOT NULL;

CREATE TABLE sessions_v16 (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	auth_time  INTEGER NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL,
	ended      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO sessions_v16 (id, subject, auth_time, amr, created_at, last_seen, expires_at, ended)
SELECT id, subject, auth_time, amr, created_at, last_seen, expires_at, ended FROM sessions;

CREATE TABLE session_clients_v16 (
	session_id TEXT NOT NULL REFERENCES sessions_v16 (id) ON DELETE CASCADE,
	client_id  TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	PRIMARY KEY (session_id, client_id)
) WITHOUT ROWID;
INSERT INTO session_clients_v16 (session_id, client_id, seq)
SELECT session_id, client_id, seq FROM session_clients WHERE session_id IN (SELECT id FROM sessions_v16);
DROP TABLE session_clients;
DROP TABLE sessions;
ALTER TABLE sessions_v16 RENAME TO sessions;
ALTER TABLE session_clients_v16 RENAME TO session_clients;
CREATE INDEX sessions_subject ON sessions (subject);

CREATE TABLE audit_log_v16 (
	id        INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	event     TEXT NOT NULL,
	subject   TEXT NOT NULL DEFAULT '',
	login     TEXT NOT NULL DEFAULT '',
	client_id TEXT NOT NULL DEFAULT '',
	ip        TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT ''
);
INSERT INTO audit_log_v16 (id, time, event, subject, login, client_id, ip, detail)
SELECT id, time, event, subject, login, client_id, ip, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v16 RENAME TO audit_log;
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_event ON audit_log (event, time) WHERE event <> 'login.success';
CREATE INDEX audit_log_subject ON audit_log (subject, time);
CREATE INDEX audit_log_client ON audit_log (client_id, time);
`,
	// 17: a waiting SAML sign-in keeps the NameID format its AuthnRequest asked for in a column
	// of its own. Before, a transient request was told by a "t." prefix on its id: such rows
	// waiting at the upgrade get the column set, and keep their id (their browser carries it).
	`
ALTER TABLE saml_requests ADD COLUMN name_id_format TEXT NOT NULL DEFAULT '';
UPDATE saml_requests SET name_id_format = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' WHERE substr(id, 1, 2) = 't.';
`,
	// 18: the admin console's sessions, kept server-side (review s10 V3): the cookie carries a
	// random id whose hash is the key; signing out, ending the administrator's sessions, a
	// reset of their second factors or an AMS password change ends the row. Console cookies
	// from before this version have no row and are signed out.
	`
CREATE TABLE console_sessions (
	id_hash    TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	login      TEXT NOT NULL DEFAULT '',
	csrf       TEXT NOT NULL,
	auth_time  INTEGER NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	mfa        INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL,
	checked_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL DEFAULT 0,
	end_reason TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX console_sessions_subject ON console_sessions (subject);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
`,
	// 19: a session signed in again by its member keeps its id (the sid its apps know) and gets
	// a new cookie value (review s10 V8): cookie_key is the key of that value ('': the id, as
	// for every session never signed in again), looked up only when the id finds nothing.
	`
ALTER TABLE sessions ADD COLUMN cookie_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX sessions_cookie_key ON sessions (cookie_key) WHERE cookie_key <> '';
`,
	// 20: a console session belongs to the bridge session it was signed in with (session 12,
	// OWASP ASVS 3.3.1): bridge_session is that session's id, and ending the bridge session,
	// whichever statement does it, ends its live console sessions in the same transaction
	// (the trigger; ended_at is the database's clock, in nanoseconds as ts writes). Console
	// sessions from before have none and end at their own time.
	`
ALTER TABLE console_sessions ADD COLUMN bridge_session TEXT NOT NULL DEFAULT '';
CREATE INDEX console_sessions_bridge ON console_sessions (bridge_session) WHERE bridge_session <> '';
CREATE TRIGGER sessions_end_console AFTER UPDATE OF ended ON sessions
WHEN NEW.ended <> 0 AND OLD.ended = 0
BEGIN
	UPDATE console_sessions SET ended_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000,
		end_reason = 'bridge session ended'
	WHERE bridge_session = NEW.id AND ended_at = 0;
END;
`,
	// 21: the store ends a bridge session's console sessions in Go, in the transaction that ends
	// it, with the store's clock, and audits each (endConsoleOfBridge; session 14): the trigger
	// of 20 used the database's clock, wrote no audit row and ended expired console sessions too.
	`
DROP TRIGGER sessions_end_console;
`,
	// 22: a family's compare-and-set state (generation, current token hash, revoked, expiry,
	// rotation time) in a narrow table of its own, families, and what its grant says (client,
	// subject, audience, scopes, session, sign-in) in family_grants, written once. A refresh
	// rotation's UPDATE reads and writes a 6-column row instead of the 14-column one, and the
	// families of a load run fit fewer pages (fewer WAL frames per commit). Every family is
	// carried over as it is: nobody is signed out.
	`
CREATE TABLE family_grants (
	family_id  TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	audience   TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	auth_time  INTEGER NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO family_grants (family_id, client_id, subject, audience, scopes, session_id, auth_time, amr, created_at)
SELECT family_id, client_id, subject, audience, scopes, session_id, auth_time, amr, created_at FROM families;
DROP INDEX families_grant;
-- Revocation by subject and client, listings; DeleteClient scans it.
CREATE INDEX family_grants_subject ON family_grants (subject, client_id);

CREATE TABLE family_state (
	family_id  TEXT PRIMARY KEY,
	generation INTEGER NOT NULL DEFAULT 0,
	token_hash TEXT NOT NULL DEFAULT '',
	revoked    INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL,
	rotated_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO family_state (family_id, generation, token_hash, revoked, expires_at, rotated_at)
SELECT family_id, generation, token_hash, revoked, expires_at, rotated_at FROM families;
DROP TABLE families;
ALTER TABLE family_state RENAME TO families;
`,
	// 23: a SAML SP's id in the bridge (its settings' "id", policies[<id>]) in a column of its
	// own, so that a registration can refuse an id a client or another SP has in the
	// transaction that writes it (store.ErrAppIDTaken; session 15).
	`
ALTER TABLE saml_service_providers ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
UPDATE saml_service_providers SET app_id = COALESCE(json_extract(CAST(settings AS TEXT), '$.id'), '')
WHERE json_valid(CAST(settings AS TEXT));
CREATE INDEX saml_service_providers_app_id ON saml_service_providers (app_id);
`,
	// 24: family_grants by client, for DeleteClient, which revokes every grant of the client
	// it deletes: without it the statement read every grant of every client (session 16).
	`
CREATE INDEX family_grants_client ON family_grants (client_id);
`,
	// 25: administrator-issued one-time enrolment codes (store.EnrolmentInvite; review s12 W9,
	// session 17): the code's hash, its member, who issued it, and when it was used (0: not).
	`
CREATE TABLE enrolment_invites (
	hash       TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	issued_by  TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX enrolment_invites_subject ON enrolment_invites (subject);
`,
	// 26: pending outbox events by client, in queue order and by lease, for the claim that takes
	// each client's head and prefers the clients with nothing in flight (fairClaim; review s15
	// X-5, session 17).
	`
CREATE INDEX outbox_client ON outbox (client_id, seq) WHERE state = 'pending';
CREATE INDEX outbox_client_lease ON outbox (client_id, lease_until) WHERE state = 'pending';
`,
	// 27: pending outbox events by client in the order they fall due, for the claim's search of
	// each client's first due head: by outbox_client it walked the events waiting to retry
	// (fairClaim; session 18; PostgreSQL 18).
	`
CREATE INDEX outbox_client_due ON outbox (client_id, next_attempt, seq) WHERE state = 'pending';
`,
	// 28: the resources (RFC 8707) an authorization request names, which bind its grant
	// (sso.AuthRequest.Resources; session 19; PostgreSQL 19). Requests stored before have none:
	// the client's whole set, as they were issued.
	`ALTER TABLE auth_requests ADD COLUMN resources TEXT NOT NULL DEFAULT '';`,
	// 29: the resources (RFC 8707) a device authorization request names, which bind its grant
	// (sso.DeviceAuthorization.Resources; session 20; PostgreSQL 20). Authorizations stored
	// before have none: bound by their first token request, as they were.
	`ALTER TABLE device_authorizations ADD COLUMN resources TEXT NOT NULL DEFAULT '';`,
	// 30: no index of code hashes (issue 14): a code is its request's id sealed by the
	// provider, which opens it, and the store finds it by that id (CodeRequest, Issue's
	// ConsumeCodeRequest) and checks the hash it holds. The index cost about two pages per
	// sign-in. Codes issued before keep working: their requests hold their hashes as before.
	`DROP INDEX auth_requests_code;`,
	// 31: SAML login claims by the step they are at (data), for PassMFAChallenge's mark of the
	// claim at the step that passed, which scanned every live challenge (session 20; PostgreSQL
	// 21). Partial: the other challenges' data (passkey ceremonies' state) is not indexed.
	`CREATE INDEX mfa_challenges_saml_claim ON mfa_challenges (data) WHERE kind = 'saml-login-claim';`,
	// 32: the later event of its key that stands for an outbox event written while this one was
	// in flight (store.OutboxEvent.Supersedes): a retryable failure of this one supersedes it
	// (session 21; PostgreSQL 22). Events stored before stand for nothing: retried as they were.
	`ALTER TABLE outbox ADD COLUMN superseded_by TEXT NOT NULL DEFAULT '';`,
	// 33: RevokeGrants' closing of the grants not yet redeemed (closePendingGrants: "Sign out of
	// <app>", withdrawal, an administrator's revocation) searched every sign-in request and
	// device authorization under the one writer (session 23, left by s22 H3). Partial: only
	// the rows that can still be redeemed are indexed (a code issued and not exchanged, an
	// approved device authorization), so that an exchanged code leaves the index.
	`
CREATE INDEX auth_requests_unexchanged ON auth_requests (subject, client_id) WHERE code_consumed = 0 AND code_hash IS NOT NULL;
CREATE INDEX device_authorizations_approved ON device_authorizations (subject, client_id) WHERE state = 'approved';
`,
	// 34: the change poller's retry list, kept with its watermark (written in the same
	// transaction), so that a restart or a lead change does not forget a member whose sync
	// keeps failing (session 27, review s26 R3-7; PostgreSQL 26); and how many members the
	// reconcile pass in progress has deactivated as gone from the AMS (shadow.reconcile_max_gone
	// bounds a pass, not a page).
	`
CREATE TABLE poll_retries (
	member_key  TEXT PRIMARY KEY,
	attempts    INTEGER NOT NULL,
	next_try    INTEGER NOT NULL,
	unconfirmed INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE reconcile_state ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
`,
}

// goMigrations run after the SQL of their version, in the same transaction.
var goMigrations = map[int]func(ctx context.Context, tx *sql.Tx) error{
	9: hashSessionIDs,
}

// sessionIDColumns are the columns that hold a session id.
var sessionIDColumns = []struct{ table, column string }{
	{"sessions", "id"}, {"session_clients", "session_id"}, {"auth_requests", "session_id"},
	{"access_tokens", "session_id"}, {"refresh_tokens", "session_id"}, {"device_authorizations", "session_id"},
}

// hashSessionIDs replaces every stored session id by its SHA-256 (sso.HashToken). Pending
// outbox events keep the sid they were queued with (what the apps were told).
func hashSessionIDs(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	var union []string
	for _, c := range sessionIDColumns {
		union = append(union, `SELECT `+c.column+` FROM `+c.table+` WHERE `+c.column+` <> ''`)
	}
	rows, err := tx.QueryContext(ctx, strings.Join(union, " UNION "))
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO temp.session_id_map (old, new) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, id := range ids {
		if _, err := ins.ExecContext(ctx, id, sso.HashToken(id)); err != nil {
			return err
		}
	}
	for _, c := range sessionIDColumns {
		if _, err := tx.ExecContext(ctx, `UPDATE `+c.table+` SET `+c.column+` =
			(SELECT new FROM temp.session_id_map WHERE old = `+c.table+`.`+c.column+`)
			WHERE `+c.column+` IN (SELECT old FROM temp.session_id_map)`); err != nil {
			return fmt.Errorf("%s.%s: %w", c.table, c.column, err)
		}
	}
	_, err = tx.ExecContext(ctx, `DROP TABLE temp.session_id_map`)
	return err
}

// migrate brings the schema up to date in one IMMEDIATE transaction on the write pool, so that
// two processes opening the same new file cannot both apply a migration.
func migrate(ctx context.Context, db *sql.DB, now int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
)`); err != nil {
		return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: migrate: read version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("sqlite: migrate: database schema version %d is newer than this binary knows (%d)", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("sqlite: migrate: apply version %d: %w", v, err)
		}
		if f := goMigrations[v]; f != nil {
			if err := f(ctx, tx); err != nil {
				return fmt.Errorf("sqlite: migrate: apply version %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, now); err != nil {
			return fmt.Errorf("sqlite: migrate: record version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", err)
	}
	return nil
}
