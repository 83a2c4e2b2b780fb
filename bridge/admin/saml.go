package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// SAMLServiceProviders shows a SAML service provider and changes a registered one's settings
// (the server's registry: bridge/samlsettings.go).
type SAMLServiceProviders interface {
	SAMLSettingsChanger
	// SAMLServiceProvider is the SP sp names (its id or entity id), of the configuration file
	// or registered; an error wrapping ErrNotFound when none.
	SAMLServiceProvider(ctx context.Context, sp string) (*SAMLServiceProvider, error)
}

// SAMLServiceProvider is the answer of GET /admin/saml/service-providers/{sp}: what an operator
// needs to know of one SP.
type SAMLServiceProvider struct {
	ID       string `json:"id"`
	EntityID string `json:"entity_id"`
	Name     string `json:"name"`
	// From is "config" (the configuration file: changed there) or "registered" (ssobridge saml
	// register; changed with PATCH, saml set and saml refresh).
	From         string         `json:"from"`
	RegisteredAt *time.Time     `json:"registered_at,omitempty"`
	Settings     SAMLSPSettings `json:"settings"`
	// The endpoints of its metadata, "<binding> <location>"; the NameID formats it lists.
	AssertionConsumerServices []string `json:"assertion_consumer_services"`
	SingleLogoutServices      []string `json:"single_logout_services"`
	NameIDFormatsListed       []string `json:"name_id_formats_listed,omitempty"`
	// ValidUntil is its metadata's validUntil (none: left out). Past, the SP is still served.
	ValidUntil   *time.Time          `json:"valid_until,omitempty"`
	Certificates []SAMLSPCertificate `json:"certificates"`
	// Served: it is served for sign-ins. When not, Unusable says why and GetsLogouts whether
	// its members' single logouts still reach it.
	Served      bool   `json:"served"`
	Unusable    string `json:"unusable,omitempty"`
	GetsLogouts bool   `json:"gets_logouts"`
	// BrowserLogoutUntold says why a sign-out through the browser (and the answer to its own
	// LogoutRequest) does not tell it: its browser single logout service is plain http on
	// another host, allow_insecure_soap_slo off (audited logout.untold).
	BrowserLogoutUntold string `json:"browser_logout_untold,omitempty"`
	// Notes: what the operator may want to act on (an expired validUntil, a certificate past
	// its expiry).
	Notes []string `json:"notes,omitempty"`
}

// SAMLSPSettings are an SP's settings, every one shown (false and empty too).
type SAMLSPSettings struct {
	NameIDFormat          string   `json:"name_id_format"`
	AllowInsecureSOAPSLO  bool     `json:"allow_insecure_soap_slo"`
	EncryptAssertions     bool     `json:"encrypt_assertions"`
	EncryptionMethod      string   `json:"encryption_method,omitempty"`
	AuthnRequestsSigned   bool     `json:"authn_requests_signed"`
	LogoutResponsesSigned bool     `json:"logout_responses_signed"`
	AllowedRoles          []string `json:"allowed_roles"`
	Scopes                []string `json:"scopes"`
}

// SAMLSPCertificate is a certificate of an SP's metadata.
type SAMLSPCertificate struct {
	Use    string `json:"use"` // signing, encryption or both
	SHA256 string `json:"sha256"`
	// NotAfter is its expiry, when it parses (else Error says why).
	NotAfter *time.Time `json:"not_after,omitempty"`
	Subject  string     `json:"subject,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// SAMLServiceProvider shows a SAML SP (by id or entity id); the read is audited
// (admin.saml_sp_show, the SP's id as the client).
func (a *Service) SAMLServiceProvider(ctx context.Context, actor, sp string) (*SAMLServiceProvider, error) {
	if a.SAMLSettings == nil {
		return nil, fmt.Errorf("%w: the SAML service providers are not managed here", ErrInvalid)
	}
	if sp = strings.TrimSpace(sp); sp == "" {
		return nil, fmt.Errorf("%w: the service provider (id or entity id) is required", ErrInvalid)
	}
	got, err := a.SAMLSettings.SAMLServiceProvider(ctx, sp)
	if err != nil {
		return nil, fmt.Errorf("admin: saml service provider %s: %w", sp, err)
	}
	a.record(ctx, actor, "admin.saml_sp_show", "", got.ID, got.EntityID)
	return got, nil
}

func (a *Service) httpSAMLServiceProvider(w http.ResponseWriter, r *http.Request) {
	got, err := a.SAMLServiceProvider(r.Context(), actor(r), r.PathValue("sp"))
	a.answer(w, r, http.StatusOK, got, err)
}

// SAMLSettingsChanger changes a registered SAML service provider's settings in place
// (bridge/saml's Registry.ChangeSettings, the server's registry: every replica is told). Its
// errors wrap ErrNotFound (no such SP), ErrInvalid (a value refused), ErrStaticSAMLSP and
// ErrSAMLChangedMeanwhile.
type SAMLSettingsChanger interface {
	ChangeSAMLSettings(ctx context.Context, sp string, c SAMLSettingsChange) (*SAMLSettingsChanged, error)
}

// SAMLSettingsChange is the body of PATCH /admin/saml/service-providers/{sp}: each field given
// is the new value, each left out stays.
type SAMLSettingsChange struct {
	// NameIDFormat: persistent or email (email only with email_verified).
	NameIDFormat *string `json:"name_id_format,omitempty"`
	// AllowInsecureSOAPSLO lets its SOAP single logout service be plain http or an internal
	// address, and its browser one plain http on another host (an SP registered before that
	// rule).
	AllowInsecureSOAPSLO *bool `json:"allow_insecure_soap_slo,omitempty"`
}

// SAMLSettingsChanged is the answer: the SP's settings after the change and what changed.
type SAMLSettingsChanged struct {
	ID                   string   `json:"id"`
	EntityID             string   `json:"entity_id"`
	NameIDFormat         string   `json:"name_id_format"`
	AllowInsecureSOAPSLO bool     `json:"allow_insecure_soap_slo"`
	Changes              []string `json:"changes,omitempty"`
	// Unchanged: the values given are the stored ones; nothing was written.
	Unchanged bool `json:"unchanged,omitempty"`
	// Notes say what the change means (a new NameID format applies from the next sign-in; the
	// SP is still refused for sign-ins).
	Notes []string `json:"notes,omitempty"`
	// Warning: stored, but the other replicas could not be told at once.
	Warning string `json:"warning,omitempty"`
}

var (
	// ErrStaticSAMLSP is a change to an SP of the configuration file (the HTTP API answers 409).
	ErrStaticSAMLSP = errors.New("the service provider is defined in the configuration file; change it there")
	// ErrSAMLChangedMeanwhile is a change that lost to another one of the same SP (409): nothing
	// was changed.
	ErrSAMLChangedMeanwhile = errors.New("the service provider's registration changed meanwhile; nothing was changed: try again")
)

// ChangeSAMLSettings changes a registered SAML SP's settings in place (by id or entity id): it
// keeps its id, metadata, policy, places in members' sessions and queued logouts. A change is
// audited (admin.saml_sp_settings, the SP's id as the client, what changed); one to the stored
// values writes nothing and is not audited.
func (a *Service) ChangeSAMLSettings(ctx context.Context, actor, sp string, c SAMLSettingsChange) (*SAMLSettingsChanged, error) {
	if a.SAMLSettings == nil {
		return nil, fmt.Errorf("%w: the SAML service providers are not managed here", ErrInvalid)
	}
	if sp = strings.TrimSpace(sp); sp == "" {
		return nil, fmt.Errorf("%w: the service provider (id or entity id) is required", ErrInvalid)
	}
	if c.NameIDFormat == nil && c.AllowInsecureSOAPSLO == nil {
		return nil, fmt.Errorf("%w: give name_id_format or allow_insecure_soap_slo", ErrInvalid)
	}
	got, err := a.SAMLSettings.ChangeSAMLSettings(ctx, sp, c)
	if err != nil {
		return nil, fmt.Errorf("admin: saml service provider %s: %w", sp, err)
	}
	if !got.Unchanged {
		a.record(ctx, actor, "admin.saml_sp_settings", "", got.ID, got.EntityID+": "+strings.Join(got.Changes, "; "))
	}
	return got, nil
}

func (a *Service) httpChangeSAMLSettings(w http.ResponseWriter, r *http.Request) {
	var c SAMLSettingsChange
	var got *SAMLSettingsChanged
	err := decodeBody(r, &c)
	if err == nil {
		got, err = a.ChangeSAMLSettings(r.Context(), actor(r), r.PathValue("sp"), c)
	}
	switch {
	case errors.Is(err, ErrStaticSAMLSP):
		writeError(w, http.StatusConflict, "static_service_provider", err.Error())
	case errors.Is(err, ErrSAMLChangedMeanwhile):
		writeError(w, http.StatusConflict, "changed_meanwhile", err.Error())
	default:
		a.answer(w, r, http.StatusOK, got, err)
	}
}
