package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/sso"
)

// samlSettingsAdmin is the SAML SPs' registry as the administration changes their settings
// (admin.SAMLSettingsChanger): the server's, whose changes every replica is told of.
type samlSettingsAdmin struct{ reg *saml.Registry }

func (s samlSettingsAdmin) ChangeSAMLSettings(ctx context.Context, sp string, c admin.SAMLSettingsChange) (*admin.SAMLSettingsChanged, error) {
	got, err := s.reg.ChangeSettings(ctx, sp, saml.SettingsChange{NameIDFormat: c.NameIDFormat, AllowInsecureSOAPSLO: c.AllowInsecureSOAPSLO})
	warning := ""
	if got != nil && errors.Is(err, saml.ErrNotNotified) { // stored; the others read it at their next check
		warning, err = err.Error(), nil
	}
	switch {
	case err == nil:
	case errors.Is(err, saml.ErrInConfigFile):
		return nil, fmt.Errorf("%w (%s)", admin.ErrStaticSAMLSP, sp)
	case errors.Is(err, saml.ErrInvalidSetting):
		return nil, fmt.Errorf("%w: %s", admin.ErrInvalid, strings.TrimPrefix(err.Error(), saml.ErrInvalidSetting.Error()+": "))
	case errors.Is(err, saml.ErrReplacedMeanwhile):
		return nil, fmt.Errorf("%w: %v", admin.ErrSAMLChangedMeanwhile, err)
	case errors.Is(err, sso.ErrNotFound):
		return nil, fmt.Errorf("%w: %v", admin.ErrNotFound, err)
	default:
		return nil, err
	}
	format := got.Settings.NameIDFormat
	if format == "" {
		format = config.SAMLNameIDPersistent
	}
	out := &admin.SAMLSettingsChanged{ID: got.ID, EntityID: got.EntityID, NameIDFormat: format,
		AllowInsecureSOAPSLO: got.Settings.AllowInsecureSOAPSLO, Changes: got.Changes, Unchanged: got.Unchanged, Warning: warning}
	for _, ch := range got.Changes {
		if strings.HasPrefix(ch, "name_id_format:") {
			out.Notes = append(out.Notes, saml.NameIDFormatNote)
		}
	}
	if got.Unusable != nil {
		out.Notes = append(out.Notes, "it is still refused for sign-ins: "+got.Unusable.Error())
	}
	return out, nil
}
