package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are applied in order; migrations[i] is schema version i+1. Never edit a migration
// that has shipped: append a new one.
//
// Version 1 is the SQLite backend's schema 10 in PostgreSQL's types, column for column (times
// as BIGINT unix nanoseconds, lists as JSON text, flags as BOOLEAN, blobs as BYTEA), so that
// `ssobridge store copy` moves rows across unchanged.
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
	max_age               BIGINT,
	login_hint            TEXT NOT NULL DEFAULT '',
	ui_locales            TEXT NOT NULL DEFAULT '',
	created_at            BIGINT NOT NULL,
	expires_at            BIGINT NOT NULL,
	done                  BOOLEAN NOT NULL DEFAULT FALSE,
	subject               TEXT NOT NULL DEFAULT '',
	auth_time             BIGINT NOT NULL DEFAULT 0,
	amr                   TEXT NOT NULL DEFAULT '',
	session_id            TEXT NOT NULL DEFAULT '',
	code_hash             TEXT UNIQUE,
	code_expires          BIGINT NOT NULL DEFAULT 0,
	code_consumed         BOOLEAN NOT NULL DEFAULT FALSE,
	hint_subject          TEXT NOT NULL DEFAULT '',
	browser               TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

-- One row per refresh-token family, rotated in place: no indexed column changes on rotation,
-- so with free space left in each page (fillfactor) a rotation is a HOT update that writes no
-- index page.
CREATE TABLE families (
	family_id  TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL DEFAULT '',
	generation BIGINT NOT NULL DEFAULT 0,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	audience   TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	auth_time  BIGINT NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	rotated_at BIGINT NOT NULL DEFAULT 0,
	revoked    BOOLEAN NOT NULL DEFAULT FALSE
) WITH (fillfactor = 80);
CREATE INDEX families_grant ON families (subject, client_id);
CREATE INDEX families_expires ON families (expires_at);

CREATE TABLE legacy_refresh_tokens (
	hash       TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX legacy_refresh_tokens_expires ON legacy_refresh_tokens (expires_at);

CREATE TABLE revoked_access_tokens (
	id_hash    TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	auth_time  BIGINT NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL DEFAULT 0,
	expires_at BIGINT NOT NULL,
	ended      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_ended ON sessions (id) WHERE ended;

CREATE TABLE session_clients (
	seq        BIGSERIAL PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	client_id  TEXT NOT NULL,
	UNIQUE (session_id, client_id)
);

CREATE TABLE signing_keys (
	id          TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	public_jwk  BYTEA NOT NULL,
	private_enc BYTEA NOT NULL,
	created_at  BIGINT NOT NULL,
	sign_until  BIGINT NOT NULL DEFAULT 0,
	expires_at  BIGINT NOT NULL
);

CREATE TABLE clients (
	id         TEXT PRIMARY KEY,
	config     BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('clients_version', 1);

CREATE TABLE secrets (
	name       TEXT PRIMARY KEY,
	value      BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE subjects (
	subject    TEXT PRIMARY KEY,
	member_key TEXT NOT NULL UNIQUE,
	login      TEXT NOT NULL DEFAULT '',
	first_seen BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL
);
-- The reconcile walks member keys in bytewise order (SubjectsByKeyRange), whatever the
-- database's collation.
CREATE INDEX subjects_member_key_c ON subjects (member_key COLLATE "C");

CREATE TABLE consents (
	subject    TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	scopes     TEXT NOT NULL DEFAULT '',
	granted_at BIGINT NOT NULL,
	PRIMARY KEY (subject, client_id)
);

CREATE TABLE audit_log (
	id        BIGSERIAL PRIMARY KEY,
	time      BIGINT NOT NULL,
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

CREATE TABLE handoff_tokens (
	hash       TEXT PRIMARY KEY,
	used_at    BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX handoff_tokens_expires ON handoff_tokens (expires_at);

CREATE TABLE shadow_users (
	client_id   TEXT NOT NULL,
	subject     TEXT NOT NULL,
	digest      TEXT NOT NULL,
	active      BOOLEAN NOT NULL,
	view        BYTEA,
	external_id TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	PRIMARY KEY (client_id, subject)
);
CREATE INDEX shadow_users_subject ON shadow_users (subject);

CREATE TABLE outbox (
	seq          BIGSERIAL PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	key          TEXT NOT NULL,
	type         TEXT NOT NULL,
	channel      TEXT NOT NULL,
	client_id    TEXT NOT NULL DEFAULT '',
	subject      TEXT NOT NULL DEFAULT '',
	payload      BYTEA,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	lease_until  BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	delivered_at BIGINT NOT NULL DEFAULT 0,
	state        TEXT NOT NULL DEFAULT 'pending',
	last_error   TEXT NOT NULL DEFAULT ''
);
-- Pending events only: the claim query walks these, delivered rows cost nothing.
CREATE INDEX outbox_pending ON outbox (next_attempt, seq) WHERE state = 'pending';
CREATE INDEX outbox_key ON outbox (key, seq) WHERE state = 'pending';
CREATE INDEX outbox_state ON outbox (state, seq);
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE state = 'delivered';

CREATE TABLE watermarks (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

CREATE TABLE device_authorizations (
	device_code_hash TEXT PRIMARY KEY,
	user_code        TEXT NOT NULL UNIQUE,
	client_id        TEXT NOT NULL,
	scopes           TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	expires_at       BIGINT NOT NULL,
	interval_ns      BIGINT NOT NULL,
	last_polled      BIGINT NOT NULL DEFAULT 0,
	state            TEXT NOT NULL,
	subject          TEXT NOT NULL DEFAULT '',
	auth_time        BIGINT NOT NULL DEFAULT 0,
	amr              TEXT NOT NULL DEFAULT '',
	session_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX device_authorizations_expires ON device_authorizations (expires_at);

CREATE TABLE reconcile_state (
	name        TEXT PRIMARY KEY,
	started_at  BIGINT NOT NULL,
	cursor      TEXT NOT NULL,
	finished_at BIGINT NOT NULL
);
`,
	// 2: upstream OpenID providers (SQLite 11): links of upstream identities to members, pending
	// upstream sign-ins (a state machine, keyed by the state's hash) and the bridge sessions an
	// upstream sign-in started (for the upstream's back-channel logout).
	`
CREATE TABLE upstream_links (
	issuer           TEXT NOT NULL,
	upstream_subject TEXT NOT NULL,
	subject          TEXT NOT NULL,
	provider         TEXT NOT NULL DEFAULT '',
	email            TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	PRIMARY KEY (issuer, upstream_subject)
);
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
	created_at       BIGINT NOT NULL,
	expires_at       BIGINT NOT NULL
);
CREATE INDEX upstream_logins_expires ON upstream_logins (expires_at);

CREATE TABLE upstream_sessions (
	session_id       TEXT PRIMARY KEY,
	issuer           TEXT NOT NULL,
	upstream_subject TEXT NOT NULL,
	upstream_sid     TEXT NOT NULL DEFAULT '',
	expires_at       BIGINT NOT NULL
);
CREATE INDEX upstream_sessions_subject ON upstream_sessions (issuer, upstream_subject);
CREATE INDEX upstream_sessions_sid ON upstream_sessions (issuer, upstream_sid);
CREATE INDEX upstream_sessions_expires ON upstream_sessions (expires_at);
`,
	// 3: second factors (issue 16; SQLite 12): WebAuthn user handles and credentials, TOTP
	// secrets (sealed) with their last used step, hashed recovery codes, the factor-reset
	// notice, the multi-factor challenges, and the acr_values of a sign-in request.
	`
CREATE TABLE mfa_members (
	subject      TEXT PRIMARY KEY,
	user_handle  BYTEA NOT NULL UNIQUE,
	reset_notice BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE totp_factors (
	subject       TEXT PRIMARY KEY,
	secret_sealed BYTEA NOT NULL,
	confirmed     BOOLEAN NOT NULL DEFAULT FALSE,
	last_step     BIGINT NOT NULL DEFAULT 0,
	created_at    BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
	subject TEXT NOT NULL,
	hash    TEXT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (subject, hash)
);

CREATE TABLE webauthn_credentials (
	id              BYTEA PRIMARY KEY,
	subject         TEXT NOT NULL,
	name            TEXT NOT NULL DEFAULT '',
	data            BYTEA NOT NULL,
	sign_count      BIGINT NOT NULL DEFAULT 0,
	backup_eligible BOOLEAN NOT NULL DEFAULT FALSE,
	backup_state    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at      BIGINT NOT NULL,
	last_used_at    BIGINT NOT NULL DEFAULT 0
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
	data            BYTEA,
	passed          BOOLEAN NOT NULL DEFAULT FALSE,
	created_at      BIGINT NOT NULL,
	expires_at      BIGINT NOT NULL
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_at);

ALTER TABLE auth_requests ADD COLUMN acr_values TEXT NOT NULL DEFAULT '';
`,
	// 4: the SAML identity provider (SQLite 13): SPs registered with the CLI, pending sign-ins,
	// message ids already used, the SPs each SSO session signed into, its signing keys (sealed).
	`
CREATE TABLE saml_service_providers (
	entity_id  TEXT PRIMARY KEY,
	settings   BYTEA NOT NULL,
	metadata   BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE saml_requests (
	id          TEXT PRIMARY KEY,
	sp          TEXT NOT NULL,
	request_id  TEXT NOT NULL DEFAULT '',
	acs_url     TEXT NOT NULL,
	acs_binding TEXT NOT NULL,
	acs_index   INTEGER NOT NULL DEFAULT 0,
	relay_state TEXT NOT NULL DEFAULT '',
	force_authn BOOLEAN NOT NULL DEFAULT FALSE,
	is_passive  BOOLEAN NOT NULL DEFAULT FALSE,
	browser     TEXT NOT NULL DEFAULT '',
	done        BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);
CREATE TABLE saml_message_ids (
	key        TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX saml_message_ids_expires ON saml_message_ids (expires_at);
CREATE TABLE saml_participants (
	session_id     TEXT NOT NULL,
	sp             TEXT NOT NULL,
	seq            BIGSERIAL,
	name_id        TEXT NOT NULL,
	name_id_format TEXT NOT NULL DEFAULT '',
	session_index  TEXT NOT NULL DEFAULT '',
	created_at     BIGINT NOT NULL,
	expires_at     BIGINT NOT NULL,
	PRIMARY KEY (session_id, sp)
);
CREATE INDEX saml_participants_expires ON saml_participants (expires_at);
CREATE TABLE saml_keys (
	id          TEXT PRIMARY KEY,
	cert_der    BYTEA NOT NULL,
	private_enc BYTEA NOT NULL,
	created_at  BIGINT NOT NULL,
	sign_until  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
`,
	// 5: shared throttle counters (issue 15; SQLite 14): the sign-in throttle's and the rate
	// limits' counters, by keyed hash, so that every replica counts against one limit.
	`
CREATE TABLE throttle_counters (
	key          TEXT PRIMARY KEY,
	n            INTEGER NOT NULL,
	window_end   BIGINT NOT NULL,
	locked_until BIGINT NOT NULL DEFAULT 0,
	note         TEXT NOT NULL DEFAULT '',
	expires_at   BIGINT NOT NULL
);
CREATE INDEX throttle_counters_expires ON throttle_counters (expires_at);
`,
	// 6: a waiting SAML sign-in keeps its AuthnRequest's RequestedAuthnContext (review s5 V5;
	// SQLite 15).
	`
ALTER TABLE saml_requests ADD COLUMN authn_comparison TEXT NOT NULL DEFAULT '';
ALTER TABLE saml_requests ADD COLUMN authn_classes TEXT NOT NULL DEFAULT '';
`,
	// 7: a waiting SAML sign-in keeps the NameID format its AuthnRequest asked for in a column
	// of its own (SQLite 17). Before, a transient request was told by a "t." prefix on its id:
	// such rows waiting at the upgrade get the column set, and keep their id.
	`
ALTER TABLE saml_requests ADD COLUMN name_id_format TEXT NOT NULL DEFAULT '';
UPDATE saml_requests SET name_id_format = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' WHERE substr(id, 1, 2) = 't.';
`,
	// 8: the admin console's sessions, kept server-side (review s10 V3; SQLite 18): the cookie
	// carries a random id whose hash is the key; signing out, ending the administrator's
	// sessions, a reset of their second factors or an AMS password change ends the row.
	// Console cookies from before this version have no row and are signed out.
	`
CREATE TABLE console_sessions (
	id_hash    TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	login      TEXT NOT NULL DEFAULT '',
	csrf       TEXT NOT NULL,
	auth_time  BIGINT NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	mfa        BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	seen_at    BIGINT NOT NULL,
	checked_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	ended_at   BIGINT NOT NULL DEFAULT 0,
	end_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_sessions_subject ON console_sessions (subject);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
`,
	// 9: a session signed in again by its member keeps its id and gets a new cookie value
	// (review s10 V8; SQLite 19): cookie_key is the key of that value ('': the id).
	`
ALTER TABLE sessions ADD COLUMN cookie_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX sessions_cookie_key ON sessions (cookie_key) WHERE cookie_key <> '';
`,
	// 10: a console session belongs to the bridge session it was signed in with (session 12;
	// SQLite 20): bridge_session is its id, and ending the bridge session, whichever statement
	// does it, ends its live console sessions in the same transaction (the trigger; ended_at
	// is the database's clock in nanoseconds, as ts writes).
	`
ALTER TABLE console_sessions ADD COLUMN bridge_session TEXT NOT NULL DEFAULT '';
CREATE INDEX console_sessions_bridge ON console_sessions (bridge_session) WHERE bridge_session <> '';
CREATE FUNCTION sessions_end_console() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE console_sessions SET ended_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000,
		end_reason = 'bridge session ended'
	WHERE bridge_session = NEW.id AND ended_at = 0;
	RETURN NULL;
END;
$$;
CREATE TRIGGER sessions_end_console AFTER UPDATE OF ended ON sessions
FOR EACH ROW WHEN (NEW.ended AND NOT OLD.ended) EXECUTE FUNCTION sessions_end_console();
`,
	// 11: the store ends a bridge session's console sessions in Go, in the transaction that ends
	// it, with the store's clock, and audits each (endConsoleOfBridge; session 14; SQLite 21):
	// the trigger of 10 used the database's clock, wrote no audit row and ended expired console
	// sessions too.
	`
DROP TRIGGER sessions_end_console ON sessions;
DROP FUNCTION sessions_end_console();
`,
	// 12: a family's compare-and-set state (generation, current token hash, revoked, expiry,
	// rotation time) in a narrow table of its own, families, and what its grant says in
	// family_grants, written once (SQLite 22): a rotation writes a new version of a 6-column
	// row instead of the 14-column one. Every family is carried over as it is.
	`
CREATE TABLE family_grants (
	family_id  TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	audience   TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	auth_time  BIGINT NOT NULL DEFAULT 0,
	amr        TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
INSERT INTO family_grants (family_id, client_id, subject, audience, scopes, session_id, auth_time, amr, created_at)
SELECT family_id, client_id, subject, audience, scopes, session_id, auth_time, amr, created_at FROM families;
CREATE INDEX family_grants_subject ON family_grants (subject, client_id);

-- Rotated in place: no indexed column changes on rotation, so with free space left in each
-- page (fillfactor) a rotation is a HOT update that writes no index page.
CREATE TABLE family_state (
	family_id  TEXT NOT NULL,
	generation BIGINT NOT NULL DEFAULT 0,
	token_hash TEXT NOT NULL DEFAULT '',
	revoked    BOOLEAN NOT NULL DEFAULT FALSE,
	expires_at BIGINT NOT NULL,
	rotated_at BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 80);
INSERT INTO family_state (family_id, generation, token_hash, revoked, expires_at, rotated_at)
SELECT family_id, generation, token_hash, revoked, expires_at, rotated_at FROM families;
DROP TABLE families;
ALTER TABLE family_state RENAME TO families;
ALTER TABLE families ADD CONSTRAINT families_pkey PRIMARY KEY (family_id);
CREATE INDEX families_expires ON families (expires_at);
`,
	// 13: a SAML SP's id in the bridge (its settings' "id", policies[<id>]) in a column of its
	// own, so that a registration can refuse an id a client or another SP has in the
	// transaction that writes it (store.ErrAppIDTaken; session 15; SQLite 23).
	`
ALTER TABLE saml_service_providers ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
UPDATE saml_service_providers SET app_id = COALESCE(convert_from(settings, 'UTF8')::jsonb ->> 'id', '')
WHERE length(settings) > 0 AND get_byte(settings, 0) = 123;
CREATE INDEX saml_service_providers_app_id ON saml_service_providers (app_id);
`,
	// 14: family_grants by client, for DeleteClient, which revokes every grant of the client
	// it deletes: without it the statement read every grant of every client (session 16;
	// SQLite 24).
	`
CREATE INDEX family_grants_client ON family_grants (client_id);
`,
	// 15: administrator-issued one-time enrolment codes (store.EnrolmentInvite; review s12 W9,
	// session 17; SQLite 25).
	`
CREATE TABLE enrolment_invites (
	hash       TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	issued_by  TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX enrolment_invites_subject ON enrolment_invites (subject);
`,
	// 16: pending outbox events by client, in queue order and by lease, for the claim that takes
	// each client's head and prefers the clients with nothing in flight (fairClaim; review s15
	// X-5, session 17; SQLite 26).
	`
CREATE INDEX outbox_client ON outbox (client_id, seq) WHERE state = 'pending';
CREATE INDEX outbox_client_lease ON outbox (client_id, lease_until) WHERE state = 'pending';
`,
	// 17: one unused enrolment invitation per member. CreateEnrolmentInvite's delete of the
	// member's earlier one does not see another's not yet committed, so two issued at once
	// both stayed usable (review s17 R2-4); with the index the second replaces the first
	// (ON CONFLICT). Of pairs left by that race, the newer stays. (SQLite writes one
	// transaction at a time: no race, no index.)
	`
DELETE FROM enrolment_invites a USING enrolment_invites b
WHERE a.used_at = 0 AND b.used_at = 0 AND a.subject = b.subject
	AND (a.created_at, a.hash) < (b.created_at, b.hash);
CREATE UNIQUE INDEX enrolment_invites_unused ON enrolment_invites (subject) WHERE used_at = 0;
`,
	// 18: pending outbox events by client in the order they fall due, for the claim's search of
	// each client's first due head: by outbox_client it walked the events waiting to retry
	// (fairClaim; session 18; SQLite 27).
	`
CREATE INDEX outbox_client_due ON outbox (client_id, next_attempt, seq) WHERE state = 'pending';
`,
	// 19: the resources (RFC 8707) an authorization request names, which bind its grant
	// (sso.AuthRequest.Resources; session 19; SQLite 28). Requests stored before have none:
	// the client's whole set, as they were issued.
	`ALTER TABLE auth_requests ADD COLUMN resources TEXT NOT NULL DEFAULT '';`,
	// 20: the resources (RFC 8707) a device authorization request names, which bind its grant
	// (sso.DeviceAuthorization.Resources; session 20; SQLite 29). Authorizations stored before
	// have none: bound by their first token request, as they were.
	`ALTER TABLE device_authorizations ADD COLUMN resources TEXT NOT NULL DEFAULT '';`,
	// 21: SAML login claims by the step they are at (data), for PassMFAChallenge's lock and mark
	// of the claim at the step that passed, which scanned every live challenge (session 20;
	// SQLite 31). Partial: the other challenges' data (passkey ceremonies' state) is not indexed.
	`CREATE INDEX mfa_challenges_saml_claim ON mfa_challenges (data) WHERE kind = 'saml-login-claim';`,
	// 22: the later event of its key that stands for an outbox event written while this one was
	// in flight (store.OutboxEvent.Supersedes): a retryable failure of this one supersedes it
	// (session 21; SQLite 32). Events stored before stand for nothing: retried as they were.
	`ALTER TABLE outbox ADD COLUMN superseded_by TEXT NOT NULL DEFAULT '';`,
	// 23: RevokeGrants' closing of the grants not yet redeemed (closePendingGrants: "Sign out of
	// <app>", withdrawal, an administrator's revocation) read every sign-in request and device
	// authorization (session 23, left by s22 H3; SQLite 33). Partial. The requests' index holds
	// those with a code, exchanged or not: its condition leaves code_consumed out, so that a
	// code's exchange stays a HOT update (no indexed column changes) as it was; the code's
	// issue already wrote index entries (code_hash is indexed).
	`
CREATE INDEX auth_requests_coded ON auth_requests (subject, client_id) WHERE code_hash IS NOT NULL;
CREATE INDEX device_authorizations_approved ON device_authorizations (subject, client_id) WHERE state = 'approved';
`,
	// 24: session_clients and consents by client, for DeleteClient's deletes of the client's
	// places in sessions and members' consents: client_id is the second column of both tables'
	// composite keys, so each delete read the whole key index (session 25). PostgreSQL only: each
	// app a session signs in to writes one more index entry (a WAL record of a few dozen bytes);
	// SQLite, where that is a whole page per login, has none (s24, a93e170: its removal deletes
	// by key).
	`
CREATE INDEX session_clients_client ON session_clients (client_id);
CREATE INDEX consents_client ON consents (client_id);
`,
	// 25: sign-in requests and device authorizations by client, for DeleteClient's deletes of
	// the client's rows: no index began with client_id (auth_requests_coded and
	// device_authorizations_approved are by (subject, client_id) and partial), so each delete
	// read the whole table (session 26). client_id is never updated: a code's issue and
	// exchange, a device's approval and polls stay the updates they were (HOT where they were);
	// each request and device authorization writes one more index entry. PostgreSQL only: SQLite
	// walks those tables on its read pool and deletes by key (s24, a93e170).
	`
CREATE INDEX auth_requests_client ON auth_requests (client_id);
CREATE INDEX device_authorizations_client ON device_authorizations (client_id);
`,
	// 26: the change poller's retry list, kept with its watermark (written in the same
	// transaction), so that a restart or a lead change does not forget a member whose sync
	// keeps failing (session 27, review s26 R3-7; SQLite 34); and how many members the
	// reconcile pass in progress has deactivated as gone from the AMS (shadow.reconcile_max_gone
	// bounds a pass, not a page).
	`
CREATE TABLE poll_retries (
	member_key  TEXT PRIMARY KEY,
	attempts    BIGINT NOT NULL,
	next_try    BIGINT NOT NULL,
	unconfirmed BOOLEAN NOT NULL DEFAULT FALSE
);
ALTER TABLE reconcile_state ADD COLUMN gone BIGINT NOT NULL DEFAULT 0;
`,
}

// migrateLock is the advisory lock key that serialises migrations of one database (the bytes of
// "ssobrdg1"): two replicas starting together apply each migration once.
const migrateLock int64 = 0x73736f6272646731

// Version is the schema version this binary writes.
func Version() int { return len(migrations) }

// Migrate brings the schema up to date, in one transaction under an advisory lock, and returns
// the version it is at. A database written by a newer binary (an unknown version) is refused.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	var version int
	// Not bounded by the statement timeout (only by ctx): a migration, or the wait for another
	// replica's, may take longer than any request should.
	err := pgx.BeginTxFunc(ctx, s.pool.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return fmt.Errorf("statement_timeout: %w", err)
		}
		// Transaction-scoped: released at commit or rollback, also when the connection dies.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return fmt.Errorf("read version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this binary knows (%d)", version, len(migrations))
		}
		for v := version + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("apply version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, ts(s.clock())); err != nil {
				return fmt.Errorf("record version %d: %w", v, err)
			}
			version = v
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	return version, nil
}

// SchemaVersion returns the schema version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}
