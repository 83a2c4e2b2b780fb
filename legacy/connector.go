package legacy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// An AMS connector is opened from its configuration (each connector package exports a Config
// with an Open method; the bridge chooses one by legacy.type). Its member Directory is all it
// must offer; what else it can do is a small optional interface found by type assertion on the
// Connector, as Dex's connector.PasswordConnector, RefreshConnector and
// LogoutCallbackConnector: the bridge offers the hand-off from the AMS website, single sign-off
// and the rest only when the connector has them.

// Connector is an open connection to an AMS.
type Connector interface {
	// Directory is the member directory (with the connector's profile cache in front, if any).
	Directory() Directory
	// Close releases the connection.
	Close() error
}

// OpenOptions are what the bridge tells a connector it opens.
type OpenOptions struct {
	Logger *slog.Logger
	// Issuer is the bridge's public URL.
	Issuer string
	// HandoffURL is where an AMS website posts its single sign-on hand-off (the bridge's
	// /handoff/imis, the URL installed iMIS websites post to, for any AMS).
	HandoffURL string
	// SiteName is the organisation's name (the demo's simulated website is named after it).
	SiteName string
	// Standing, when set, replaces the connector's membership rule (the bridge's standing_rule).
	Standing func(m *Member, now time.Time) Membership
	// Queries, when set, is told about every query the connector runs against the AMS
	// (metrics). Nil: none.
	Queries QueryObserver
}

// QueryObserver is told about each named query a connector runs against the AMS: its name
// (a fixed, configured name such as member_by_login, never a member's data), how long it took
// and its error (nil on success). It must be cheap and safe for concurrent use.
type QueryObserver interface {
	ObserveQuery(name string, took time.Duration, err error)
}

// MemberRules are the settings of a connector's configuration that the bridge's policy engine
// reads: the extra profile columns, the membership grace period and the standing rule.
type MemberRules struct {
	ExtraColumns    []string
	MembershipGrace time.Duration
	StandingRule    string
}

// HandoffExchanger is an AMS website that hands signed-in members over to the bridge (iMIS:
// the SSO iPart posts a refresh token of the AMS's token endpoint). The bridge redeems the
// token once, for the hand-off and for RFC 8693 token exchange.
type HandoffExchanger interface {
	// ExchangeHandoff redeems token at the AMS and returns the AMS login name it was issued
	// to. Errors: ErrHandoffRefused (invalid, expired or already used), ErrHandoffClient (the
	// AMS refused the bridge's own credentials), or one wrapping ErrUnavailable.
	ExchangeHandoff(ctx context.Context, token string) (login string, err error)
	// Website describes the AMS website that hands off.
	Website() Website
}

// Website is the AMS website, as the bridge's pages name it and check requests from it.
type Website struct {
	// Name is the website's name ("Continue with your member account on ..."); "" for a
	// generic one.
	Name string
	// SSOURL is the page that starts the hand-off (where "Continue with..." sends members).
	SSOURL string
	// Origins are the website's origins (scheme://host[:port]): a hand-off or sign-out whose
	// Origin or Referer is one of them came from the website.
	Origins []string
}

// LogoutURLer is an AMS website with a sign-out page for single sign-off.
type LogoutURLer interface {
	// LogoutURL returns the AMS sign-out URL that sends the browser on to returnURL; ok is
	// false when there is none.
	LogoutURL(returnURL string) (u string, ok bool)
}

// PageServer is a connector that serves web pages of its own on the bridge (the demo's
// simulated AMS website under /demo-ams).
type PageServer interface {
	// Pages returns the path prefix to mount and its handler (requests keep the prefix).
	Pages() (prefix string, h http.Handler)
}

// Diagnoser is a connector that can explain, for one login, what each of its queries finds
// (the CLI's `legacy check --login`).
type Diagnoser interface {
	Diagnose(ctx context.Context, login string, w io.Writer) error
}

// Capabilities of a connector's configuration (the `legacy:` section of one type), found by
// type assertion before the connector is opened.

// MemberKeyModes are the member key modes of a connector's configuration (legacy.member_key).
type MemberKeyModes struct {
	// Configured is the mode the configuration names ("": not set).
	Configured string
	// Default is a new installation's mode.
	Default string
	// Unrecorded is the mode of an installation that issued subjects before the bridge
	// recorded the mode in use.
	Unrecorded string
}

// MemberKeyChooser is a configuration whose member key, from which the bridge derives
// subjects, has modes. The bridge records the mode in use at first start and keeps it
// (SetMemberKey before opening), so that no upgrade changes every subject.
type MemberKeyChooser interface {
	MemberKeyModes() MemberKeyModes
	// SetMemberKey sets the mode to open with ("": the configured one or the default).
	SetMemberKey(mode string)
}

// TokenChecker is a configuration with an AMS token endpoint that the CLI's
// `legacy check --token` can test: it writes what it does and finds to w and returns an error
// when the endpoint is not configured or does not work.
type TokenChecker interface {
	CheckToken(ctx context.Context, w io.Writer) error
}

// Hand-off failures (HandoffExchanger).
var (
	ErrHandoffRefused = errors.New("legacy: the AMS refused the hand-off token (invalid, expired or already used)")
	ErrHandoffClient  = errors.New("legacy: the AMS refused the bridge's client credentials")
)
