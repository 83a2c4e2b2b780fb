package saml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// SettingsChange is an in-place change of a registered SP's settings (ChangeSettings): each
// field set is the new value, each nil stays as stored.
type SettingsChange struct {
	// NameIDFormat is the NameID the SP is sent from its next sign-in: persistent (the
	// member's subject) or email. NameIDs already sent stay what they were in the sessions that
	// got them: their single logout names the member with them (the store's participants).
	NameIDFormat *string
	// AllowInsecureSOAPSLO lets the SP's SOAP single logout service be plain http or an
	// internal address, and its browser one plain http elsewhere than this machine (only an SP
	// registered before that rule has one: insecureBrowserSLO).
	AllowInsecureSOAPSLO *bool
}

// SettingsChanged is what ChangeSettings did.
type SettingsChanged struct {
	ID, EntityID string
	// Settings are the SP's settings after the change (as before when Unchanged).
	Settings config.SAMLServiceProvider
	// Changes name each setting changed, "name_id_format: persistent -> email".
	Changes []string
	// Unchanged: every value given is the stored one; nothing was written.
	Unchanged bool
	// Unusable: the SP's stored record does not build with its new settings either (its
	// metadata fails a rule of sign-ins), so it is still refused for sign-ins; nil otherwise.
	Unusable error
}

// NameIDFormatNote says what a changed name_id_format means for the sessions that signed in
// before it (ChangeSettings), for the operator who changed it.
const NameIDFormatNote = "the new name_id_format applies from each member's next sign-in at the SP; single logout of the sessions that signed in there before names the member with the NameID the SP was given then; the SP may know a member under the new NameID as another account"

// ErrInConfigFile is in the error of a change to an SP of the configuration file (edit it there).
var ErrInConfigFile = errors.New("the service provider is in the configuration file: change it there")

// ErrInvalidSetting is in the error of a change whose new value is refused (an unknown NameID
// format, an e-mail NameID without email_verified, a SOAP single logout service the change
// would refuse); nothing was written.
var ErrInvalidSetting = errors.New("invalid setting")

// nameIDFormatOf is the format a setting means ("" is persistent).
func nameIDFormatOf(f string) string {
	if f == "" {
		return config.SAMLNameIDPersistent
	}
	return f
}

// ChangeSettings changes a registered SP's settings in place (by id or entity id; one whose
// stored record no longer builds too): its id, entity id, metadata, policy, places in sessions
// and undelivered events stay. It is stored with a compare-and-set against the record read
// (store.SAMLReplacer), like ReplaceMetadata: of two changes at once, one is stored and the other
// refused with ErrReplacedMeanwhile. The new values are checked as a registration checks them
// (name_id_format persistent or email, email only with email_verified; a SOAP single logout
// service that allow_insecure_soap_slo off would refuse keeps it on). An SP of the configuration
// file is refused (ErrInConfigFile); an unknown one is sso.ErrNotFound. Like Register, a change
// the other replicas could not be told of at once comes with ErrNotNotified.
//
// A changed name_id_format applies from the SP's next sign-in of each session: the NameIDs it
// was sent stay the store's record of its participation (store.SAMLParticipant), so every single
// logout of those sessions (back channel, browser, its own LogoutRequest's match) names the
// member with the NameID the SP was given.
func (r *Registry) ChangeSettings(ctx context.Context, idOrEntity string, c SettingsChange) (*SettingsChanged, error) {
	if idOrEntity == "" {
		return nil, fmt.Errorf("%w: name the SP by its id or entity id", ErrInvalidSetting)
	}
	if c.NameIDFormat == nil && c.AllowInsecureSOAPSLO == nil {
		return nil, fmt.Errorf("%w: no setting to change given (name_id_format, allow_insecure_soap_slo)", ErrInvalidSetting)
	}
	for _, sp := range r.static {
		if sp.Settings.ID == idOrEntity || sp.EntityID == idOrEntity {
			return nil, fmt.Errorf("%s: %w", idOrEntity, ErrInConfigFile)
		}
	}
	rec, settings, err := r.storedRecord(ctx, idOrEntity, "")
	if err != nil {
		return nil, err
	}
	out := &SettingsChanged{ID: settings.ID, EntityID: rec.EntityID}
	next := settings
	if c.NameIDFormat != nil {
		next.NameIDFormat = *c.NameIDFormat
		if err := next.CheckSettings(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSetting, err)
		}
		if err := config.CheckEmailNameID(next.NameIDFormat, r.EmailVerified); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSetting, err)
		}
		if was, now := nameIDFormatOf(settings.NameIDFormat), nameIDFormatOf(next.NameIDFormat); was != now {
			out.Changes = append(out.Changes, "name_id_format: "+was+" -> "+now)
		}
	}
	if c.AllowInsecureSOAPSLO != nil {
		next.AllowInsecureSOAPSLO = *c.AllowInsecureSOAPSLO
		if settings.AllowInsecureSOAPSLO != next.AllowInsecureSOAPSLO {
			out.Changes = append(out.Changes, "allow_insecure_soap_slo: "+strconv.FormatBool(settings.AllowInsecureSOAPSLO)+" -> "+strconv.FormatBool(next.AllowInsecureSOAPSLO))
		}
		// Turned off, it must not leave a SOAP single logout service the registration refuses.
		if md, err := parseSPMetadata(rec.Metadata); err == nil && !next.AllowInsecureSOAPSLO {
			if loc := soapSLO(&SP{Metadata: md}); loc != "" {
				if err := config.CheckSOAPSLOURL(loc, false); err != nil {
					return nil, fmt.Errorf("%w: allow_insecure_soap_slo: its SOAP single logout service %q %v: it stays on", ErrInvalidSetting, loc, err)
				}
			}
		}
	}
	out.Settings = next
	if len(out.Changes) == 0 {
		out.Unchanged, out.Settings = true, settings
		return out, nil
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	if _, unusable := buildStored([]*store.SAMLServiceProvider{{EntityID: rec.EntityID, ID: rec.ID, Settings: raw, Metadata: rec.Metadata}}, r.EmailVerified); len(unusable) == 1 {
		out.Unusable = unusable[0].Err
	}
	if err := r.store.ReplaceSAMLServiceProvider(ctx, rec, raw, rec.Metadata); err != nil {
		switch {
		case errors.Is(err, sso.ErrConflict):
			return nil, &storeRefusal{msg: fmt.Sprintf("%s: %v", rec.EntityID, errSettingsChangedMeanwhile), err: errors.Join(ErrReplacedMeanwhile, err)}
		case errors.Is(err, sso.ErrNotFound):
			return nil, &storeRefusal{msg: fmt.Sprintf("%s was removed while its settings were changed; nothing was stored", rec.EntityID), err: err}
		}
		return nil, err
	}
	return out, r.changed(ctx)
}

// errSettingsChangedMeanwhile is ErrReplacedMeanwhile as a settings change says it.
var errSettingsChangedMeanwhile = errors.New("its registration changed while the new settings were checked (another change, a refresh or a removal); nothing was changed: run the command again")
