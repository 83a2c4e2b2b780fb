package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// SAMLServiceProvider is the SP sp names as the admin API shows it (GET
// /admin/saml/service-providers/{sp}).
func (s samlSettingsAdmin) SAMLServiceProvider(ctx context.Context, sp string) (*admin.SAMLServiceProvider, error) {
	d, err := s.reg.Describe(ctx, sp)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", admin.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	out := &admin.SAMLServiceProvider{ID: d.ID, EntityID: d.EntityID, Name: d.Name, From: "registered",
		Settings: admin.SAMLSPSettings{NameIDFormat: d.Settings.NameIDFormat, AllowInsecureSOAPSLO: d.Settings.AllowInsecureSOAPSLO,
			EncryptAssertions: d.Settings.EncryptAssertions, EncryptionMethod: d.Settings.EncryptionMethod,
			AuthnRequestsSigned: d.Settings.AuthnRequestsSigned, LogoutResponsesSigned: d.Settings.LogoutResponsesSigned,
			AllowedRoles: nonNil(d.Settings.AllowedRoles), Scopes: nonNil(d.Settings.Scopes)},
		AssertionConsumerServices: []string{}, SingleLogoutServices: []string{}, Certificates: []admin.SAMLSPCertificate{},
		Served: d.Unusable == nil, GetsLogouts: d.Unusable == nil || d.GetsLogouts}
	if d.FromConfig {
		out.From = "config"
	}
	if !d.RegisteredAt.IsZero() {
		at := d.RegisteredAt.UTC()
		out.RegisteredAt = &at
	}
	if d.Unusable != nil {
		out.Unusable = d.Unusable.Error()
	}
	if d.BrowserSLOUntold != nil {
		out.BrowserLogoutUntold = d.BrowserSLOUntold.Error()
	}
	now := d.At
	if sum := d.Summary; sum != nil {
		out.AssertionConsumerServices = nonNil(sum.ACS)
		out.SingleLogoutServices = nonNil(sum.SLO)
		out.NameIDFormatsListed = sum.NameIDFormats
		if !sum.ValidUntil.IsZero() {
			v := sum.ValidUntil.UTC()
			out.ValidUntil = &v
			if !now.Before(v) {
				out.Notes = append(out.Notes, "its metadata's validUntil has passed; it is still served: give it the SP's current metadata (ssobridge saml refresh)")
			}
		}
	}
	for _, c := range d.Certificates {
		ac := admin.SAMLSPCertificate{Use: c.Use, SHA256: c.SHA256, Subject: c.Subject}
		if c.Err != nil {
			ac.Error = c.Err.Error()
		} else {
			na := c.NotAfter.UTC()
			ac.NotAfter = &na
			if !now.Before(na) {
				out.Notes = append(out.Notes, fmt.Sprintf("its %s certificate %s expired at %s (SAML does not refuse it for that; the SP may be about to roll it over: ssobridge saml refresh once it publishes the new one)",
					c.Use, c.SHA256[:16], na.Format(time.RFC3339)))
			}
		}
		out.Certificates = append(out.Certificates, ac)
	}
	return out, nil
}

// nonNil is v, or an empty list (shown [] rather than null).
func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
