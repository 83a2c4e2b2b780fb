package saml

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Description is what an operator needs to know of one SP (Registry.Describe): its settings,
// what its metadata gives the bridge (endpoints, certificates with their expiry) and whether
// it is served.
type Description struct {
	ID, EntityID, Name string
	// FromConfig: entered in the configuration file; otherwise registered from metadata.
	FromConfig bool
	// Settings are the bridge's settings of the SP (name_id_format "" is persistent).
	Settings config.SAMLServiceProvider
	// RegisteredAt is when a registered SP was registered (zero for the configuration's).
	RegisteredAt time.Time
	// Summary is what the bridge uses of its metadata, as the SP publishes it (the
	// configuration's: as built from its fields); nil when the stored metadata does not read.
	Summary *Summary
	// Certificates are its metadata's certificates, each with its use and expiry when it reads.
	Certificates []CertificateInfo
	// Unusable is why a registered SP is refused for sign-ins (its record does not build);
	// nil when it is served. GetsLogouts: refused, it is still sent its members' logouts.
	Unusable    error
	GetsLogouts bool
	// BrowserSLOUntold is why the browser sign-out chain, and the answer to the SP's own
	// LogoutRequest, leave the SP untold (its browser single logout service is plain http on
	// another host and allow_insecure_soap_slo is off: insecureBrowserSLO); nil when they tell it.
	BrowserSLOUntold error
	// At is when it was described (the registry's clock), for a caller that compares the
	// dates above with now.
	At time.Time
}

// CertificateInfo is one certificate of an SP's metadata.
type CertificateInfo struct {
	// Use is signing, encryption or both (a KeyDescriptor without a use).
	Use string
	// SHA256 is the hex SHA-256 of the certificate (DER); the first 16 digits are the
	// fingerprint Summary shows.
	SHA256 string
	// NotAfter is the certificate's expiry (zero when it does not parse). SAML does not hold
	// an SP to its certificate's dates; it tells the operator when the SP is likely to roll over.
	NotAfter time.Time
	Subject  string
	// Err: the certificate does not parse (its expiry is unknown).
	Err error
}

// Describe is the SP idOrEntity names (its id or entity id), of the configuration file or
// registered (one whose stored record no longer builds too, with why); sso.ErrNotFound when
// none. It reads the store: a registration made elsewhere a moment ago is found.
func (r *Registry) Describe(ctx context.Context, idOrEntity string) (*Description, error) {
	idOrEntity = strings.TrimSpace(idOrEntity)
	for _, sp := range r.static {
		if sp.Settings.ID == idOrEntity || sp.EntityID == idOrEntity {
			d := describeSP(sp.Settings, sp.EntityID, sp.Metadata)
			d.FromConfig = true
			d.BrowserSLOUntold, d.At = insecureBrowserSLO(sp), r.now()
			return d, nil
		}
	}
	if idOrEntity == "" {
		return nil, fmt.Errorf("no SAML service provider named: %w", sso.ErrNotFound)
	}
	rec, err := r.storedRec(ctx, idOrEntity, "")
	if err != nil {
		return nil, err
	}
	var settings config.SAMLServiceProvider
	if err := json.Unmarshal(rec.Settings, &settings); err != nil {
		// Shown all the same (its id, entity id and why), as saml list shows it.
		d := &Description{ID: rec.ID, EntityID: rec.EntityID, Name: rec.ID, RegisteredAt: rec.CreatedAt, At: r.now(),
			Unusable: fmt.Errorf("its stored settings do not read: %w", err)}
		if md, err := parseSPMetadata(rec.Metadata); err == nil {
			s := Summarize(md)
			d.Summary, d.Certificates = &s, certificates(md)
		}
		return d, nil
	}
	md, mdErr := parseSPMetadata(rec.Metadata)
	d := describeSP(settings, rec.EntityID, md)
	d.RegisteredAt, d.At = rec.CreatedAt, r.now()
	out, unusable := buildStored([]*store.SAMLServiceProvider{rec}, r.EmailVerified)
	var sp *SP
	switch {
	case len(out) == 1:
		sp = out[0]
	case len(unusable) == 1:
		d.Unusable, d.GetsLogouts, sp = unusable[0].Err, unusable[0].GetsLogouts(), unusable[0].logout
	}
	if mdErr != nil && d.Unusable == nil {
		d.Unusable = fmt.Errorf("its metadata does not read: %w", mdErr)
	}
	if sp != nil {
		d.BrowserSLOUntold = insecureBrowserSLO(sp)
	}
	return d, nil
}

// describeSP is the description of an SP from its settings and metadata (nil: unread).
func describeSP(settings config.SAMLServiceProvider, entityID string, md *crewjam.EntityDescriptor) *Description {
	d := &Description{ID: settings.ID, EntityID: entityID, Name: settings.Name, Settings: settings}
	if d.Name == "" {
		d.Name = settings.ID
	}
	if d.Settings.NameIDFormat == "" {
		d.Settings.NameIDFormat = config.SAMLNameIDPersistent
	}
	if md == nil {
		return d
	}
	s := Summarize(md)
	d.Summary = &s
	d.Certificates = certificates(md)
	return d
}

// certificates lists the certificates of an SP's metadata, each once (a certificate listed for
// signing and for encryption is "both").
func certificates(md *crewjam.EntityDescriptor) []CertificateInfo {
	var out []CertificateInfo
	for _, desc := range md.SPSSODescriptors {
		for _, k := range desc.KeyDescriptors {
			use := k.Use
			if use == "" {
				use = "both"
			}
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					out = addCertificate(out, CertificateInfo{Use: use, SHA256: "unreadable", Err: fmt.Errorf("not base64: %w", err)})
					continue
				}
				sum := sha256.Sum256(der)
				ci := CertificateInfo{Use: use, SHA256: hex.EncodeToString(sum[:])}
				if cert, err := x509.ParseCertificate(der); err != nil {
					ci.Err = err
				} else {
					ci.NotAfter, ci.Subject = cert.NotAfter, cert.Subject.String()
				}
				out = addCertificate(out, ci)
			}
		}
	}
	return out
}

// addCertificate adds ci to list, merging its use into the same certificate's listed before.
func addCertificate(list []CertificateInfo, ci CertificateInfo) []CertificateInfo {
	i := slices.IndexFunc(list, func(o CertificateInfo) bool { return o.SHA256 == ci.SHA256 && ci.Err == nil })
	if i < 0 {
		return append(list, ci)
	}
	if list[i].Use != ci.Use {
		list[i].Use = "both"
	}
	return list
}
