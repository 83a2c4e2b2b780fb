package config

import (
	"net/url"
	"time"

	"github.com/ssobridge/ssobridge/bridge/directories"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/legacy/imis"
)

// Config is the whole configuration file. Every field has an embedded default, so an empty
// file (or none) runs the demo.
type Config struct {
	// Listen is the public listener, host:port (the OpenID provider and the member pages).
	Listen string `yaml:"listen"`
	// Issuer is the public URL: https, or http only for a loopback host (localhost in any
	// case, 127.0.0.1 or another 127.x address, [::1]); no trailing slash.
	Issuer string `yaml:"issuer"`
	// DataDir holds the SQLite store and the generated key file (made private, mode 0700).
	DataDir string `yaml:"data_dir"`

	// Store is the bridge's own data (sessions, tokens, clients, keys ...): store.type picks the
	// backend (sqlite, the embedded default, in data_dir).
	Store store.Config `yaml:"store"`
	// Organisation brands every page.
	Organisation Organisation `yaml:"organisation"`
	// Keys are the signing keys and the key that seals them at rest.
	Keys KeysConfig `yaml:"keys"`
	// Tokens sets the lifetimes of codes and tokens.
	Tokens TokensConfig `yaml:"tokens"`
	// Session sets the SSO session.
	Session SessionConfig `yaml:"session"`
	// Throttle sets sign-in throttling and the rate limit of anonymous writes (the AMS
	// account itself is never touched).
	Throttle ThrottleConfig `yaml:"throttle"`
	// Clients are the apps registered in this file (more can be added with `ssobridge
	// clients` or the admin API, kept in the store).
	Clients []Client `yaml:"clients"`
	// Legacy is the AMS connector, chosen by legacy.type through the registry in package
	// bridge/directories: imis (the iMIS database; the default with a dsn) or demo (the
	// embedded demo database; the default without one).
	Legacy directories.LegacyConfig `yaml:"legacy"`
	// Policy holds custom scopes (scopes:) and per-client claim policies and access rules
	// (policies:), compiled and type-checked at start-up.
	Policy policy.Config `yaml:",inline"`
	// AMS is the iMIS website (token endpoint, SSO page, logout URL) for the hand-off and single
	// sign-off, handed to the imis and demo connectors (Directory); on embedded defaults the
	// demo connector mounts a simulated website under /demo-ams.
	AMS AMSConfig `yaml:"ams"`
	// Playground enables /playground and its built-in public client (trusted: no consent page).
	// Not set: on only with a loopback issuer (the embedded defaults, http://localhost:8080),
	// off on any other issuer unless set to true.
	Playground *bool `yaml:"playground"`
	// TrustedProxies are the reverse proxies (CIDR ranges) whose X-Forwarded-For is believed for
	// the client IP (throttling, audit). Empty: the TCP peer address is the client IP, and
	// X-Forwarded-For is ignored (it would let anyone choose their IP).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Log sets the log lines (slog, to standard error).
	Log LogConfig `yaml:"log"`
	// Health sets what /readyz checks (health.go).
	Health HealthConfig `yaml:"health"`
	// Audit sets the audit log's retention.
	Audit AuditConfig `yaml:"audit"`
	// Admin is the admin HTTP API on its own listener; off without a token (admin.go).
	Admin AdminConfig `yaml:"admin"`
	// Shadow tunes AMS change polling and outbox delivery; Provisioning maps client ids to
	// their shadow-user targets (SCIM or webhook). See package bridge/shadow.
	Shadow       provisioning.Config            `yaml:"shadow"`
	Provisioning map[string]provisioning.Target `yaml:"provisioning"`
	// Outbound sets how the bridge reaches apps' URLs (back-channel logout, SOAP logout,
	// provisioning): an HTTP proxy for installations that reach apps only through one.
	Outbound OutboundConfig `yaml:"outbound"`
	// UpstreamProviders are the upstream OpenID providers members may sign in with (upstream.go).
	UpstreamProviders []upstream.ProviderConfig `yaml:"upstream_providers"`
	// MFA is the association-wide second-factor policy (mfa.go).
	MFA MFAConfig `yaml:"mfa"`
	// SAML is the SAML 2.0 identity provider: its service providers entered by hand and its
	// signing key rotation (saml.go; package bridge/saml).
	SAML SAMLConfig `yaml:"saml"`
	// Memory sets what the running server keeps of its own executable in memory.
	Memory MemoryConfig `yaml:"memory"`
}

// MemoryConfig sets what `serve` keeps of the executable's pages (package bridge/procmem) and
// how much room the garbage collector leaves the heap.
type MemoryConfig struct {
	// BinaryPages: evict (default) unmaps the executable's code and read-only data after
	// start-up, drops the pages no process maps from the page cache and reads them back one
	// page at a time as they are used (about 8 MB less resident memory under load, a few
	// thousand 4 KiB reads from disk in the first seconds); unmap only unmaps them (they come
	// back from the page cache with their neighbours); keep leaves them. A cgo build also
	// drops the executable's page cache once before package initialisation, before this
	// setting is read, when the executable was written within the last 10 minutes (a fresh
	// `go build` or `go run`; an installed, packaged or image binary is left alone):
	// SSOBRIDGE_BINARY_PAGES=keep (or unmap) in the environment skips that too.
	BinaryPages string `yaml:"binary_pages"`
	// ReleaseEvery is how often serve unmaps again the pages of the executable's code and
	// read-only data, and of the shared libraries', that the process has mapped since the last
	// time (default 250ms; 0s: only once, after start-up; not with binary_pages keep). A phase of
	// work maps its code, with up to 64 KiB around each page it touches, and that stays
	// resident after the work has moved on: in the load runs this keeps 3-4 MB less resident at
	// the peak. The pages stay in the page cache: what is used again comes back with a minor
	// fault, a few hundred after each release under load (an idle server skips the releases
	// until its background work has faulted pages in: about one every 20 s). Between 100ms and 1h.
	ReleaseEvery time.Duration `yaml:"release_every"`
	// GCPercent is the garbage collector's target (Go's GOGC, 50 to 1000; default 100): a
	// collection starts when the heap has grown by this percentage of what the last one left
	// live, and never below 4 MB x GCPercent/100. Higher: fewer collections (less CPU per
	// request) for a larger heap (150: about a third fewer collections and 2-3 MB more peak
	// RSS in the load runs); lower: the reverse. The GOGC environment variable, when set,
	// overrides it.
	GCPercent int `yaml:"gc_percent"`
	// HeapFloorMB is the heap size in MB below which the garbage collector does not start
	// (default 8; 0: Go's own minimum, 4 MB x GCPercent/100): while GCPercent would start a
	// collection earlier, the collector's target is raised to start it here (package
	// bridge/heapfloor). With a live heap of about 2 MB, 6 collects about half as often as the
	// 4 MB minimum, 8 about 2.4 times less often (for 1-2 MB more peak RSS); once the live heap is
	// large enough for GCPercent to pass the floor, GCPercent alone decides. Not applied when
	// the GOGC environment variable is set.
	HeapFloorMB int `yaml:"heap_floor_mb"`
}

// memory.gc_percent: its default, and the bounds it is checked against (below 50 the collector
// runs for a third of the heap's growth or less; above 1000 the heap may grow to 11 times what
// is live; off, Go's GOGC=off, would let it grow without bound).
const (
	DefaultGCPercent = 100
	MinGCPercent     = 50
	MaxGCPercent     = 1000
)

// memory.release_every: its default and bounds (each release under load costs about a
// millisecond and the few hundred faults that follow it: ten a second is plenty; an hour apart,
// a release does little more than the one after start-up).
const (
	DefaultReleaseEvery = 250 * time.Millisecond
	MinReleaseEvery     = 100 * time.Millisecond
	MaxReleaseEvery     = time.Hour
)

// memory.heap_floor_mb: its default and its bound (the floor is heap the process may hold
// as garbage between collections: a gigabyte is more than any bridge needs).
const (
	DefaultHeapFloorMB = 8
	MaxHeapFloorMB     = 1024
)

// Organisation brands the pages.
type Organisation struct {
	Name string `yaml:"name"`
	// LogoURL is an https URL or a path on this server.
	LogoURL string `yaml:"logo_url"`
	// PrimaryColor is the buttons' and links' colour, #rrggbb.
	PrimaryColor string `yaml:"primary_color"`
	// SupportURL is linked at the foot of every page ("Help and support").
	SupportURL string `yaml:"support_url"`
}

// KeysConfig configures signing keys.
type KeysConfig struct {
	// EncryptionKey is base64 of 32 bytes; it encrypts private signing keys at rest. When empty
	// it is generated into the data dir with a warning.
	EncryptionKey string `yaml:"encryption_key"`
	// Algorithms to keep a signing key for: RS256 (always on), ES256, EdDSA; clients choose
	// with id_token_signing_alg.
	Algorithms []string `yaml:"algorithms"`
	// RotateEvery is how long a key signs; a new key is published a day before it starts
	// signing, and a retired key stays in JWKS until its tokens have expired.
	RotateEvery time.Duration `yaml:"rotate_every"`
	// RSASigner is what makes RSA signatures (RS256 ID tokens, JWT access tokens, logout
	// tokens; the SAML IdP's RSA-SHA256 XML and redirect signatures): "auto" (the default)
	// signs through the system's OpenSSL 3 (libcrypto.so.3, Debian's libssl3) when this
	// build can load it (a cgo build on Linux), 2.5-3.3 times as fast as Go's crypto/rsa, and
	// with crypto/rsa otherwise. Each key is self-tested with libcrypto when it is loaded or
	// made (not one past its sign_until); one it refuses signs with crypto/rsa, with a
	// warning; a signature libcrypto fails later is made by crypto/rsa, which signs for a
	// back-off (1 minute, doubling to 64) before libcrypto is tried again. "openssl" never
	// lets crypto/rsa sign instead: it refuses to start unless OpenSSL signs with the current
	// RS256 key and the current SAML key, never lets a later RS256 key that fails the
	// self-test sign (an error in the log; the key before it signs until its sign_until, then
	// RS256 tokens fail until the test passes at a rotation or reload), nor a later SAML key
	// it refuses (likewise: the SAML key before it signs until its sign_until, then SAML
	// signatures fail), and a signature libcrypto fails is an error (the request fails;
	// the next signature tries libcrypto again); "go" always uses crypto/rsa. The signatures
	// are the same bytes either way, and each is checked with crypto/rsa before it leaves.
	// The start-up log says which signs RS256 tokens and which signs SAML.
	RSASigner string `yaml:"rsa_signer"`
}

// TokensConfig sets lifetimes.
type TokensConfig struct {
	AccessToken time.Duration `yaml:"access_token_lifetime"`
	IDToken     time.Duration `yaml:"id_token_lifetime"`
	// RefreshToken is the absolute lifetime of a refresh-token family (rotation never
	// extends it); RefreshPublic the same for public clients.
	RefreshToken  time.Duration `yaml:"refresh_token_lifetime"`
	RefreshPublic time.Duration `yaml:"refresh_token_lifetime_public"`
	// Code is the lifetime of single-use authorization codes (at most 10m).
	Code time.Duration `yaml:"code_lifetime"`
	// RefreshReuseGrace (opt-in, at most 60s) lets a rotated refresh token be presented again
	// for that long and get the same successor (a client that lost the response). Default 0:
	// strict rotation, any reuse revokes the family. The trade-off: inside the window a thief
	// who replays the stolen token gets the same live successor, and goes undetected.
	RefreshReuseGrace time.Duration `yaml:"refresh_reuse_grace"`
	// Device codes (RFC 8628): how long a device code lives and the minimum polling interval.
	DeviceCode     time.Duration `yaml:"device_code_lifetime"`
	DeviceInterval time.Duration `yaml:"device_poll_interval"`
}

// SessionConfig sets the SSO session lifetime.
type SessionConfig struct {
	// Lifetime is how long a member stays signed in to the bridge (the SSO session).
	Lifetime time.Duration `yaml:"lifetime"`
}

// ThrottleConfig sets login throttling.
type ThrottleConfig struct {
	// PerLogin failures within Window before a login is slowed, then refused.
	PerLogin int `yaml:"per_login"`
	// PerIP failures within Window before an address is slowed, then refused.
	PerIP  int           `yaml:"per_ip"`
	Window time.Duration `yaml:"window"`
	// Lockout is how long refusal lasts once a limit is reached.
	Lockout time.Duration `yaml:"lockout"`
	// AnonymousWrites is how many writing requests one client IP (or IPv6 /64) may make per
	// minute to each endpoint that writes for an anonymous caller (authorize, the login page,
	// the hand-off POST, device authorization, the device-code form), and how many audit rows
	// its failed sign-ins and client authentications may write; beyond it 429 with
	// Retry-After. The sign-in form's attempts are throttled per login and per IP instead.
	AnonymousWrites int `yaml:"anonymous_writes"`
	// DevicePerNetwork is how many wrong device user codes browsers without a session may enter
	// from one IPv6 /48 within Window before its entries are slowed, then refused for Lockout:
	// per_ip counts a /64, and a /48 holds 65,536 of them. IPv4 addresses are counted by
	// per_ip alone.
	DevicePerNetwork int `yaml:"device_per_network"`
}

// AuditConfig sets the audit log's retention.
type AuditConfig struct {
	// Retention is how long audit events are kept (default 90 days); 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Defaults returns the embedded defaults.
func Defaults() Config {
	return Config{
		Listen:  "127.0.0.1:8080",
		Issuer:  "http://localhost:8080",
		DataDir: "./ssobridge-data",
		Store: store.Config{ConnectTimeout: postgres.DefaultTimeouts.Connect, StatementTimeout: postgres.DefaultTimeouts.Statement,
			TCPUserTimeout: postgres.DefaultTimeouts.TCPUser},
		Organisation: Organisation{Name: "Demo Association", PrimaryColor: "#0b5cab"},
		Keys:         KeysConfig{Algorithms: []string{"RS256", "ES256", "EdDSA"}, RotateEvery: 30 * 24 * time.Hour, RSASigner: "auto"},
		Tokens: TokensConfig{AccessToken: 15 * time.Minute, IDToken: 15 * time.Minute, RefreshToken: 30 * 24 * time.Hour,
			RefreshPublic: 24 * time.Hour, Code: 60 * time.Second, DeviceCode: 10 * time.Minute, DeviceInterval: 5 * time.Second},
		Session: SessionConfig{Lifetime: 12 * time.Hour},
		Throttle: ThrottleConfig{PerLogin: 5, PerIP: 50, Window: 15 * time.Minute, Lockout: 15 * time.Minute,
			AnonymousWrites: 120, DevicePerNetwork: 50},
		Log:    LogConfig{Level: "info", Format: "text"},
		Memory: MemoryConfig{BinaryPages: "evict", ReleaseEvery: DefaultReleaseEvery, GCPercent: DefaultGCPercent, HeapFloorMB: DefaultHeapFloorMB},
		Audit:  AuditConfig{Retention: 90 * 24 * time.Hour},
		Admin:  AdminConfig{Listen: "127.0.0.1:8081"},
		Health: HealthDefaults(),
		Shadow: provisioning.Defaults(),
	}
}

// PlaygroundEnabled reports whether the playground is on: as playground: says, or, when it is
// not set, only when the issuer is on a loopback host (the embedded-defaults development
// set-up, where the playground is how a new user tries the bridge). A production issuer gets
// no trusted built-in public client unless the operator asks for one (secure by default).
func (c *Config) PlaygroundEnabled() bool {
	if c.Playground != nil {
		return *c.Playground
	}
	u, err := url.Parse(c.Issuer)
	return err == nil && u.IsAbs() && loopbackHost(u.Hostname())
}

// StoreConfig is the store section with the data dir filled in.
func (c *Config) StoreConfig() store.Config {
	s := c.Store
	s.DataDir = c.DataDir
	return s
}

// PolicyConfig is the claim policy configuration with the directory's extra columns and
// membership rule (legacy.membership_grace, legacy.standing_rule) filled in.
func (c *Config) PolicyConfig() policy.Config {
	p := c.Policy
	r := c.Legacy.MemberRules()
	p.ExtraColumns, p.MembershipGrace, p.StandingRule = r.ExtraColumns, r.MembershipGrace, r.StandingRule
	return p
}

// Directory is the AMS connector's configuration: the legacy: section's type, with the iMIS
// website of the top-level ams: section.
func (c *Config) Directory() (directories.Config, error) {
	return c.Legacy.Resolve(c.AMS.WebsiteConfig)
}

// AMSConfig is the top-level ams: section: the iMIS website (its token endpoint, SSO page and
// logout URL; package legacy/imis owns and validates it) and what the bridge does with
// hand-offs.
type AMSConfig struct {
	imis.WebsiteConfig `yaml:",inline"`
	// DefaultClient is where a hand-off goes when no app is waiting: the client's
	// initiate_login_uri (OIDC third-party initiated login). Empty: the member's account page.
	DefaultClient string `yaml:"default_client"`
	// ExchangeClients lists the clients allowed to exchange AMS tokens (RFC 8693, subject_token_type
	// ExchangeTokenTypeAMS); each also needs the token-exchange grant type. Empty: none may.
	ExchangeClients []string `yaml:"exchange_clients"`
}

// AdminConfig is the admin HTTP API, on its own listener. It is off when Token is empty.
type AdminConfig struct {
	Listen string `yaml:"listen"` // host:port; default 127.0.0.1:8081
	Token  string `yaml:"token"`  // bearer token, e.g. ${ADMIN_TOKEN}; at least 32 characters
	// Console is the admin console on the same listener (console.go); off without roles.
	Console ConsoleConfig `yaml:"console"`
}

// Enabled reports whether the admin API runs.
func (a *AdminConfig) Enabled() bool { return a.Token != "" }
