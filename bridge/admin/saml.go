package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

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
